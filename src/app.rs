//! The commands: read the devices, decide, write, and return a report. Nothing here prints:
//! `render` does.
//!
//! The order of `apply` is the safety argument: every precondition (config, clock, lock, BMS
//! read, GX reachable and in a schedulable state, Dynamic ESS block readable) is checked
//! before the first write, so a run that exits 2 or 4 has written nothing.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::bms;
use crate::config::{Config, EvConfig};
use crate::drain::{self, Readings};
use crate::error::Exit;
use crate::ev::charger;
use crate::ev::rules::{self, Decision, Inputs, NextRecord, Record};
use crate::ev::state::{self, StateFileError};
use crate::follow;
use crate::gx::{self, GxError, WriteError};
use crate::handback::{self, Found};
use crate::handback_file::{self, HandbackFileError};
use crate::lock;
use crate::modbus::{Device, Write};
use crate::plan;
use crate::report::{
    BmsPart, ChargerPart, DecisionDoc, DrainDoc, EvStatus, Failures, GxBefore, GxLive, Head,
    KickDisabled, KickReport, Mode, Part, PlanParts, PlanReport, Refused, Report, SettingsDoc,
    SimulateReport, SiteDoc, StateFileDoc, StatusReport,
};
use crate::victron::Line;
use crate::writes::{self, WritePlan};

/// The earliest believable clock: a host whose clock says earlier has not synchronised it.
pub const EARLIEST_BELIEVABLE: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// A command, as the command line asked for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// `plan` or `apply`, as if it were `at` (default: now).
    Schedule {
        mode: Mode,
        at: Option<DateTime<Utc>>,
    },
    EvKick {
        dry_run: bool,
        /// Decide as if it were this instant (default: now).
        at: Option<DateTime<Utc>>,
    },
    /// `status`; with `check`, the exit code says whether the GX follows slot 0.
    Status {
        check: bool,
    },
    Simulate(SimulateArgs),
    /// `release`: hand the GX back as this tool found it.
    Release,
}

/// What `simulate` was asked for; a missing SoC or due time is read from the devices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulateArgs {
    pub from: Option<DateTime<Utc>>,
    pub days: u32,
    pub soc: Option<f64>,
    pub due_in_h: Option<f64>,
    pub load_w: Option<f64>,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Schedule {
                mode: Mode::Plan, ..
            } => "plan",
            Command::Schedule {
                mode: Mode::Apply, ..
            } => "apply",
            Command::EvKick { .. } => "ev-kick",
            Command::Status { .. } => "status",
            Command::Simulate(_) => "simulate",
            Command::Release => "release",
        }
    }
}

/// The host clock, refusing one that has plainly not been set.
pub fn check_clock(now: DateTime<Utc>) -> Result<(), GxError> {
    if now.timestamp() < EARLIEST_BELIEVABLE {
        Err(GxError::ClockNotSet {
            now: now.to_rfc3339(),
        })
    } else {
        Ok(())
    }
}

