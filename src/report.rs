//! What the commands return: one typed report per command, which `render` prints as text or,
//! with `--json`, serializes as the README's JSON document. These types are that contract:
//! field names here are field names there.
//!
//! Times are RFC 3339: UTC in `now`, `due`, `start`, `end`; the configured zone in `*_local`.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms::{BmsError, BmsReading};
use crate::config::Config;
use crate::drain::{Forecast, LoadSource};
use crate::error::Exit;
use crate::ev::rules::{self, Action, Charger, Decision, NextRecord, Record, Site};
use crate::ev::state::Loaded;
use crate::follow::SlotCheck;
use crate::gx::GxSettings;
use crate::gx::System;
use crate::modbus::{Snapshot, Write};
use crate::plan::{Phase, Plan, Slot, Stage, WindowKind};
use crate::registers as reg;
use crate::simulate::Simulation;
use crate::victron::{Line, SlotMap, SlotRegs};
use crate::writes::{Piece, describe_slot};

/// `plan` writes nothing; `apply` writes what differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plan,
    Apply,
}

/// Any report, as the command line prints it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Report {
    Plan(Box<PlanReport>),
    Status(Box<StatusReport>),
    Kick(Box<KickReport>),
    KickDisabled(KickDisabled),
    Simulate(Box<SimulateReport>),
    Release(Box<crate::release::ReleaseReport>),
    Paused(crate::release::Paused),
    Refused(Refused),
}

impl Report {
    pub fn exit(&self) -> Exit {
        match self {
            Report::Plan(r) => r.exit_code,
            Report::Status(r) => r.exit_code,
            Report::Kick(r) => r.exit_code,
            Report::KickDisabled(r) => r.exit_code,
            Report::Simulate(r) => r.exit_code,
            Report::Release(r) => r.exit_code,
            Report::Paused(r) => r.exit_code,
            Report::Refused(r) => r.exit_code,
        }
    }

    /// The one-sentence errors, most important first.
    pub fn errors(&self) -> &[String] {
        match self {
            Report::Plan(r) => &r.errors,
            Report::Status(r) => &r.errors,
            Report::Kick(r) => &r.errors,
            Report::KickDisabled(r) => &r.errors,
            Report::Simulate(r) => &r.errors,
            Report::Release(r) => &r.errors,
            Report::Paused(r) => &r.errors,
            Report::Refused(r) => &r.errors,
        }
    }
}

pub use crate::outcome::{Failures, Head};
use crate::outcome::{rfc3339, rfc3339_opt};

// ---------------------------------------------------------------- the BMS

#[derive(Debug, Clone, Serialize)]
pub struct BatteryDoc {
    pub battery: usize,
    pub state_of_charge: f64,
    pub is_stripping: bool,
    pub due_in_s: i64,
    #[serde(serialize_with = "rfc3339")]
    pub due: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub due_local: DateTime<Tz>,
}

/// The BMS as a run found it: `batteries` is empty when it failed.
#[derive(Debug, Clone, Serialize)]
pub struct BmsPart {
    pub ok: bool,
    pub error: Option<String>,
    pub batteries: Vec<BatteryDoc>,
}

impl BmsPart {
    pub fn new(tz: Tz, now: DateTime<Utc>, bms: &Result<BmsReading, BmsError>) -> BmsPart {
        match bms {
            Ok(r) => BmsPart {
                ok: true,
                error: None,
                batteries: r
                    .batteries
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let due = now + TimeDelta::seconds(b.due_in_s());
                        BatteryDoc {
                            battery: i + 1,
                            state_of_charge: b.state_of_charge,
                            is_stripping: b.is_stripping,
                            due_in_s: b.due_in_s(),
                            due,
                            due_local: due.with_timezone(&tz),
                        }
                    })
                    .collect(),
            },
            Err(e) => BmsPart {
                ok: false,
                error: Some(e.to_string()),
                batteries: Vec::new(),
            },
        }
    }
}

// ---------------------------------------------------------------- plan / apply

