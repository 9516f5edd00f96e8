//! `plan` and `apply`: read the BMS, plan, read the GX, decide the writes, (apply) write and
//! read back, and report it as JSON or text.
//!
//! The order of `apply` is the safety argument: every precondition (config, clock, lock, BMS
//! read, GX reachable and in a schedulable state, Dynamic ESS block readable) is checked
//! before the first write, so a run that exits 2 or 4 has written nothing.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms;
use crate::commands::check_clock;
use crate::commands::timeline::timeline;
use crate::config::Config;
use crate::drain::Readings;
use crate::ev::charger;
use crate::exit_codes::Exit;
use crate::gx::{self, GxError};
use crate::handback::{self, Found};
use crate::handback_file::{self, HandbackFileError};
use crate::modbus::Device;
use crate::output::parts::{
    BmsPart, DrainDoc, SettingsDoc, SlotDoc, SlotPartDoc, bms_text, drain_text, write_text,
};
use crate::output::{CommandName, Failures, Head, Output, long_local, rfc3339_opt};
use crate::plan::{self, Phase, Plan, Stage, short_local};
use crate::registers::Write;
use crate::writes::{self, WritePlan};

/// `plan` writes nothing; `apply` writes what differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plan,
    Apply,
}

impl Mode {
    pub fn command(self) -> CommandName {
        match self {
            Mode::Plan => CommandName::Plan,
            Mode::Apply => CommandName::Apply,
        }
    }
}

/// `plan` and `apply`: read the BMS, plan, read the GX, decide the writes, and (apply) write.
pub fn schedule(
    config: &Config,
    handback_path: &Path,
    mode: Mode,
    host_now: DateTime<Utc>,
    at: Option<DateTime<Utc>>,
) -> PlanReport {
    let now = at.unwrap_or(host_now);
    let mut warnings = clock_warnings(mode, host_now, at);
    let bms = bms::read(&config.bms);
    let plan = match &bms {
        Ok(reading) => plan::plan(config, now, reading),
        Err(e) => plan::safe_plan(config, now, e.short()),
    };
    let GxRead {
        mut device,
        settings,
        readings,
        notes,
    } = read_gx(config, &plan);
    warnings.extend(notes);
    let decision = crate::decide::decide(config, plan, readings.as_ref());
    let (plan, forecast) = (decision.plan, decision.forecast);
    warnings.extend(decision.warnings);
    let mut memory = Memory::load(handback_path, &mut warnings);
    let (gx, write_plan) = decide_writes(config, &plan, settings, &mut memory, &mut warnings);
    let mut failures = Failures::default();
    failures.push_if(bms.as_ref().err());
    failures.push_if(gx.as_ref().err());
    let mut applied = false;
    if let (Mode::Apply, Ok(s), Some(d)) = (mode, &gx, &mut device) {
        applied = write_remembered(d, s, &write_plan.writes, &mut memory, &mut failures);
    }
    if let Some(d) = &device {
        log::debug!("GX {}: {} Modbus requests", d.address, d.requests);
    }
    let (errors, exit_code) = failures.finish();
    let tz = config.timezone;
    let parts = PlanParts::new(tz, config.gx.timezone, &plan);
    warnings.extend(write_plan.warnings);
    PlanReport {
        command: mode.command(),
        head: Head::new(tz, now),
        bms: BmsPart::new(tz, now, &bms),
        stage: parts.stage,
        phase: parts.phase,
        due: parts.due,
        due_local: parts.due_local,
        active: parts.active,
        slot: parts.slot,
        slot_part: writes::slot_regs(config, plan.slot.as_ref(), plan.now)
            .ok()
            .and_then(|(_, piece)| piece)
            .map(|p| SlotPartDoc::new(tz, &p)),
        min_soc: parts.min_soc,
        candidates: parts.candidates,
        reasons: parts.reasons,
        drain: forecast.as_ref().map(DrainDoc::new),
        gx: GxBefore {
            ok: gx.is_ok(),
            error: gx.as_ref().err().map(ToString::to_string),
            before: gx
                .as_ref()
                .ok()
                .map(|s| SettingsDoc::new(tz, config.gx.timezone, s)),
        },
        writes: write_plan.writes,
        warnings,
        applied,
        errors,
        exit_code,
    }
}