/// Runs one command: the clock check and the lock for the commands that write, then the
/// command itself.
pub fn run(config: &Config, config_path: &Path, command: Command) -> Report {
    let now = crate::clock::now();
    let ev = config.ev.as_ref().filter(|ev| ev.enabled);
    let writes = match command {
        Command::Schedule { mode, .. } => mode == Mode::Apply,
        Command::EvKick { dry_run, .. } => !dry_run && ev.is_some(),
        Command::Status { .. } | Command::Simulate(_) => false,
        Command::Release => true,
    };
    if writes && matches!(command, Command::Schedule { .. } | Command::Release) {
        if let Err(e) = check_clock(now) {
            return Report::Refused(Refused::new(Some(command.name()), Exit::Device, &e));
        }
    }
    let _lock = if writes {
        let path = lock::path_for(config_path);
        match lock::acquire(&path, lock::WAIT, lock::announce_wait) {
            Ok(l) => Some(l),
            Err(e) => {
                return Report::Refused(Refused::new(Some(command.name()), Exit::Internal, &e));
            }
        }
    } else {
        None
    };
    let handback = handback_file::path_for(config_path);
    let pausable = matches!(command, Command::Schedule { .. } | Command::EvKick { .. });
    if !config.schedule.enabled && pausable {
        return match crate::release::while_paused(config, &handback, command.name(), writes, now) {
            Ok(released) => Report::Release(Box::new(released)),
            Err(paused) => Report::Paused(paused),
        };
    }
    match (command, ev) {
        (Command::Schedule { mode, at }, _) => {
            Report::Plan(Box::new(schedule(config, &handback, mode, now, at)))
        }
        (Command::Status { check }, _) => Report::Status(Box::new(status(config, now, check))),
        (Command::Simulate(args), _) => Report::Simulate(Box::new(simulate(config, now, &args))),
        (Command::Release, _) => {
            Report::Release(Box::new(crate::release::release(config, &handback, now)))
        }
        (Command::EvKick { .. }, None) => Report::KickDisabled(kick_disabled(config)),
        (Command::EvKick { dry_run, at }, Some(ev)) => {
            Report::Kick(Box::new(kick(config, ev, at.unwrap_or(now), dry_run)))
        }
    }
}