/// A dated charge window, as the slot or as a candidate.
#[derive(Debug, Clone, Serialize)]
pub struct SlotDoc {
    pub kind: WindowKind,
    pub window: String,
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub end: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub start_local: DateTime<Tz>,
    #[serde(serialize_with = "rfc3339")]
    pub end_local: DateTime<Tz>,
    /// The window's length on the GX's wall clock (what slot 0 holds is `slot_part`).
    pub duration_s: i64,
    /// The seconds that really elapse (an hour more or less on a daylight-saving night).
    pub elapsed_s: i64,
    pub soc: u8,
}

impl SlotDoc {
    pub fn new(tz: Tz, gx_tz: Tz, s: &Slot) -> SlotDoc {
        SlotDoc {
            kind: s.kind,
            window: s.window.clone(),
            start: s.start,
            end: s.end,
            start_local: s.start.with_timezone(&tz),
            end_local: s.end.with_timezone(&tz),
            duration_s: crate::clock::gx_wall_seconds(gx_tz, s.start, s.end),
            elapsed_s: s.duration_s(),
            soc: s.soc,
        }
    }
}

/// The part of the plan's slot that slot 0 holds now.
#[derive(Debug, Clone, Serialize)]
pub struct SlotPartDoc {
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub end: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub start_local: DateTime<Tz>,
    #[serde(serialize_with = "rfc3339")]
    pub end_local: DateTime<Tz>,
    /// What slot 0's Duration holds.
    pub duration_s: i64,
    /// Whether it is the whole window.
    pub whole: bool,
}

impl SlotPartDoc {
    pub fn new(tz: Tz, p: &Piece) -> SlotPartDoc {
        SlotPartDoc {
            start: p.start,
            end: p.end,
            start_local: p.start.with_timezone(&tz),
            end_local: p.end.with_timezone(&tz),
            duration_s: (p.end - p.start).num_seconds(),
            whole: p.whole,
        }
    }
}

/// Slot 0 as the GX holds it, decoded on the GX's wall clock: where it starts and where the
/// GX will stop it, in local time.
#[derive(Debug, Clone, Serialize)]
pub struct SlotRegisters {
    /// 5424-5430 in the new map's order (Strategy last), whichever map the GX has.
    pub registers: [u16; 7],
    /// RFC 3339 UTC; `null` for an empty slot.
    #[serde(serialize_with = "rfc3339_opt")]
    pub start: Option<DateTime<Utc>>,
    /// The Start register as unix seconds.
    pub start_unix: i64,
    #[serde(serialize_with = "rfc3339_opt")]
    pub start_local: Option<DateTime<Tz>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub end_local: Option<DateTime<Tz>>,
    pub duration_s: u16,
    pub soc: u16,
    pub restrictions: u16,
    pub strategy: u16,
    pub text: String,
}

impl SlotRegisters {
    pub fn new(tz: Tz, gx_tz: Tz, slot: &SlotRegs) -> SlotRegisters {
        let span = slot.span(gx_tz);
        SlotRegisters {
            registers: slot.words(),
            start: span.map(|(s, _)| s),
            start_unix: slot.start,
            start_local: span.map(|(s, _)| s.with_timezone(&tz)),
            end_local: span.map(|(_, e)| e.with_timezone(&tz)),
            duration_s: slot.duration_s,
            soc: slot.soc,
            restrictions: slot.restrictions,
            strategy: slot.strategy,
            text: describe_slot(slot, tz, gx_tz),
        }
    }
}

/// What `apply` decides on, as the GX held it before the run.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsDoc {
    /// Which register map serves slot 0 on this GX.
    pub slot_map: SlotMap,
    pub ess_state: u16,
    pub ess_min_soc: f64,
    pub hub4_mode: u16,
    pub battery_capacity_kwh: f64,
    pub dess_mode: u16,
    pub slot: SlotRegisters,
}

