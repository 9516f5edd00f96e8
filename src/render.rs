//! Everything the tool prints: the human reports, the 48-hour timeline, and the JSON
//! documents (the report types serialized).
//!
//! `--json` prints exactly one JSON document on stdout; warnings and errors go to stderr in
//! every mode. `apply` prints one line per change and nothing else unless `-v`, because cron
//! keeps its output.

use std::io::Write as _;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::clock;
use crate::config::Config;
use crate::ev::rules::{self, Action, Charger, Record};
use crate::modbus::Write;
use crate::plan::{short_local, span};
use crate::report::{
    BatteryDoc, BmsPart, ChargerPart, DrainDoc, GxLive, KickDisabled, KickReport, Mode, PlanReport,
    Report, SimulateReport, SlotDoc, StatusReport, StepDoc,
};

/// How the command line asked for output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// Prints to stdout, ignoring a closed pipe rather than panicking.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Prints to stderr, ignoring a closed pipe.
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A local date-time with zone abbreviation: `Mon 23 Nov 2026 07:00 AEDT`.
pub fn long_local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%a %d %b %Y %H:%M %Z")
        .to_string()
}

/// Prints a report: the JSON document or the text, then its warnings and errors on stderr.
pub fn print(out: Output, config: &Config, report: &Report) {
    let warnings: &[String] = match report {
        Report::Plan(r) => &r.warnings,
        Report::Release(r) => &r.warnings,
        _ => &[],
    };
    if let Report::Kick(r) = report {
        if let Some(problem) = &r.state_file.problem {
            stderr(&format!(
                "warning: ev-kick state file {} is unusable ({problem}): treated as \"not kicking\"; if a charge this tool started is still running in manual mode, stop it on the charger",
                r.state_file.path
            ));
        }
    }
    if out.json {
        stdout(&serde_json::to_string(report).unwrap_or_default());
    }
    if out.json || !out.quiet {
        for w in warnings {
            stderr(&format!("warning: {w}"));
        }
    }
    if !matches!(report, Report::Status(_)) {
        for e in report.errors() {
            stderr(&format!("error: {e}"));
        }
    }
    if out.json || out.quiet && !matches!(report, Report::Status(_)) {
        return;
    }
    let text = match report {
        Report::Plan(r) => plan_text(out, config, r),
        Report::Status(r) => Some(status_text(out, config, r)),
        Report::Kick(r) => Some(kick_text(out, config, r)),
        Report::KickDisabled(r) => Some(disabled_text(r)),
        Report::Simulate(r) => Some(simulate_text(config, r)),
        Report::Release(r) => Some(crate::release::text(r)),
        Report::Paused(r) => Some(r.text()),
        Report::Refused(_) => None,
    };
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        stdout(t.trim_end());
    }
}

/// A report as its JSON document (what `--json` prints).
pub fn json(report: &Report) -> String {
    serde_json::to_string(report).unwrap_or_default()
}

// ---------------------------------------------------------------- plan / apply