// ---------------------------------------------------------------- plan / apply

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
    failures.add_if(Exit::Bms, bms.as_ref().err());
    failures.add_if(Exit::Device, gx.as_ref().err());
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
        command: mode,
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
            .map(|p| crate::report::SlotPartDoc::new(tz, &p)),
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
    settings: Result<gx::GxSettings, GxError>,
    memory: &mut Memory,
    warnings: &mut Vec<String>,
) -> (Result<gx::GxSettings, GxError>, WritePlan) {
    match settings {
        Ok(s) => {
            warnings.extend(handback::adopt_owner_change(&mut memory.found, &s));
            let owner = handback::owner_min_soc(&memory.found, &s);
            match writes::plan_writes(config, plan, &s, owner) {
                Ok(w) => (Ok(s), w),
                Err(e) => (Err(e), WritePlan::default()),
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
    gx: &gx::GxSettings,
    writes: &[Write],
    memory: &mut Memory,
    failures: &mut Failures,
) -> bool {
    handback::remember(&mut memory.found, gx, writes);
    if let Err(e) = memory.save() {
        failures.add(Exit::Internal, &e);
        return false;
    }
    if writes.is_empty() {
        return true;
    }
    match gx::write_and_verify(device, writes) {
        Ok(()) => true,
        Err(e) => {
            failures.add(e.exit(), &e);
            false
        }
    }
}

/// What `plan` and `apply` read from the GX; the device stays open for writing.
struct GxRead {
    device: Option<Device>,
    settings: Result<gx::GxSettings, GxError>,
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

// ---------------------------------------------------------------- status

/// `status`: read both devices (and the charger with `[ev]`); a failing part does not hide
/// the others. With `check`, only the GX decides the exit code: 4 when it cannot be read or
/// does not follow a slot in force.
pub fn status(config: &Config, now: DateTime<Utc>, check: bool) -> StatusReport {
    let tz = config.timezone;
    let bms = bms::read(&config.bms);
    let (gx, device) = match gx::connect(&config.gx) {
        Ok(mut d) => (read_status_gx(&mut d), Some(d)),
        Err(e) => (Err(GxError::from(e)), None),
    };
    let mut failures = Failures::default();
    failures.add_if(Exit::Device, gx.as_ref().err());
    let live = gx.as_ref().map(|(system, dess, settings)| {
        let slot_check = follow::check(
            config.gx.timezone,
            now,
            &settings.slot,
            gx::dess_state(settings.dess_mode, dess),
            system.firmware.map_or(Line::Unknown, |f| f.line()),
        );
        let warnings: Vec<String> = writes::battery_life_warning(settings).into_iter().collect();
        if check {
            if slot_check.failed() {
                failures.add(Exit::Device, &slot_check.message);
            }
            for w in &warnings {
                failures.add(Exit::Device, w);
            }
        }
        GxLive::new(
            tz,
            config.gx.timezone,
            crate::report::GxRead {
                system,
                dess,
                settings,
                slot_check,
                warnings,
            },
        )
    });
    if !check {
        failures.add_if(Exit::Bms, bms.as_ref().err());
    }
    let ev_charger = config.ev.as_ref().filter(|ev| ev.enabled).map(|ev| {
        let reached = charger::reach(config, ev, device);
        if let (false, Some(Err(e))) = (check, &reached.reading) {
            failures.add(Exit::Device, e);
        }
        let part = ChargerPart::new(
            &reached.at,
            reached.reading.as_ref().map(|r| r.as_ref().copied()),
        );
        EvStatus::new(part, &state::load(&ev.state_file))
    });
    let system = gx.as_ref().ok().map(|(system, _, _)| &system.snapshot);
    let forecast = status_forecast(config, now, &bms, system, ev_charger.as_ref());
    let (errors, exit_code) = failures.finish();
    StatusReport {
        command: "status",
        check,
        head: Head::new(tz, now),
        bms: BmsPart::new(tz, now, &bms),
        gx: Part::new(live),
        drain: forecast.as_ref().map(DrainDoc::new),
        ev_charger,
        errors,
        exit_code,
    }
}

/// Everything `status` reads from the GX: the system values (with the firmware version), the
/// Dynamic ESS live block, and the settings on the GX's map.
fn read_status_gx(
    device: &mut Device,
) -> Result<(gx::System, crate::modbus::Snapshot, gx::GxSettings), GxError> {
    let system = gx::read_system(device, &gx::LIVE[..5])?;
    let dess = gx::read(device, &gx::LIVE[5..])?;
    let settings = gx::read_settings(device)?;
    Ok((system, dess, settings))
}

/// The drain forecast from what `status` read: the rules' stage from the BMS, the battery and
/// the loads from the GX, the charger when `[ev]` is enabled.
fn status_forecast(
    config: &Config,
    now: DateTime<Utc>,
    bms: &Result<bms::BmsReading, bms::BmsError>,
    snap: Option<&crate::modbus::Snapshot>,
    ev: Option<&EvStatus>,
) -> Option<drain::Forecast> {
    let plan = plan::plan(config, now, bms.as_ref().ok()?);
    let charger = ev
        .and_then(|e| e.charger.charger)
        .map(|c| (c.registers.power_w, c.registers.status));
    let readings = gx::drain_readings(snap?, charger);
    crate::decide::decide(config, plan, Some(&readings)).forecast
}

// ---------------------------------------------------------------- simulate

/// `simulate`: the start from the flags, or from one read of the BMS (the maintenance timer)
/// and the GX (the SoC) for what they leave out; then the model, writing nothing.
pub fn simulate(config: &Config, now: DateTime<Utc>, args: &SimulateArgs) -> SimulateReport {
    let from = args.from.unwrap_or(now);
    let mut failures = Failures::default();
    let (due_in, stripping) = match args.due_in_h {
        Some(h) => (Some(chrono::TimeDelta::seconds((h * 3600.0) as i64)), false),
        None => match bms::read(&config.bms) {
            Ok(r) => (Some(r.due(now) - now), r.any_stripping()),
            Err(e) => {
                failures.add(Exit::Bms, &e);
                (None, false)
            }
        },
    };
    let soc = match args.soc {
        Some(s) => Some(s),
        None => match gx::connect(&config.gx)
            .map_err(GxError::from)
            .and_then(|mut d| gx::read_system(&mut d, &gx::DRAIN))
        {
            Ok(system) => system.snapshot.value(crate::registers::BATTERY_SOC),
            Err(e) => {
                failures.add(Exit::Device, &e);
                None
            }
        },
    };
    let simulation = match (soc, due_in) {
        (Some(soc), Some(due_in)) => Some(crate::simulate::run(
            config,
            &crate::simulate::Start {
                from,
                days: args.days,
                soc,
                due_in,
                stripping,
                load_w: args.load_w,
            },
        )),
        _ => None,
    };
    let (errors, exit_code) = failures.finish();
    SimulateReport::new(config, simulation.as_ref(), errors, exit_code)
}

// ---------------------------------------------------------------- ev-kick

fn kick_disabled(config: &Config) -> KickDisabled {
    KickDisabled {
        command: "ev-kick",
        enabled: false,
        reason: match &config.ev {
            None => "no [ev] section in the config",
            Some(_) => "[ev] enabled = false",
        },
        writes: Vec::new(),
        applied: false,
        errors: Vec::new(),
        exit_code: Exit::Ok,
    }
}

/// What one `ev-kick` run did to the charger and the state file.
struct Done {
    applied: bool,
    write_error: Option<WriteError>,
    state_error: Option<StateFileError>,
    /// The record the state file holds after the run.
    after: Option<Record>,
}

/// `ev-kick`: read, decide once, act at most once.
pub fn kick(config: &Config, ev: &EvConfig, now: DateTime<Utc>, dry_run: bool) -> KickReport {
    let tz = config.timezone;
    let before = state::load(&ev.state_file);
    let bms = bms::read(&config.bms);
    let map = charger::map_for(ev.via);
    let (site, gx_device) = match gx::connect(&config.gx) {
        Ok(mut d) => (charger::read_site(&mut d), Some(d)),
        Err(e) => (Err(GxError::from(e)), None),
    };
    let mut reached = charger::reach(config, ev, gx_device);

    let mut decision: Option<Decision> = None;
    let mut writes: Vec<Write> = Vec::new();
    let mut done = Done {
        applied: false,
        write_error: None,
        state_error: None,
        after: before.record().cloned(),
    };
    if let Some(Ok(charger)) = reached.reading {
        let d = rules::decide(&Inputs {
            config: ev,
            timezone: tz,
            now,
            bms: bms.as_ref().ok(),
            site: site.as_ref().ok().copied(),
            charger,
            record: before.record(),
        });
        writes = rules::writes(&d.action, ev, &map, &charger);
        done.after = match &d.record {
            NextRecord::Keep => before.record().cloned(),
            NextRecord::Set(r) => Some(r.clone()),
            NextRecord::Clear => None,
        };
        if let (false, Some(device)) = (dry_run, &mut reached.device) {
            carry_out(
                &mut done,
                &d,
                &writes,
                ev,
                before.record(),
                device,
                &charger,
            );
        }
        decision = Some(d);
    }
    if let Some(d) = &reached.device {
        log::debug!("{}: {} Modbus requests", reached.at, d.requests);
    }

    let (errors, exit_code) = kick_failures(&bms, &site, &reached, &done).finish();
    KickReport {
        command: "ev-kick",
        enabled: true,
        dry_run,
        head: Head::new(tz, now),
        bms: BmsPart::new(tz, now, &bms),
        site: Part::new(site.as_ref().map(|s| SiteDoc {
            site: *s,
            loads_w: s.loads_w(&ev.phases),
        })),
        charger: ChargerPart::new(
            &reached.at,
            reached.reading.as_ref().map(|r| r.as_ref().copied()),
        ),
        state_file: StateFileDoc {
            path: ev.state_file.display().to_string(),
            before: before.record().cloned(),
            problem: before.problem().map(str::to_string),
            after: done.after,
        },
        decision: decision.as_ref().map(DecisionDoc::new),
        writes,
        applied: done.applied,
        errors,
        exit_code,
    }
}

/// What went wrong in one `ev-kick` run, each with its exit code.
fn kick_failures(
    bms: &Result<bms::BmsReading, bms::BmsError>,
    site: &Result<rules::Site, GxError>,
    reached: &charger::Reached,
    done: &Done,
) -> Failures {
    let mut failures = Failures::default();
    failures.add_if(Exit::Bms, bms.as_ref().err());
    failures.add_if(Exit::Device, site.as_ref().err());
    // Not read at all only when the GX connection it shares failed: that error is above.
    if let Some(Err(e)) = &reached.reading {
        failures.add(Exit::Device, e);
    }
    if let Some(e) = &done.write_error {
        failures.add(e.exit(), e);
    }
    failures.add_if(Exit::Internal, done.state_error.as_ref());
    failures
}

/// Writes the charger and the state file in the order that keeps them consistent if the run
/// dies half-way: a kick is recorded before the charger is started (so a later run can always
/// stop what this one started), and forgotten only after the charger is stopped. A start that
/// did not read back is undone in the same run; if even that fails, the record stays, so the
/// next run stops the charge.
fn carry_out(
    done: &mut Done,
    decision: &Decision,
    writes: &[Write],
    ev: &EvConfig,
    before: Option<&Record>,
    device: &mut Device,
    found: &rules::Charger,
) {
    let path = ev.state_file.as_path();
    let starting = matches!(decision.record, NextRecord::Set(Record::Kicking { .. }));
    if let (true, NextRecord::Set(r)) = (starting, &decision.record) {
        if let Err(e) = state::save(path, r) {
            done.state_error = Some(e);
            done.after = before.cloned();
            return;
        }
    }
    if !writes.is_empty() {
        if let Err(e) = gx::write_and_verify(device, writes) {
            done.write_error = Some(e);
            if !starting {
                // A failed stop keeps the record, so the next run tries again.
                done.after = before.cloned();
            } else if undo_start(ev, device, found) {
                if state::clear(path).is_ok() {
                    done.after = None;
                }
            } else {
                // Neither the start nor its undo stuck: the next run puts the charger back.
                let unsettled = Record::Unsettled {
                    since: decision_time(decision, before),
                    previous_mode: found.mode,
                    previous_current_a: found.set_current_a,
                    previous_start_stop: Some(found.start_stop),
                };
                match state::save(path, &unsettled) {
                    Ok(()) => done.after = Some(unsettled),
                    Err(e) => done.state_error = Some(e),
                }
            }
            return;
        }
        done.applied = true;
    }
    let result = match &decision.record {
        NextRecord::Keep => Ok(()),
        NextRecord::Set(_) if starting => Ok(()),
        NextRecord::Set(r) => state::save(path, r),
        NextRecord::Clear => state::clear(path),
    };
    if let Err(e) = result {
        done.state_error = Some(e);
    }
}

/// When the kick this run recorded started.
fn decision_time(decision: &Decision, before: Option<&Record>) -> chrono::DateTime<chrono::Utc> {
    match (&decision.record, before) {
        (NextRecord::Set(Record::Kicking { started_at, .. }), _) => *started_at,
        (_, Some(Record::Kicking { started_at, .. })) => *started_at,
        _ => crate::clock::now(),
    }
}

/// Puts the charger back as it was `found` before a start that did not read back (whatever
/// part of it landed): stop, its mode and current, and start again if it was started. True
/// when all of that read back.
fn undo_start(ev: &EvConfig, device: &mut Device, found: &rules::Charger) -> bool {
    let map = charger::map_for(ev.via);
    // Compared with a charger that holds none of the old values, so every one is written.
    let now = charger::read_charger(device, &map).unwrap_or(rules::Charger {
        mode: u16::MAX,
        set_current_a: u16::MAX,
        ..*found
    });
    let undo = rules::writes(
        &rules::Action::Stop {
            mode: found.mode,
            current_a: found.set_current_a,
            restart: found.start_stop == 1,
        },
        ev,
        &map,
        &now,
    );
    match gx::write_and_verify(device, &undo) {
        Ok(()) => true,
        Err(e) => {
            log::warn!("could not undo the EV charger start: {e}");
            false
        }
    }
}