impl SettingsDoc {
    pub fn new(tz: Tz, gx_tz: Tz, s: &GxSettings) -> SettingsDoc {
        SettingsDoc {
            slot_map: s.map,
            ess_state: s.ess_state.0,
            ess_min_soc: s.min_soc_percent(),
            hub4_mode: s.hub4_mode.0,
            battery_capacity_kwh: s.capacity_kwh(),
            dess_mode: s.dess_mode,
            slot: SlotRegisters::new(tz, gx_tz, &s.slot),
        }
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
    pub command: Mode,
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

/// The maintenance drain's forecast (`null` outside the maintenance phase).
#[derive(Debug, Clone, Serialize)]
pub struct DrainDoc {
    pub energy_kwh: f64,
    /// The house load, W (without the EV charger's own power).
    pub load_w: u32,
    pub load_source: LoadSource,
    pub ev_w: u32,
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    /// `null`: never (nothing to drain into).
    #[serde(serialize_with = "rfc3339_opt")]
    pub finish: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub deadline: Option<DateTime<Utc>>,
    pub on_time: bool,
}

impl DrainDoc {
    pub fn new(f: &Forecast) -> DrainDoc {
        DrainDoc {
            energy_kwh: (f.energy_kwh * 100.0).round() / 100.0,
            load_w: f.load_w,
            load_source: f.load_source,
            ev_w: f.ev_w,
            start: f.start,
            finish: f.finish,
            deadline: f.deadline,
            on_time: f.on_time,
        }
    }
}

// ---------------------------------------------------------------- status

/// The GX's live values and settings, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct GxLive {
    /// `v3.70`, or `null` where the GX's Modbus server does not publish it (before
    /// `dbus_modbustcp` v1.0.82).
    pub firmware: Option<String>,
    /// The firmware line whose control code the tool allows for (`unknown` without a version).
    pub firmware_line: Line,
    /// Which register map serves slot 0.
    pub slot_map: SlotMap,
    pub battery_soc: Option<f64>,
    pub battery_power_w: Option<f64>,
    pub ac_loads_w: [Option<f64>; 3],
    pub ess_state: u16,
    pub ess_state_text: &'static str,
    pub ess_min_soc: Option<f64>,
    /// The SoC the GX really stops a discharge at: BatteryLife's own limit, or the minimum.
    pub ess_soc_limit: Option<f64>,
    pub hub4_mode: u16,
    pub hub4_mode_text: &'static str,
    pub dess_mode: u16,
    pub dess_mode_text: &'static str,
    pub dess_active: bool,
    pub dess_error: u16,
    pub dess_error_text: &'static str,
    pub dess_target_soc: Option<f64>,
    pub battery_capacity_kwh: Option<f64>,
    pub slot: SlotRegisters,
    /// Whether the GX follows slot 0 now.
    pub slot_check: SlotCheck,
    /// What keeps maintenance from completing on this GX, with the fix.
    pub warnings: Vec<String>,
}

/// What `status` read from the GX, for [`GxLive::new`].
pub struct GxRead<'a> {
    pub system: &'a System,
    /// 5400-5407.
    pub dess: &'a Snapshot,
    pub settings: &'a GxSettings,
    pub slot_check: SlotCheck,
    pub warnings: Vec<String>,
}

impl GxLive {
    pub fn new(tz: Tz, gx_tz: Tz, read: GxRead) -> GxLive {
        let (snap, dess, s) = (&read.system.snapshot, read.dess, read.settings);
        let word = |r: reg::Register| dess.word(r.address).unwrap_or(0);
        let mode = crate::victron::DessMode::from_raw(s.dess_mode);
        GxLive {
            firmware: read.system.firmware.map(|f| f.text()),
            firmware_line: read.system.firmware.map_or(Line::Unknown, |f| f.line()),
            slot_map: s.map,
            battery_soc: snap.value(reg::BATTERY_SOC),
            battery_power_w: snap.value(reg::BATTERY_POWER),
            ac_loads_w: reg::AC_CONSUMPTION.map(|r| snap.value(r)),
            ess_state: s.ess_state.0,
            ess_state_text: s.ess_state.name(),
            ess_min_soc: Some(s.min_soc_percent()),
            ess_soc_limit: Some(reg::ESS_SOC_LIMIT.physical(i64::from(s.soc_limit_raw))),
            hub4_mode: s.hub4_mode.0,
            hub4_mode_text: s.hub4_mode.name(),
            dess_mode: s.dess_mode,
            dess_mode_text: mode.name(),
            dess_active: word(reg::DESS_ACTIVE) == 1,
            dess_error: word(reg::DESS_ERROR),
            dess_error_text: crate::victron::dess_error_name(word(reg::DESS_ERROR)),
            dess_target_soc: dess.value(reg::DESS_TARGET_SOC),
            battery_capacity_kwh: Some(s.capacity_kwh()),
            slot: SlotRegisters::new(tz, gx_tz, &s.slot),
            slot_check: read.slot_check,
            warnings: read.warnings,
        }
    }
}