fn plan_text(out: Output, config: &Config, r: &PlanReport) -> Option<String> {
    if r.command == Mode::Apply && !out.verbose {
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
    let heading = match r.command {
        Mode::Plan => "Plan (dry run) for",
        Mode::Apply => "Apply for",
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
    } else if r.command == Mode::Plan {
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

fn bms_text(tz: Tz, now: DateTime<Utc>, bms: &BmsPart, failed: &str) -> String {
    match &bms.error {
        Some(e) => format!("  {failed}: {e}\n"),
        None => bms
            .batteries
            .iter()
            .map(|b| battery_text(tz, now, b))
            .collect(),
    }
}

fn battery_text(tz: Tz, now: DateTime<Utc>, b: &BatteryDoc) -> String {
    let when = if b.due_in_s >= 0 {
        format!("due {} (in {})", long_local(tz, b.due), span(b.due - now))
    } else {
        format!(
            "overdue since {} ({})",
            long_local(tz, b.due),
            span(now - b.due)
        )
    };
    format!(
        "  battery {}: SoC {:.1} %, {}, maintenance {when}\n",
        b.battery,
        b.state_of_charge,
        if b.is_stripping {
            "maintenance cycle running"
        } else {
            "not stripping"
        }
    )
}

/// The drain forecast in a few lines.
fn drain_text(tz: Tz, d: &DrainDoc) -> String {
    let source = match d.load_source {
        crate::drain::LoadSource::Gx => "the GX's loads now",
        crate::drain::LoadSource::Config => "drain.night_load_w",
    };
    let finish = match d.finish {
        Some(f) => format!("empty {}", short_local(tz, f)),
        None => "never empty (nothing to drain into)".to_string(),
    };
    let deadline = match d.deadline {
        Some(t) => format!(
            ", deadline {} → {}",
            short_local(tz, t),
            if d.on_time { "on time" } else { "LATE" }
        ),
        None => ", no deadline".to_string(),
    };
    format!(
        "\nMaintenance drain (forecast)\n  {:.1} kWh from {} at {} W (house {} W from {source}, EV {} W): {finish}{deadline}\n",
        d.energy_kwh,
        short_local(tz, d.start),
        d.load_w + d.ev_w,
        d.load_w,
        d.ev_w
    )
}

/// `FC06 2901 = 300` or `FC16 5424-5430 = [...]`.
fn write_text(w: &Write) -> String {
    if w.values.len() == 1 {
        format!("FC06 {} = {}", w.address, w.values[0])
    } else {
        let values: Vec<String> = w.values.iter().map(u16::to_string).collect();
        format!(
            "FC16 {}-{} = [{}]",
            w.address,
            w.address + w.values.len() as u16 - 1,
            values.join(", ")
        )
    }
}

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Hour columns over 48 h: peaks `#`, candidate windows `-`, the slot `=`, due `v` (then the
/// forecast drain `>` to where it is empty, `e`), now `^`.
pub fn timeline(
    config: &Config,
    now: DateTime<Utc>,
    candidates: &[SlotDoc],
    slot: Option<&SlotDoc>,
    due: Option<DateTime<Utc>>,
    drain: Option<&DrainDoc>,
) -> String {
    let tz = config.timezone;
    const HOURS: i64 = 48;
    let origin = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let cells: Vec<Span> = (0..HOURS)
        .map(|h| {
            let s = origin + TimeDelta::hours(h);
            (s, s + TimeDelta::hours(1))
        })
        .collect();
    let end = origin + TimeDelta::hours(HOURS);
    let peaks: Vec<Span> = config
        .peaks
        .iter()
        .flat_map(|p| clock::instances(p, tz, &config.schedule.holidays, now, 1, 3))
        .filter(|i| i.start < end && i.end > origin)
        .map(|i| (i.start, i.end))
        .collect();
    let row = |intervals: &[Span], mark: char| -> String {
        cells
            .iter()
            .map(|(s, e)| {
                if intervals.iter().any(|(a, b)| a < e && s < b) {
                    mark
                } else {
                    '.'
                }
            })
            .collect()
    };
    let windows: Vec<Span> = candidates.iter().map(|c| (c.start, c.end)).collect();
    let slot: Vec<Span> = slot.iter().map(|c| (c.start, c.end)).collect();
    let marker = |at: Option<DateTime<Utc>>, mark: char| -> String {
        cells
            .iter()
            .map(|(s, e)| match at {
                Some(t) if *s <= t && t < *e => mark,
                _ => ' ',
            })
            .collect()
    };
    let (days, hours) = timeline_heading(tz, &cells);
    let mut t = String::new();
    t += &format!("  {:<9}{}\n", "", days.trim_end());
    t += &format!("  {:<9}{}\n", "", hours.trim_end());
    t += &format!("  {:<9}{}\n", "peak", row(&peaks, '#'));
    t += &format!("  {:<9}{}\n", "windows", row(&windows, '-'));
    t += &format!("  {:<9}{}\n", "slot", row(&slot, '='));
    let due_row = due_row(&cells, due, drain);
    if due_row.trim().is_empty() {
        let note = match due {
            Some(d) if d < origin => format!("(maintenance due {}: passed)", short_local(tz, d)),
            Some(d) => format!("(maintenance due {}: beyond 48 h)", short_local(tz, d)),
            None => "(maintenance due: unknown)".to_string(),
        };
        t += &format!("  {:<9}{note}\n", "due");
    } else {
        t += &format!("  {:<9}{}\n", "due", due_row.trim_end());
    }
    t += &format!("  {:<9}{}\n", "now", marker(Some(now), '^').trim_end());
    t += if drain.is_some() {
        "  # peak  - candidate window  = slot 0  v maintenance due  > draining  e empty  ^ now\n"
    } else {
        "  # peak  - candidate window  = slot 0  v maintenance due  ^ now\n"
    };
    t
}

/// The `due` row: `v` at due, then with a forecast `>` while the drain runs and `e` where it
/// is empty.
fn due_row(cells: &[Span], due: Option<DateTime<Utc>>, drain: Option<&DrainDoc>) -> String {
    let within = |t: DateTime<Utc>, (s, e): &Span| *s <= t && t < *e;
    cells
        .iter()
        .map(|cell| match (due, drain) {
            (Some(d), _) if within(d, cell) => 'v',
            (_, Some(f)) if f.finish.is_some_and(|t| within(t, cell)) => 'e',
            (_, Some(f)) if f.start < cell.1 && f.finish.is_none_or(|t| cell.0 < t) => '>',
            _ => ' ',
        })
        .collect()
}

/// The day names (at each local midnight) and the hours (every 6 columns) above the rows.
fn timeline_heading(tz: Tz, cells: &[Span]) -> (String, String) {
    let is_midnight = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%H").to_string() == "00";
    let first_midnight = cells
        .iter()
        .position(|(c, _)| is_midnight(c))
        .unwrap_or(cells.len());
    let mut hours = String::new();
    let mut days = String::new();
    for (i, (s, _)) in cells.iter().enumerate() {
        let local = s.with_timezone(&tz);
        if i % 6 == 0 {
            hours += &format!("{:<6}", local.format("%H"));
        }
        // A day's name at its midnight column; today's at the start if it fits before that.
        let midnight = is_midnight(s);
        if (midnight || (i == 0 && first_midnight >= 12)) && days.chars().count() <= i {
            while days.chars().count() < i {
                days.push(' ');
            }
            days += &local.format("%a %d %b ").to_string();
        }
    }
    (days, hours)
}

// ---------------------------------------------------------------- status

fn status_text(out: Output, config: &Config, s: &StatusReport) -> String {
    if s.check && !out.verbose {
        return match (&s.gx.data, &s.gx.error) {
            (Some(live), _) => {
                let mut t = format!("slot 0 check: {}", live.slot_check.message);
                for w in &live.warnings {
                    t += &format!("\nwarning: {w}");
                }
                t
            }
            (None, e) => format!(
                "slot 0 check: the GX could not be read: {}",
                e.as_deref().unwrap_or_default()
            ),
        };
    }
    let tz = config.timezone;
    let now = s.head.now;
    let mut t = format!("Status at {} ({})\n", long_local(tz, now), tz.name());
    t += &format!("\nBMS {}\n", crate::bms::status_url(&config.bms));
    t += &bms_text(tz, now, &s.bms, "unreachable or unusable");
    t += &format!("\nGX {} (unit {})\n", config.gx_address(), config.gx.unit);
    match (&s.gx.data, &s.gx.error) {
        (Some(live), _) => t += &gx_text(live),
        (None, e) => {
            t += &format!(
                "  unreachable or refusing: {}\n",
                e.as_deref().unwrap_or_default()
            )
        }
    }
    if let Some(d) = &s.drain {
        t += &drain_text(tz, d);
    }
    if let Some(ev) = &s.ev_charger {
        t += &format!("\nEV charger ({})\n", ev.charger.at);
        t += &format!("  {}\n", charger_part_text(&ev.charger));
        t += &format!(
            "  ev-kick: {}\n",
            match &ev.ev_kick_problem {
                Some(problem) => format!("state file unusable ({problem})"),
                None => record_text(tz, ev.ev_kick.as_ref()),
            }
        );
    }
    t
}

/// A value read, or `?` when it was not.
fn or_unknown(v: Option<f64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

fn gx_text(g: &GxLive) -> String {
    let mut t = String::new();
    t += &format!(
        "  firmware: {}; {}\n",
        match &g.firmware {
            Some(v) => format!("Venus OS {v}"),
            None => "not published by this GX (Modbus TCP server before v1.0.82)".to_string(),
        },
        g.slot_map.describe()
    );
    t += &format!(
        "  battery: SoC {} %, power {} W ({})\n",
        or_unknown(g.battery_soc),
        or_unknown(g.battery_power_w),
        if g.battery_power_w.unwrap_or(0.0) < 0.0 {
            "discharging"
        } else {
            "charging or idle"
        }
    );
    t += &format!(
        "  AC loads: L1 {} W, L2 {} W, L3 {} W\n",
        or_unknown(g.ac_loads_w[0]),
        or_unknown(g.ac_loads_w[1]),
        or_unknown(g.ac_loads_w[2])
    );
    t += &format!(
        "  ESS: state {} ({}), mode {} ({}), minimum SoC {} %\n",
        g.ess_state,
        g.ess_state_text,
        g.hub4_mode,
        g.hub4_mode_text,
        or_unknown(g.ess_min_soc)
    );
    t += &format!(
        "  Dynamic ESS: mode {} ({}), {}, error {} ({}), target SoC {} %, battery capacity {} kWh\n",
        g.dess_mode,
        g.dess_mode_text,
        if g.dess_active {
            "active"
        } else {
            "not active"
        },
        g.dess_error,
        g.dess_error_text,
        or_unknown(g.dess_target_soc),
        or_unknown(g.battery_capacity_kwh)
    );
    let slot = &g.slot;
    t += &format!(
        "  slot 0: {} (restrictions {}{}, strategy {}, grid feed-in {})\n",
        slot.text,
        slot.restrictions,
        restriction_words(slot.restrictions),
        slot.strategy,
        if slot.registers[0] == 1 {
            "allowed"
        } else {
            "not allowed"
        }
    );
    t += &format!("  slot 0 check: {}\n", g.slot_check.message);
    for w in &g.warnings {
        t += &format!("  warning: {w}\n");
    }
    t
}

fn restriction_words(bits: u16) -> String {
    let mut parts = Vec::new();
    if bits & crate::victron::RESTRICT_BATTERY_TO_GRID != 0 {
        parts.push("battery→grid blocked");
    }
    if bits & crate::victron::RESTRICT_GRID_TO_BATTERY != 0 {
        parts.push("grid→battery blocked");
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

// ---------------------------------------------------------------- ev-kick

fn disabled_text(r: &KickDisabled) -> String {
    format!(
        "ev-kick disabled ({}): nothing read, nothing written",
        r.reason
    )
}

/// The charger in one line: `auto mode, stopped, status 1 (connected), set current 16 A …`.
fn charger_text(c: &Charger) -> String {
    format!(
        "{} mode, {}, status {} ({}), set current {} A (max {} A), {} W",
        rules::mode_name(c.mode),
        if c.start_stop == rules::START {
            "started"
        } else {
            "stopped"
        },
        c.status,
        rules::status_name(c.status),
        c.set_current_a,
        c.max_current_a,
        c.power_w
    )
}

fn charger_part_text(part: &ChargerPart) -> String {
    match (&part.charger, &part.error) {
        (Some(c), _) => charger_text(&c.registers),
        (None, Some(e)) if e.starts_with("not read") => e.clone(),
        (None, e) => format!(
            "unreachable or refusing: {}",
            e.as_deref().unwrap_or_default()
        ),
    }
}

fn record_text(tz: Tz, r: Option<&Record>) -> String {
    match r {
        None => "no kick recorded".to_string(),
        Some(Record::Kicking {
            started_at,
            previous_mode,
            previous_current_a,
            current_a,
            previous_start_stop,
        }) => format!(
            "kicking at {current_a} A since {} (before: {} mode, {previous_current_a} A{})",
            long_local(tz, *started_at),
            rules::mode_name(*previous_mode),
            match previous_start_stop {
                Some(rules::STOP) => ", stopped",
                Some(_) => ", started",
                None => "",
            }
        ),
        Some(Record::Unsettled {
            since,
            previous_mode,
            previous_current_a,
            ..
        }) => format!(
            "a start at {} did not read back: the next run puts the charger back ({} mode, {previous_current_a} A)",
            long_local(tz, *since),
            rules::mode_name(*previous_mode)
        ),
        Some(Record::StoodDown { since, reason }) => {
            format!("standing down since {} ({reason})", long_local(tz, *since))
        }
        Some(Record::BackedOff { since, reason }) => format!(
            "kick stopped at {} ({reason}); no new kick before {}",
            long_local(tz, *since),
            long_local(tz, *since + rules::RETRY_AFTER)
        ),
    }
}

fn kick_inputs_text(config: &Config, r: &KickReport) -> String {
    let tz = config.timezone;
    let mut t = match &r.bms.error {
        None => bms_text(tz, r.head.now, &r.bms, ""),
        Some(_) => "  BMS: unreadable\n".to_string(),
    };
    if let Some(site) = &r.site.data {
        let phases = config
            .ev
            .as_ref()
            .map_or(&[][..], |ev| ev.phases.as_slice());
        let s = &site.site;
        t += &format!(
            "  GX loads: L1 {} W, L2 {} W, L3 {} W (counted: {}); battery {} W ({})\n",
            s.phases_w[0],
            s.phases_w[1],
            s.phases_w[2],
            phases
                .iter()
                .map(|p| format!("L{p}"))
                .collect::<Vec<_>>()
                .join("+"),
            s.battery_power_w,
            if s.battery_power_w < 0 {
                "discharging"
            } else {
                "charging or idle"
            }
        );
    }
    if let Some(c) = &r.charger.charger {
        t += &format!(
            "  EV charger ({}): {}\n",
            r.charger.at,
            charger_text(&c.registers)
        );
    }
    t
}

fn kick_text(out: Output, config: &Config, r: &KickReport) -> String {
    let tz = config.timezone;
    let head = format!(
        "ev-kick{} {}",
        if r.dry_run { " (dry run)" } else { "" },
        long_local(tz, r.head.now)
    );
    let mut t = match &r.decision {
        Some(d) => format!(
            "{head}: {}{} — {}\n",
            if r.dry_run && !matches!(d.action, Action::Nothing) {
                "would "
            } else {
                ""
            },
            d.verdict,
            d.reason
        ),
        None => format!(
            "{head}: no decision — the EV charger ({}) could not be read; nothing written\n",
            r.charger.at
        ),
    };
    let detail = r.dry_run || out.verbose;
    let path = &r.state_file.path;
    if detail {
        t += &kick_inputs_text(config, r);
        t += &format!(
            "  state file {path}: {}\n",
            record_text(tz, r.state_file.before.as_ref())
        );
    }
    for w in &r.writes {
        if r.dry_run {
            t += &format!("  would write {}: {}\n", write_text(w), w.summary);
        } else if r.applied {
            t += &format!("  {} (read back ok)\n", w.summary);
        } else if detail {
            t += &format!("  not written: {}\n", w.summary);
        }
    }
    if detail || r.state_file.before != r.state_file.after {
        let verb = if r.dry_run { "would hold" } else { "now holds" };
        t += &format!(
            "  state file {verb}: {}\n",
            record_text(tz, r.state_file.after.as_ref())
        );
    }
    t
}

// ---------------------------------------------------------------- simulate

fn simulate_text(config: &Config, r: &SimulateReport) -> String {
    let tz = config.timezone;
    let (Some(from), Some(model)) = (r.from, &r.model) else {
        return "simulate: no start (see the errors above; --soc and --due-in need no device)"
            .to_string();
    };
    let mut t = format!(
        "Simulation from {} for {} days ({}), {}-minute steps; nothing was written\n",
        long_local(tz, from),
        model.days,
        tz.name(),
        model.step_minutes
    );
    t += &format!(
        "  start: SoC {:.0} %, maintenance due in {:.1} h{}; load {} W; solar {}; rules run at {}\n",
        model.start_soc,
        model.due_in_h,
        if model.start_stripping {
            " (running)"
        } else {
            ""
        },
        match model.load_w.as_f64() {
            Some(w) => format!("{w:.0}"),
            None => "hourly profile, see [simulate] load_w,".to_string(),
        },
        model
            .solar_kwh_per_day
            .map_or("none".to_string(), |k| format!("{k} kWh/day")),
        model.runs.join(", ")
    );
    t += "\n  day          maintenance         peak grid  lowest SoC  import  export      EV\n";
    for d in &r.days {
        t += &format!(
            "  {:<11}  {:<18} {:>6.1} kWh {:>8.0} % {:>6.1} {:>7.1} {:>7.1} kWh\n",
            d.date.format("%a %d %b"),
            if d.events.is_empty() {
                "-".to_string()
            } else {
                d.events.join(", ")
            },
            d.peak_grid_kwh,
            d.lowest_soc,
            d.grid_import_kwh,
            d.grid_export_kwh,
            d.ev_kwh
        );
    }
    if let Some(tot) = &r.totals {
        t += &format!(
            "  {:<11}  {:<18} {:>6.1} kWh {:>10} {:>6.1} {:>7.1} {:>7.1} kWh\n",
            "total",
            "",
            tot.peak_grid_kwh,
            "",
            tot.grid_import_kwh,
            tot.grid_export_kwh,
            tot.ev_kwh
        );
    }
    t += &format!("\nSoC, one column per hour\n{}", soc_chart(tz, &r.steps));
    t += &maintenances_text(tz, r);
    t += "\nFindings\n";
    if r.findings.is_empty() {
        t += "  none: every peak was covered, every maintenance finished by its deadline, every slot reached its target\n";
    }
    for f in &r.findings {
        t += &format!("  • {f}\n");
    }
    t
}

fn maintenances_text(tz: Tz, r: &SimulateReport) -> String {
    let mut t = "\nMaintenance\n".to_string();
    if r.maintenances.is_empty() {
        t += "  none due in this period\n";
    }
    let at = |x: Option<DateTime<Utc>>| x.map_or("-".to_string(), |x| short_local(tz, x));
    for m in &r.maintenances {
        t += &format!(
            "  due {}: empty {}, strip done {}, deadline {}: {}\n",
            short_local(tz, m.due),
            at(m.empty),
            at(m.done),
            at(m.deadline),
            match m.on_time {
                Some(true) => "on time",
                Some(false) => "LATE",
                None => "not empty within the period",
            }
        );
    }
    t
}

/// SoC as columns of `█` (one per hour, five bands of 20 %), with the peaks, the slot and the
/// maintenance under it.
fn soc_chart(tz: Tz, steps: &[StepDoc]) -> String {
    let mut t = String::new();
    let mut days = String::new();
    for (i, s) in steps.iter().enumerate() {
        let local = s.t.with_timezone(&tz);
        if (local.format("%H").to_string() == "00" || i == 0) && days.chars().count() <= i {
            while days.chars().count() < i {
                days.push(' ');
            }
            days += &local.format("%a %d ").to_string();
        }
    }
    t += &format!("  {:<7}{}\n", "", days.trim_end());
    for level in [100, 80, 60, 40, 20] {
        let row: String = steps
            .iter()
            .map(|s| {
                if s.soc >= f64::from(level) - 10.0 {
                    '█'
                } else {
                    ' '
                }
            })
            .collect();
        t += &format!("  {:>3} %  {}\n", level, row.trim_end());
    }
    let row = |f: &dyn Fn(&StepDoc) -> char| -> String { steps.iter().map(f).collect() };
    t += &format!(
        "  {:<7}{}\n",
        "peak",
        row(&|s| if s.peak { '#' } else { '.' })
    );
    t += &format!(
        "  {:<7}{}\n",
        "slot",
        row(&|s| match &s.slot {
            Some(slot) if slot.kind == crate::plan::WindowKind::Drain => 'd',
            Some(_) => '=',
            None => '.',
        })
    );
    t += &format!(
        "  {:<7}{}\n",
        "maint",
        row(&|s| match s.phase {
            "draining" => '>',
            "stripping" => 's',
            _ => '.',
        })
    );
    t += "  █ SoC (20 % bands)  # peak  = charge slot  d drain slot  > maintenance discharge  s strip\n";
    t
}