/// What `plan` and `apply` warn of about the clock: an `apply --at`, or a host clock that has
/// plainly not been set (`apply` refuses one before it gets here).
fn clock_warnings(mode: Mode, host_now: DateTime<Utc>, at: Option<DateTime<Utc>>) -> Vec<String> {
    let mut warnings = Vec::new();
    if let (Mode::Apply, Some(at)) = (mode, at) {
        warnings.push(format!(
            "apply --at {}: planning as if it were then, but writing the GX now",
            at.to_rfc3339()
        ));
    }
    if let (Mode::Plan, Err(e)) = (mode, check_clock(host_now)) {
        warnings.push(e.to_string());
    }
    warnings
}

/// The writes for `plan` against the GX's settings as read, with the owner's own minimum SoC
/// to put back (an owner's change of it taken as theirs first).
fn decide_writes(
    config: &Config,
    plan: &plan::Plan,
    settings: Result<crate::victron::GxSettings, GxError>,
    memory: &mut Memory,
    warnings: &mut Vec<String>,
) -> (Result<crate::victron::GxSettings, GxError>, WritePlan) {
    match settings {
        Ok(s) => {
            warnings.extend(handback::adopt_owner_change(&mut memory.found, &s));
            let owner = handback::owner_min_soc(&memory.found, &s);
            match writes::plan_writes(config, plan, &s, owner) {
                Ok(w) => (Ok(s), w),
                Err(e) => (Err(e.into()), WritePlan::default()),
            }
        }
        Err(e) => (Err(e), WritePlan::default()),
    }
}

/// The hand-back record as this run found it, and where it lives.
struct Memory<'a> {
    path: &'a Path,
    found: Found,
    /// As loaded, to save only a changed record.
    loaded: Found,
}

