//! Every command's `--json` document read back into types of the test's own (the README's
//! "JSON output"): the real binary against the simulators, stdout parsed into [`Report`], whose
//! structs reject a field they do not know. Parsed, the document is written out again and must
//! equal what the binary printed, so a field missing from the output (or one the types would
//! drop) fails too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::testenv::{self, ConfigText, DAY, Run, Site, TempDir};

// ---------------------------------------------------------------- the documents

/// One `--json` document: `report` names its shape.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// `plan` and `apply`.
    Plan(Box<Plan>),
    Status(Box<Status>),
    EvKick(Box<EvKick>),
    EvKickDisabled(EvKickDisabled),
    Simulate(Box<Simulate>),
    Release(Release),
    Paused(Paused),
    Refused(Refused),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    Plan,
    Apply,
    Status,
    EvKick,
    Simulate,
    Release,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub command: Command,
    pub now: String,
    pub now_local: String,
    pub timezone: String,
    pub bms: Bms,
    pub stage: Stage,
    pub phase: Phase,
    pub due: Option<String>,
    pub due_local: Option<String>,
    pub active: bool,
    pub slot: Option<Slot>,
    pub slot_part: Option<SlotPart>,
    pub min_soc: Option<u8>,
    pub candidates: Vec<Slot>,
    pub reasons: Vec<String>,
    pub drain: Option<Drain>,
    pub gx: GxBefore,
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub command: Command,
    pub check: bool,
    pub now: String,
    pub now_local: String,
    pub timezone: String,
    pub bms: Bms,
    pub gx: Part<GxLive>,
    pub drain: Option<Drain>,
    pub ev_charger: Option<EvCharger>,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvKick {
    pub command: Command,
    pub enabled: bool,
    pub dry_run: bool,
    pub now: String,
    pub now_local: String,
    pub timezone: String,
    pub bms: Bms,
    pub site: Part<SiteLoads>,
    pub charger: ChargerPart,
    pub state_file: StateFile,
    pub decision: Option<Decision>,
    pub writes: Vec<Write>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvKickDisabled {
    pub command: Command,
    pub enabled: bool,
    pub reason: String,
    pub writes: Vec<Write>,
    pub applied: bool,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    pub command: Command,
    pub from: Option<String>,
    pub model: Option<Model>,
    pub steps: Vec<Step>,
    pub maintenances: Vec<Maintenance>,
    pub days: Vec<Day>,
    pub totals: Option<Totals>,
    pub findings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub command: Command,
    pub now: String,
    pub now_local: String,
    pub timezone: String,
    pub restored: Vec<Restored>,
    pub ev: Option<String>,
    pub writes: Vec<Write>,
    pub released: bool,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paused {
    pub command: Command,
    pub paused: bool,
    pub reason: String,
    pub writes: Vec<Write>,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    /// `null` when the command line itself could not be parsed.
    pub command: Option<Command>,
    pub errors: Vec<String>,
    pub exit_code: u8,
}

// ---------------------------------------------------------------- their parts

/// A part that may have failed: its fields, or only `ok` and `error`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Part<T> {
    Read(T),
    Failed(Failed),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    pub ok: bool,
    pub error: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bms {
    pub ok: bool,
    pub error: Option<String>,
    pub batteries: Vec<Battery>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    pub battery: usize,
    pub state_of_charge: f64,
    pub is_stripping: bool,
    pub due_in_s: i64,
    pub due: String,
    pub due_local: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Normal,
    Approaching,
    Due,
    Active,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Normal,
    Maintenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Normal,
    Maintenance,
    AfterMaintenance,
    Drain,
}

/// A dated charge window: the plan's slot, a candidate, or a simulated hour's slot.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub kind: WindowKind,
    pub window: String,
    pub start: String,
    pub end: String,
    pub start_local: String,
    pub end_local: String,
    pub duration_s: i64,
    pub elapsed_s: i64,
    pub soc: u8,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotPart {
    pub start: String,
    pub end: String,
    pub start_local: String,
    pub end_local: String,
    pub duration_s: i64,
    pub whole: bool,
}

/// Slot 0 as the GX holds it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRegisters {
    pub registers: [u16; 7],
    pub start: Option<String>,
    pub start_unix: i64,
    pub start_local: Option<String>,
    pub end_local: Option<String>,
    pub duration_s: u16,
    pub soc: u16,
    pub restrictions: u16,
    pub strategy: u16,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotMap {
    Old,
    New,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GxBefore {
    pub ok: bool,
    pub error: Option<String>,
    pub before: Option<Settings>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub slot_map: SlotMap,
    pub ess_state: u16,
    pub ess_min_soc: f64,
    pub hub4_mode: u16,
    pub battery_capacity_kwh: f64,
    pub dess_mode: u16,
    pub slot: SlotRegisters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadSource {
    Gx,
    Config,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drain {
    pub energy_kwh: f64,
    pub load_w: u32,
    pub load_source: LoadSource,
    pub ev_w: u32,
    pub start: String,
    pub finish: Option<String>,
    pub deadline: Option<String>,
    pub on_time: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Write {
    pub function: u8,
    pub address: u16,
    pub values: Vec<u16>,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirmwareLine {
    TooOld,
    V350,
    V360,
    V370,
    V380,
    Unknown,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GxLive {
    pub ok: bool,
    pub error: Option<String>,
    pub firmware: Option<String>,
    pub firmware_line: FirmwareLine,
    pub slot_map: SlotMap,
    pub battery_soc: Option<f64>,
    pub battery_power_w: Option<f64>,
    pub ac_loads_w: [Option<f64>; 3],
    pub ess_state: u16,
    pub ess_state_text: String,
    pub ess_min_soc: Option<f64>,
    pub ess_soc_limit: Option<f64>,
    pub hub4_mode: u16,
    pub hub4_mode_text: String,
    pub dess_mode: u16,
    pub dess_mode_text: String,
    pub dess_active: bool,
    pub dess_error: u16,
    pub dess_error_text: String,
    pub dess_target_soc: Option<f64>,
    pub battery_capacity_kwh: Option<f64>,
    pub slot: SlotRegisters,
    pub slot_check: SlotCheck,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotCheck {
    pub in_force: bool,
    pub follows: Option<bool>,
    pub message: String,
}

/// The charger's registers as read, decoded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charger {
    pub ok: bool,
    pub error: Option<String>,
    pub at: String,
    pub mode: u16,
    pub start_stop: u16,
    pub status: u16,
    pub set_current_a: u16,
    pub max_current_a: u16,
    pub power_w: u16,
    pub mode_name: String,
    pub status_name: String,
}

/// A charger that could not be read: where it was asked, and why not.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargerFailed {
    pub ok: bool,
    pub error: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChargerPart {
    Read(Charger),
    Failed(ChargerFailed),
}

/// `status`'s charger: the charger's fields and the ev-kick record in one object. Serde cannot
/// deny unknown fields beside a flattened part, so here [`read`]'s round trip is what catches
/// a field neither side knows.
#[derive(Debug, Serialize, Deserialize)]
pub struct EvCharger {
    #[serde(flatten)]
    pub charger: ChargerPart,
    pub ev_kick: Option<Record>,
    pub ev_kick_problem: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteLoads {
    pub ok: bool,
    pub error: Option<String>,
    pub phases_w: [u16; 3],
    pub battery_power_w: i16,
    pub loads_w: i64,
}

/// What the ev-kick state file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    Kicking {
        started_at: String,
        previous_mode: u16,
        previous_current_a: u16,
        current_a: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_start_stop: Option<u16>,
    },
    Unsettled {
        since: String,
        previous_mode: u16,
        previous_current_a: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_start_stop: Option<u16>,
    },
    StoodDown {
        since: String,
        reason: String,
    },
    BackedOff {
        since: String,
        reason: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub path: String,
    pub before: Option<Record>,
    pub problem: Option<String>,
    pub after: Option<Record>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "start")]
    Start,
    #[serde(rename = "stop")]
    Stop,
    #[serde(rename = "keep charging")]
    KeepCharging,
    #[serde(rename = "stand down")]
    StandDown,
    #[serde(rename = "no change")]
    NoChange,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Nothing,
    Start,
    Stop {
        mode: u16,
        current_a: u16,
        restart: bool,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub verdict: Verdict,
    pub action: Action,
    pub reason: String,
    pub kicking: bool,
    pub discharge_active: Option<bool>,
    pub load_without_ev_w: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restored {
    pub setting: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub days: u32,
    pub step_minutes: i64,
    pub start_soc: f64,
    pub due_in_h: f64,
    pub start_stripping: bool,
    pub battery_capacity_kwh: f64,
    pub charge_w: f64,
    pub discharge_w: f64,
    pub strip_hours: f64,
    pub maintenance_interval_hours: f64,
    pub ess_min_soc: f64,
    pub empty_soc: f64,
    pub load_w: Load,
    pub solar_kwh_per_day: Option<f64>,
    pub ev_connected: Option<String>,
    pub runs: Vec<String>,
}

/// One house load, W, or 24 hourly loads from 00:00.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Load {
    Constant(f64),
    Hourly([f64; 24]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimPhase {
    Normal,
    Draining,
    Stripping,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub t: String,
    pub soc: f64,
    pub phase: SimPhase,
    pub slot: Option<Slot>,
    pub battery_w: f64,
    pub grid_w: f64,
    pub ev_w: f64,
    pub peak: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    pub due: String,
    pub empty: Option<String>,
    pub done: Option<String>,
    pub deadline: Option<String>,
    pub on_time: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Day {
    pub date: String,
    pub events: Vec<String>,
    pub peak_grid_kwh: f64,
    pub lowest_soc: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub ev_kwh: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub peak_grid_kwh: f64,
    pub ev_kwh: f64,
}

// ---------------------------------------------------------------- reading them

/// `run`'s stdout as one document. Fails on a field the types do not know, and, by writing
/// the parsed document out again, on one the output lacks (a `null` that was left out).
#[track_caller]
pub fn read(run: &Run) -> Report {
    let printed: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {run:?}"));
    let report: Report = serde_json::from_value(printed.clone())
        .unwrap_or_else(|e| panic!("the document does not read back ({e}):\n{printed:#}"));
    let again = serde_json::to_value(&report).unwrap();
    let mut differences = Vec::new();
    differ("", &printed, &again, &mut differences);
    assert!(
        differences.is_empty(),
        "the document read back differs from what was printed (printed → read back):\n{}",
        differences.join("\n")
    );
    report
}

/// Where `b` differs from `a`, one line per JSON path.
fn differ(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (x.get(key), y.get(key));
                match (va, vb) {
                    (Some(va), Some(vb)) => differ(&format!("{path}.{key}"), va, vb, out),
                    _ => out.push(format!("{path}.{key}: {va:?} → {vb:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differ(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} → {b}")),
        _ => {}
    }
}

#[track_caller]
fn plan(run: &Run) -> Plan {
    match read(run) {
        Report::Plan(p) => *p,
        other => panic!("expected a plan document: {other:?}"),
    }
}

#[track_caller]
fn status(run: &Run) -> Status {
    match read(run) {
        Report::Status(s) => *s,
        other => panic!("expected a status document: {other:?}"),
    }
}

#[track_caller]
fn ev_kick(run: &Run) -> EvKick {
    match read(run) {
        Report::EvKick(k) => *k,
        other => panic!("expected an ev_kick document: {other:?}"),
    }
}

// ---------------------------------------------------------------- the tests

#[test]
fn plan_and_apply() {
    let site = Site::new(20 * 3600, false);
    let at = "2026-11-24T07:00:00+11:00";
    let p = plan(&site.run(&["plan", "--json", "--at", at]));
    assert_eq!(p.command, Command::Plan);
    assert_eq!((p.stage, p.phase), (Stage::Approaching, Phase::Maintenance));
    assert_eq!(p.timezone, "Australia/Hobart");
    assert_eq!(p.due_local.as_deref(), Some("2026-11-25T03:00:00+11:00"));
    let slot = p.slot.as_ref().expect("a slot");
    assert_eq!(
        (slot.kind, slot.window.as_str(), slot.soc),
        (WindowKind::Maintenance, "schedule.maintenance[0]", 50)
    );
    assert_eq!(slot.start_local, "2026-11-24T13:00:00+11:00");
    assert!(p.slot_part.as_ref().is_some_and(|s| s.whole));
    assert_eq!(p.min_soc, Some(0));
    let before = p.gx.before.as_ref().expect("the GX was read");
    assert_eq!(before.slot.start, None, "an empty slot 0");
    assert!(
        p.writes
            .iter()
            .any(|w| (w.function, w.address, w.values.len()) == (16, 5424, 7))
    );
    assert_eq!((p.applied, p.exit_code), (false, 0));
    assert_eq!(site.gx.state().write_requests, 0);

    let a = plan(&site.run(&["apply", "--json", "--at", at]));
    assert_eq!(a.command, Command::Apply);
    assert_eq!((a.applied, a.exit_code), (true, 0));
    assert_eq!(a.writes.len(), p.writes.len());
}

#[test]
fn plan_with_the_bms_down() {
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = testenv::bms::Mode::Status(404);
    let p = plan(&site.run(&["plan", "--json", "--at", "2026-11-24T07:00:00+11:00"]));
    assert_eq!(p.stage, Stage::Unknown);
    assert!(!p.bms.ok && p.bms.batteries.is_empty());
    assert!(p.bms.error.as_deref().is_some_and(|e| e.contains("404")));
    assert_eq!((p.slot.is_none(), p.exit_code), (true, 3));
}

#[test]
fn status_and_status_check() {
    let site = Site::new(2 * DAY, false);
    testenv::hold_slot(&site, -3600, 7200, 80);
    let s = status(&site.run(&["status", "--json"]));
    assert_eq!(
        (s.command, s.check, s.exit_code),
        (Command::Status, false, 0)
    );
    assert_eq!(s.bms.batteries[0].state_of_charge, 70.0);
    let Part::Read(gx) = &s.gx else {
        panic!("the GX was read: {:?}", s.gx)
    };
    assert_eq!(gx.ess_min_soc, Some(10.0));
    assert_eq!(gx.slot.soc, 80);
    assert!(
        gx.slot
            .start
            .as_deref()
            .is_some_and(|t| t.ends_with("+00:00"))
    );
    assert!(s.ev_charger.is_none(), "no [ev]");

    let c = status(&site.run(&["status", "--check", "--json"]));
    assert!(c.check);
    let Part::Read(gx) = &c.gx else {
        panic!("the GX was read: {:?}", c.gx)
    };
    assert_eq!(
        (gx.slot_check.in_force, gx.slot_check.follows),
        (true, Some(true))
    );
    assert_eq!(gx.dess_target_soc, Some(80.0));
    assert_eq!(c.exit_code, 0);

    // The GX gone: only `ok` and `error`, exit 4.
    let port = testenv::closed_port();
    let gone = site.run(&["--gx", &format!("127.0.0.1:{port}"), "status", "--json"]);
    let s = status(&gone);
    assert!(
        matches!(&s.gx, Part::Failed(f) if !f.ok && f.error.contains("refused the connection")),
        "{:?}",
        s.gx
    );
    assert_eq!(s.exit_code, 4);
}

#[test]
fn ev_kick_enabled_and_in_status() {
    let site = Site::builder().kicking().start();
    let k = ev_kick(&site.run(&["ev-kick", "--json"]));
    assert_eq!(k.command, Command::EvKick);
    assert!(k.enabled && !k.dry_run);
    let decision = k.decision.as_ref().expect("a decision");
    assert_eq!(
        (decision.verdict, &decision.action),
        (Verdict::Start, &Action::Start)
    );
    assert_eq!(decision.load_without_ev_w, Some(350));
    assert!(matches!(&k.charger, ChargerPart::Read(c) if c.mode_name == "auto"));
    assert!(matches!(&k.site, Part::Read(s) if s.battery_power_w == -2500));
    assert!(k.state_file.before.is_none());
    assert!(matches!(
        k.state_file.after,
        Some(Record::Kicking { current_a: 6, .. })
    ));
    assert_eq!((k.writes.len(), k.applied, k.exit_code), (3, true, 0));

    let s = status(&site.run(&["status", "--json"]));
    let ev = s.ev_charger.expect("[ev] is enabled");
    assert!(matches!(&ev.charger, ChargerPart::Read(c) if c.status_name == "charging"));
    assert!(matches!(ev.ev_kick, Some(Record::Kicking { .. })));
    assert_eq!(ev.ev_kick_problem, None);
}

#[test]
fn ev_kick_disabled() {
    let site = Site::new(2 * DAY, false);
    let Report::EvKickDisabled(d) = read(&site.run(&["ev-kick", "--json"])) else {
        panic!("expected an ev_kick_disabled document")
    };
    assert_eq!((d.command, d.enabled), (Command::EvKick, false));
    assert!(d.reason.contains("[ev]"), "{}", d.reason);
    assert!(d.writes.is_empty() && !d.applied);
    assert_eq!(d.exit_code, 0);
}

#[test]
fn simulate_offline() {
    // --soc and --due-in: no device is read, so the addresses need not answer.
    let dir = TempDir::new("json-simulate");
    let config = dir.0.join("config.toml");
    ConfigText {
        schedule: "reserve_soc = 30".into(),
        ..ConfigText::new("http://127.0.0.1:1", "127.0.0.1", testenv::closed_port())
    }
    .write(&config);
    let r = testenv::run_bin(
        &[
            "--config",
            &config.display().to_string(),
            "simulate",
            "--from",
            "2026-11-23T07:00:00+11:00",
            "--days",
            "2",
            "--soc",
            "80",
            "--due-in",
            "30",
            "--json",
        ],
        &[],
    );
    let Report::Simulate(s) = read(&r) else {
        panic!("expected a simulate document")
    };
    assert_eq!(s.command, Command::Simulate);
    assert_eq!(s.from.as_deref(), Some("2026-11-22T20:00:00+00:00"));
    let model = s.model.as_ref().expect("a model");
    assert_eq!((model.days, model.start_soc), (2, 80.0));
    assert_eq!(model.load_w, Load::Constant(400.0));
    assert_eq!(s.steps.len(), 2 * 24);
    assert_eq!(s.days.len(), 3, "Mon 07:00 to Wed 07:00");
    assert_eq!(s.maintenances[0].due, "2026-11-24T02:00:00+00:00");
    assert!(s.totals.is_some());
    assert_eq!(s.exit_code, 0);
}

#[test]
fn release_after_apply() {
    let site = Site::builder().due_in(3600).schedule("").start();
    let r = site.run(&["apply", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let Report::Release(rel) = read(&site.run(&["release", "--json"])) else {
        panic!("expected a release document")
    };
    assert_eq!(rel.command, Command::Release);
    assert!(rel.restored.iter().any(|x| x.to == "10 %"), "{rel:?}");
    assert!(rel.released && rel.ev.is_none());
    assert!(!rel.writes.is_empty());
    assert_eq!(rel.exit_code, 0);
}

#[test]
fn a_paused_run() {
    let site = Site::builder().schedule("enabled = false").start();
    let Report::Paused(p) = read(&site.run(&["plan", "--json"])) else {
        panic!("expected a paused document")
    };
    assert_eq!((p.command, p.paused), (Command::Plan, true));
    assert!(p.reason.contains("nothing read, nothing written"), "{p:?}");
    assert!(p.writes.is_empty() && p.errors.is_empty());
    assert_eq!(p.exit_code, 0);
}

#[test]
fn a_refused_run() {
    let site = Site::builder().schedule("reserve_soc = 130").start();
    let Report::Refused(r) = read(&site.run(&["plan", "--json"])) else {
        panic!("expected a refused document")
    };
    assert_eq!((r.command, r.exit_code), (Some(Command::Plan), 2));
    assert!(r.errors[0].contains("schedule.reserve_soc"), "{r:?}");
    // A usage error is one too.
    let Report::Refused(r) = read(&site.run(&["plan", "--json", "--no-such-flag"])) else {
        panic!("expected a refused document")
    };
    assert_eq!((r.command, r.exit_code), (None, 2));
    assert_eq!(site.gx.state().requests, 0);
}