/// A part that may have failed: its fields, or only `ok` and `error`.
#[derive(Debug, Clone, Serialize)]
pub struct Part<T> {
    pub ok: bool,
    pub error: Option<String>,
    #[serde(flatten)]
    pub data: Option<T>,
}

impl<T> Part<T> {
    pub fn new<E: ToString>(result: Result<T, &E>) -> Part<T> {
        match result {
            Ok(data) => Part {
                ok: true,
                error: None,
                data: Some(data),
            },
            Err(e) => Part {
                ok: false,
                error: Some(e.to_string()),
                data: None,
            },
        }
    }
}

/// The charger's registers, decoded.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChargerDoc {
    #[serde(flatten)]
    pub registers: Charger,
    pub mode_name: &'static str,
    pub status_name: &'static str,
}

/// The charger, where it was reached, or why it was not read.
#[derive(Debug, Clone, Serialize)]
pub struct ChargerPart {
    pub ok: bool,
    pub error: Option<String>,
    pub at: String,
    #[serde(flatten)]
    pub charger: Option<ChargerDoc>,
}

impl ChargerPart {
    /// `reading` is `None` when the charger was not read because the GX connection failed.
    pub fn new<E: ToString>(at: &str, reading: Option<Result<Charger, &E>>) -> ChargerPart {
        let (charger, error) = match reading {
            Some(Ok(c)) => (
                Some(ChargerDoc {
                    registers: c,
                    mode_name: rules::mode_name(c.mode),
                    status_name: rules::status_name(c.status),
                }),
                None,
            ),
            Some(Err(e)) => (None, Some(e.to_string())),
            None => (None, Some("not read: the GX connection failed".to_string())),
        };
        ChargerPart {
            ok: charger.is_some(),
            error,
            at: at.to_string(),
            charger,
        }
    }
}

/// The charger and the ev-kick record, in `status` when `[ev]` is enabled.
#[derive(Debug, Clone, Serialize)]
pub struct EvStatus {
    #[serde(flatten)]
    pub charger: ChargerPart,
    pub ev_kick: Option<Record>,
    pub ev_kick_problem: Option<String>,
}

impl EvStatus {
    pub fn new(charger: ChargerPart, loaded: &Loaded) -> EvStatus {
        EvStatus {
            charger,
            ev_kick: loaded.record().cloned(),
            ev_kick_problem: match loaded {
                Loaded::Corrupt(p) => Some(p.clone()),
                _ => None,
            },
        }
    }
}

/// `status`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub command: &'static str,
    /// `status --check`: only whether the GX follows slot 0 decides the exit code.
    pub check: bool,
    #[serde(flatten)]
    pub head: Head,
    pub bms: BmsPart,
    pub gx: Part<GxLive>,
    pub drain: Option<DrainDoc>,
    pub ev_charger: Option<EvStatus>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

// ---------------------------------------------------------------- ev-kick