impl<'a> Memory<'a> {
    /// The record at `path`; an unusable one is reported and started afresh.
    fn load(path: &'a Path, warnings: &mut Vec<String>) -> Memory<'a> {
        let found = handback_file::load(path).unwrap_or_else(|problem| {
            warnings.push(format!(
                "the hand-back record {} is unusable ({problem}): starting a new one, so what the GX held before this tool's earlier changes cannot be given back",
                path.display()
            ));
            Found::default()
        });
        Memory {
            path,
            loaded: found.clone(),
            found,
        }
    }

    /// Saves the record if it changed.
    fn save(&mut self) -> Result<(), HandbackFileError> {
        if self.found != self.loaded {
            handback_file::save(self.path, &self.found)?;
            self.loaded = self.found.clone();
        }
        Ok(())
    }
}

/// Records what the GX holds for each setting about to change, then writes and reads back.
/// Nothing is written when the record cannot be saved: a change the tool could not give back
/// is one it must not make. True when the GX holds the plan.
fn write_remembered(
    device: &mut Device,
    gx: &crate::victron::GxSettings,
    writes: &[Write],
    memory: &mut Memory,
    failures: &mut Failures,
) -> bool {
    handback::remember(&mut memory.found, gx, writes);
    if let Err(e) = memory.save() {
        failures.push(&e);
        return false;
    }
    if writes.is_empty() {
        return true;
    }
    match gx::write_and_verify(device, writes) {
        Ok(()) => true,
        Err(e) => {
            failures.push(&e);
            false
        }
    }
}

/// What `plan` and `apply` read from the GX; the device stays open for writing.
struct GxRead {
    device: Option<Device>,
    settings: Result<crate::victron::GxSettings, GxError>,
    /// For the drain forecast, in the maintenance phase only.
    readings: Option<Readings>,
    /// What the owner should know about those readings.
    notes: Vec<String>,
}

/// Connects and reads the settings; in the maintenance phase also the battery SoC, the loads
/// and (with `[ev]`) the charger, for the drain forecast.
fn read_gx(config: &Config, plan: &plan::Plan) -> GxRead {
    let mut device = match gx::connect(&config.gx) {
        Ok(d) => d,
        Err(e) => {
            return GxRead {
                device: None,
                settings: Err(e.into()),
                readings: None,
                notes: Vec::new(),
            };
        }
    };
    let settings = gx::read_settings(&mut device);
    let mut notes = Vec::new();
    let wants_forecast = crate::decide::wants_readings(config, plan);
    let readings = match (&settings, wants_forecast) {
        (Ok(_), true) => gx::read_system(&mut device, &gx::DRAIN).ok().map(|system| {
            let snap = system.snapshot;
            let ev = config.ev.as_ref().filter(|ev| ev.enabled);
            let charger = ev.and_then(|ev| match charger::read_beside(config, ev, &mut device) {
                Ok(c) => Some((c.power_w, c.status)),
                Err(e) => {
                    notes.push(format!("the drain forecast leaves the EV out: {e}"));
                    None
                }
            });
            gx::drain_readings(&snap, charger)
        }),
        _ => None,
    };
    GxRead {
        device: Some(device),
        settings,
        readings,
        notes,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GxBefore {
    pub ok: bool,
    pub error: Option<String>,
    pub before: Option<SettingsDoc>,
}

/// `plan` and `apply`.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    pub command: CommandName,
    #[serde(flatten)]
    pub head: Head,
    pub bms: BmsPart,
    pub stage: Stage,
    pub phase: Phase,
    #[serde(serialize_with = "rfc3339_opt")]
    pub due: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub due_local: Option<DateTime<Tz>>,
    pub active: bool,
    pub slot: Option<SlotDoc>,
    /// The part of `slot` that slot 0 holds now: the whole window, or up to a daylight-saving
    /// change or the longest one slot holds (a later run writes the rest).
    pub slot_part: Option<SlotPartDoc>,
    pub min_soc: Option<u8>,
    pub candidates: Vec<SlotDoc>,
    pub reasons: Vec<String>,
    pub drain: Option<DrainDoc>,
    pub gx: GxBefore,
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

/// The plan's own part of a [`PlanReport`].
pub struct PlanParts {
    pub stage: Stage,
    pub phase: Phase,
    pub due: Option<DateTime<Utc>>,
    pub due_local: Option<DateTime<Tz>>,
    pub active: bool,
    pub slot: Option<SlotDoc>,
    pub min_soc: Option<u8>,
    pub candidates: Vec<SlotDoc>,
    pub reasons: Vec<String>,
}

impl PlanParts {
    pub fn new(tz: Tz, gx_tz: Tz, p: &Plan) -> PlanParts {
        PlanParts {
            stage: p.stage,
            phase: p.phase,
            due: p.due,
            due_local: p.due.map(|d| d.with_timezone(&tz)),
            active: p.active,
            slot: p.slot.as_ref().map(|s| SlotDoc::new(tz, gx_tz, s)),
            min_soc: p.min_soc,
            candidates: p
                .candidates
                .iter()
                .map(|s| SlotDoc::new(tz, gx_tz, s))
                .collect(),
            reasons: p.reasons.clone(),
        }
    }
}

pub fn plan_text(out: Output, config: &Config, r: &PlanReport) -> Option<String> {
    if r.command == CommandName::Apply && !out.verbose {
        let mut t = String::new();
        if r.applied {
            for w in &r.writes {
                t += &format!("{}\n", w.summary);
            }
            if !r.bms.ok {
                t += "safe state applied: no charge window until the BMS answers again\n";
            }
        }
        return Some(t);
    }
    Some(full_plan_text(config, r))
}

fn full_plan_text(config: &Config, r: &PlanReport) -> String {
    let tz = config.timezone;
    let now = r.head.now;
    let heading = if r.command == CommandName::Apply {
        "Apply for"
    } else {
        "Plan (dry run) for"
    };
    let mut t = format!("{heading} {} ({})\n", long_local(tz, now), tz.name());
    t += "\nBMS\n";
    t += &bms_text(tz, now, &r.bms, "unusable");
    t += "\nDecision\n";
    for reason in &r.reasons {
        t += &format!("  • {reason}\n");
    }
    if let Some(d) = &r.drain {
        t += &drain_text(tz, d);
    }
    t += &format!(
        "\nTimeline, 48 h from {} (one column per hour)\n",
        short_local(tz, now)
    );
    t += &timeline(
        config,
        now,
        &r.candidates,
        r.slot.as_ref(),
        r.due,
        r.drain.as_ref(),
    );
    t += "\nGX\n";
    match &r.gx.before {
        Some(s) => {
            t += &format!(
                "  now: slot 0 {}; ESS minimum SoC {} %; Dynamic ESS mode {} ({})\n",
                s.slot.text,
                s.ess_min_soc,
                s.dess_mode,
                crate::victron::DessMode::from_raw(s.dess_mode).name()
            );
            t += &writes_text(r);
        }
        None => {
            t += &format!(
                "  not usable: {}\n",
                r.gx.error.as_deref().unwrap_or_default()
            );
        }
    }
    t
}

fn writes_text(r: &PlanReport) -> String {
    if r.writes.is_empty() {
        return "  nothing to change: the GX already holds this plan\n".to_string();
    }
    let verb = if r.applied {
        "written and read back"
    } else if r.command == CommandName::Plan {
        "would be written by `apply`"
    } else {
        "not (all) written"
    };
    let mut t = format!("  register writes ({verb}):\n");
    for w in &r.writes {
        t += &format!("    {}\n      {}\n", write_text(w), w.summary);
    }
    t
}