/// `ev-kick` with no `[ev]` section or `enabled = false`.
#[derive(Debug, Serialize)]
pub struct KickDisabled {
    pub command: &'static str,
    pub enabled: bool,
    pub reason: &'static str,
    pub writes: Vec<Write>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

/// The site's loads and battery power.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SiteDoc {
    #[serde(flatten)]
    pub site: Site,
    /// The configured phases, EV included.
    pub loads_w: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StateFileDoc {
    pub path: String,
    pub before: Option<Record>,
    /// Why an unusable file was ignored.
    pub problem: Option<String>,
    pub after: Option<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionDoc {
    pub verdict: &'static str,
    pub action: Action,
    pub reason: String,
    pub kicking: bool,
    pub discharge_active: Option<bool>,
    pub load_without_ev_w: Option<i64>,
}

impl DecisionDoc {
    pub fn new(d: &Decision) -> DecisionDoc {
        DecisionDoc {
            verdict: verdict(d),
            action: d.action,
            reason: d.reason.clone(),
            kicking: d.kicking,
            discharge_active: d.active,
            load_without_ev_w: d.load_w,
        }
    }
}

/// One word for what the run decided.
fn verdict(d: &Decision) -> &'static str {
    match (&d.action, &d.record, d.kicking) {
        (Action::Start, _, _) => "start",
        (Action::Stop { .. }, _, _) => "stop",
        (Action::Nothing, _, true) => "keep charging",
        (Action::Nothing, NextRecord::Set(Record::StoodDown { .. }), _) => "stand down",
        (Action::Nothing, _, false) => "no change",
    }
}

/// `ev-kick`.
#[derive(Debug, Serialize)]
pub struct KickReport {
    pub command: &'static str,
    pub enabled: bool,
    pub dry_run: bool,
    #[serde(flatten)]
    pub head: Head,
    pub bms: BmsPart,
    pub site: Part<SiteDoc>,
    pub charger: ChargerPart,
    pub state_file: StateFileDoc,
    pub decision: Option<DecisionDoc>,
    pub writes: Vec<Write>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

// ---------------------------------------------------------------- simulate

/// Every parameter a simulation used.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDoc {
    /// Days asked for.
    pub days: u32,
    pub step_minutes: i64,
    pub start_soc: f64,
    /// Hours from `from` to the first maintenance due (negative: overdue).
    pub due_in_h: f64,
    pub start_stripping: bool,
    pub battery_capacity_kwh: f64,
    pub charge_w: f64,
    pub discharge_w: f64,
    pub strip_hours: f64,
    pub maintenance_interval_hours: f64,
    pub ess_min_soc: f64,
    pub empty_soc: f64,
    /// A constant load, W, or 24 hourly values.
    pub load_w: serde_json::Value,
    pub solar_kwh_per_day: Option<f64>,
    pub ev_connected: Option<String>,
    /// Local times the rules run (as cron runs `apply`), `HH:MM`.
    pub runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepDoc {
    #[serde(serialize_with = "rfc3339")]
    pub t: DateTime<Utc>,
    pub soc: f64,
    pub phase: &'static str,
    pub slot: Option<SlotDoc>,
    pub battery_w: f64,
    pub grid_w: f64,
    pub ev_w: f64,
    pub peak: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceDoc {
    #[serde(serialize_with = "rfc3339")]
    pub due: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub empty: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub done: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub deadline: Option<DateTime<Utc>>,
    pub on_time: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayDoc {
    pub date: chrono::NaiveDate,
    pub events: Vec<&'static str>,
    pub peak_grid_kwh: f64,
    pub lowest_soc: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub ev_kwh: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TotalsDoc {
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub peak_grid_kwh: f64,
    pub ev_kwh: f64,
}

/// `simulate`. Without a start (a device could not be read) only the errors.
#[derive(Debug, Serialize)]
pub struct SimulateReport {
    pub command: &'static str,
    #[serde(serialize_with = "rfc3339_opt")]
    pub from: Option<DateTime<Utc>>,
    pub model: Option<ModelDoc>,
    pub steps: Vec<StepDoc>,
    pub maintenances: Vec<MaintenanceDoc>,
    /// One entry per local day touched.
    pub days: Vec<DayDoc>,
    pub totals: Option<TotalsDoc>,
    pub findings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl SimulateReport {
    pub fn new(
        config: &Config,
        sim: Option<&Simulation>,
        errors: Vec<String>,
        exit_code: Exit,
    ) -> SimulateReport {
        let tz = config.timezone;
        let gx_tz = config.gx.timezone;
        let Some(sim) = sim else {
            return SimulateReport {
                command: "simulate",
                from: None,
                model: None,
                steps: Vec::new(),
                maintenances: Vec::new(),
                days: Vec::new(),
                totals: None,
                findings: Vec::new(),
                errors,
                exit_code,
            };
        };
        let days: Vec<DayDoc> = sim
            .days
            .iter()
            .map(|d| DayDoc {
                date: d.date,
                events: d.events.clone(),
                peak_grid_kwh: round2(d.peak_grid_kwh),
                lowest_soc: round2(d.lowest_soc),
                grid_import_kwh: round2(d.grid_import_kwh),
                grid_export_kwh: round2(d.grid_export_kwh),
                ev_kwh: round2(d.ev_kwh),
            })
            .collect();
        let sum = |f: fn(&crate::simulate::Day) -> f64| round2(sim.days.iter().map(f).sum());
        SimulateReport {
            command: "simulate",
            from: Some(sim.start.from),
            model: Some(model_doc(config, sim)),
            steps: sim
                .samples
                .iter()
                .map(|s| StepDoc {
                    t: s.t,
                    soc: round2(s.soc),
                    phase: s.phase,
                    slot: s.slot.as_ref().map(|slot| SlotDoc::new(tz, gx_tz, slot)),
                    battery_w: s.battery_w.round(),
                    grid_w: s.grid_w.round(),
                    ev_w: s.ev_w.round(),
                    peak: s.peak,
                })
                .collect(),
            maintenances: sim
                .maintenances
                .iter()
                .map(|m| MaintenanceDoc {
                    due: m.due,
                    empty: m.empty,
                    done: m.done,
                    deadline: m.deadline,
                    on_time: m.on_time,
                })
                .collect(),
            days,
            totals: Some(TotalsDoc {
                grid_import_kwh: sum(|d| d.grid_import_kwh),
                grid_export_kwh: sum(|d| d.grid_export_kwh),
                peak_grid_kwh: sum(|d| d.peak_grid_kwh),
                ev_kwh: sum(|d| d.ev_kwh),
            }),
            findings: sim.findings.clone(),
            errors,
            exit_code,
        }
    }
}

fn model_doc(config: &Config, sim: &Simulation) -> ModelDoc {
    let m = &sim.model;
    let load_w = match (sim.start.load_w, m.load_w) {
        (Some(w), _) => serde_json::json!(w),
        (None, Some(hourly)) => serde_json::json!(hourly),
        (None, None) => serde_json::json!(sim.default_load_w),
    };
    ModelDoc {
        days: sim.start.days,
        step_minutes: crate::simulate::STEP.num_minutes(),
        start_soc: sim.start.soc,
        due_in_h: round2(sim.start.due_in.num_seconds() as f64 / 3600.0),
        start_stripping: sim.start.stripping,
        battery_capacity_kwh: config.schedule.battery_capacity_kwh,
        charge_w: m.charge_w,
        discharge_w: m.discharge_w,
        strip_hours: m.strip_hours,
        maintenance_interval_hours: m.maintenance_interval_hours,
        ess_min_soc: m.ess_min_soc,
        empty_soc: m.empty_soc,
        load_w,
        solar_kwh_per_day: m.solar_kwh_per_day,
        ev_connected: m.ev_connected.map(|(a, b)| format!("{a}-{b}")),
        runs: crate::cron::apply_times(config)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

// ---------------------------------------------------------------- refused

/// A run refused before it touched any device: usage, config, lock or clock.
#[derive(Debug, Serialize)]
pub struct Refused {
    /// The command, when it is known.
    pub command: Option<String>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

impl Refused {
    pub fn new(command: Option<&str>, exit: Exit, error: &impl ToString) -> Refused {
        Refused {
            command: command.map(str::to_string),
            errors: vec![error.to_string()],
            exit_code: exit,
        }
    }
}
