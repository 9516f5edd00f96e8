//! Everything the tool prints: the human report, the 48-hour timeline, and the JSON documents.
//!
//! `--json` prints exactly one JSON document on stdout (field names are documented in the
//! README and stable); warnings and errors go to stderr in every mode. `apply` prints one line
//! per change and nothing else unless `-v`, because cron keeps its output.

use std::io::Write as _;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::app::{Context, KickOutcome, Outcome, Status};
use crate::bms::{BmsError, BmsReading};
use crate::clock;
use crate::config::Config;
use crate::error::Exit;
use crate::evkick::{self, Action, Decision, NextRecord, Record};
use crate::gx::{self, GxError, GxSettings};
use crate::kickstate::Loaded;
use crate::modbus::Snapshot;
use crate::plan::{Plan, Slot, short_local, span};
use crate::registers as reg;
use crate::writes::{Write, describe_slot_words};

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

fn rfc3339_local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).to_rfc3339()
}

// ---------------------------------------------------------------- plan / apply

/// Prints the outcome of `plan` or `apply` in the chosen form.
pub fn outcome(ctx: &Context, o: &Outcome) {
    if ctx.json {
        stdout(&outcome_json(&ctx.config, o).to_string());
        for w in &o.writes.warnings {
            stderr(&format!("warning: {w}"));
        }
        for e in o.errors() {
            stderr(&format!("error: {e}"));
        }
        return;
    }
    if !ctx.quiet {
        for w in &o.writes.warnings {
            stderr(&format!("warning: {w}"));
        }
    }
    for e in o.errors() {
        stderr(&format!("error: {e}"));
    }
    if o.command == "apply" && !ctx.verbose {
        if !ctx.quiet {
            if o.applied {
                for w in &o.writes.writes {
                    stdout(&w.summary);
                }
            }
            if o.bms.is_err() && o.applied {
                stdout("safe state applied: no charge window until the BMS answers again");
            }
        }
        return;
    }
    stdout(&plan_text(&ctx.config, o));
}

fn plan_text(config: &Config, o: &Outcome) -> String {
    let tz = config.timezone;
    let mut t = String::new();
    let heading = if o.command == "plan" {
        "Plan (dry run) for"
    } else {
        "Apply for"
    };
    t += &format!("{heading} {} ({})\n", long_local(tz, o.now), tz.name());

    t += "\nBMS\n";
    match &o.bms {
        Ok(r) => t += &batteries_text(tz, o.now, r),
        Err(e) => t += &format!("  unusable: {e}\n"),
    }

    t += "\nDecision\n";
    for r in &o.plan.reasons {
        t += &format!("  • {r}\n");
    }

    t += &format!(
        "\nTimeline, 48 h from {} (one column per hour)\n",
        short_local(tz, o.now)
    );
    t += &timeline(config, &o.plan);

    t += "\nGX\n";
    match &o.gx {
        Ok(s) => {
            t += &format!(
                "  now: slot 0 {}; ESS minimum SoC {} %; Dynamic ESS mode {} ({})\n",
                describe_slot_words(&s.slot, tz),
                f64::from(s.min_soc_raw) / 10.0,
                s.dess_mode,
                gx::dess_mode_name(s.dess_mode)
            );
            if o.writes.writes.is_empty() {
                t += "  nothing to change: the GX already holds this plan\n";
            } else {
                let verb = if o.applied {
                    "written and read back"
                } else if o.command == "plan" {
                    "would be written by `apply`"
                } else {
                    "not (all) written"
                };
                t += &format!("  register writes ({verb}):\n");
                for w in &o.writes.writes {
                    t += &format!("    {}\n      {}\n", write_text(w), w.summary);
                }
            }
        }
        Err(e) => t += &format!("  not usable: {e}\n"),
    }
    t
}

fn batteries_text(tz: Tz, now: DateTime<Utc>, r: &BmsReading) -> String {
    let mut t = String::new();
    for (i, b) in r.batteries.iter().enumerate() {
        let due = now + TimeDelta::seconds(b.due_in_s());
        let when = if b.due_in_s() >= 0 {
            format!("due {} (in {})", long_local(tz, due), span(due - now))
        } else {
            format!(
                "overdue since {} ({})",
                long_local(tz, due),
                span(now - due)
            )
        };
        t += &format!(
            "  battery {}: SoC {:.1} %, {}, maintenance {when}\n",
            i + 1,
            b.state_of_charge,
            if b.is_stripping {
                "maintenance cycle running"
            } else {
                "not stripping"
            }
        );
    }
    t
}

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

/// Hour columns over 48 h: peaks `#`, candidate windows `-`, the slot `=`, due `v`, now `^`.
pub fn timeline(config: &Config, plan: &Plan) -> String {
    let tz = config.timezone;
    const HOURS: i64 = 48;
    let origin = plan
        .now
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(plan.now);
    let cells: Vec<(DateTime<Utc>, DateTime<Utc>)> = (0..HOURS)
        .map(|h| {
            let s = origin + TimeDelta::hours(h);
            (s, s + TimeDelta::hours(1))
        })
        .collect();
    let end = origin + TimeDelta::hours(HOURS);

    let mut peaks = Vec::new();
    for p in &config.peaks {
        for i in clock::instances(p, tz, &config.schedule.holidays, plan.now, 1, 3) {
            if i.start < end && i.end > origin {
                peaks.push((i.start, i.end));
            }
        }
    }
    let row = |intervals: &[(DateTime<Utc>, DateTime<Utc>)], mark: char| -> String {
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
    let windows: Vec<_> = plan.candidates.iter().map(|c| (c.start, c.end)).collect();
    let slot: Vec<_> = plan.slot.iter().map(|c: &Slot| (c.start, c.end)).collect();

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
    let marker = |at: Option<DateTime<Utc>>, mark: char| -> String {
        cells
            .iter()
            .map(|(s, e)| match at {
                Some(t) if *s <= t && t < *e => mark,
                _ => ' ',
            })
            .collect()
    };
    let mut t = String::new();
    t += &format!("  {:<9}{}\n", "", days.trim_end());
    t += &format!("  {:<9}{}\n", "", hours.trim_end());
    t += &format!("  {:<9}{}\n", "peak", row(&peaks, '#'));
    t += &format!("  {:<9}{}\n", "windows", row(&windows, '-'));
    t += &format!("  {:<9}{}\n", "slot", row(&slot, '='));
    let due_row = marker(plan.due, 'v');
    if due_row.trim().is_empty() {
        let note = match plan.due {
            Some(d) if d < origin => format!("(maintenance due {}: passed)", short_local(tz, d)),
            Some(d) => format!("(maintenance due {}: beyond 48 h)", short_local(tz, d)),
            None => "(maintenance due: unknown)".to_string(),
        };
        t += &format!("  {:<9}{note}\n", "due");
    } else {
        t += &format!("  {:<9}{}\n", "due", due_row.trim_end());
    }
    t += &format!("  {:<9}{}\n", "now", marker(Some(plan.now), '^').trim_end());
    t += "  # peak  - candidate window  = slot 0  v maintenance due  ^ now\n";
    t
}

fn slot_json(tz: Tz, s: &Slot) -> Value {
    json!({
        "kind": s.kind,
        "window": s.window,
        "start": s.start.to_rfc3339(),
        "end": s.end.to_rfc3339(),
        "start_local": rfc3339_local(tz, s.start),
        "end_local": rfc3339_local(tz, s.end),
        "duration_s": s.duration_s(),
        "soc": s.soc,
    })
}

fn bms_json(tz: Tz, now: DateTime<Utc>, r: &BmsReading) -> Value {
    Value::Array(
        r.batteries
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let due = now + TimeDelta::seconds(b.due_in_s());
                json!({
                    "battery": i + 1,
                    "state_of_charge": b.state_of_charge,
                    "is_stripping": b.is_stripping,
                    "due_in_s": b.due_in_s(),
                    "due": due.to_rfc3339(),
                    "due_local": rfc3339_local(tz, due),
                })
            })
            .collect(),
    )
}

fn bms_result_json(tz: Tz, now: DateTime<Utc>, bms: &Result<BmsReading, BmsError>) -> Value {
    match bms {
        Ok(r) => json!({"ok": true, "error": null, "batteries": bms_json(tz, now, r)}),
        Err(e) => json!({"ok": false, "error": e.to_string(), "batteries": []}),
    }
}

fn writes_json(writes: &[Write]) -> Value {
    writes
        .iter()
        .map(|w| {
            json!({
                "function": w.function_code(),
                "address": w.address,
                "values": w.values,
                "summary": w.summary,
            })
        })
        .collect()
}

fn settings_json(tz: Tz, s: &GxSettings) -> Value {
    let (start, duration) = s.slot_start_duration();
    json!({
        "ess_state": s.ess_state,
        "ess_min_soc": f64::from(s.min_soc_raw) / 10.0,
        "hub4_mode": s.hub4_mode,
        "battery_capacity_kwh": f64::from(s.capacity_raw) / 10.0,
        "dess_mode": s.dess_mode,
        "slot": {
            "registers": s.slot,
            "start": start,
            "duration_s": duration,
            "soc": s.slot[3],
            "restrictions": s.slot[2],
            "strategy": s.slot[6],
            "text": describe_slot_words(&s.slot, tz),
        },
    })
}

/// The `plan` / `apply` JSON document.
pub fn outcome_json(config: &Config, o: &Outcome) -> Value {
    let tz = config.timezone;
    let p = &o.plan;
    json!({
        "command": o.command,
        "now": o.now.to_rfc3339(),
        "now_local": rfc3339_local(tz, o.now),
        "timezone": tz.name(),
        "bms": bms_result_json(tz, o.now, &o.bms),
        "stage": p.stage,
        "phase": p.phase,
        "due": p.due.map(|d| d.to_rfc3339()),
        "due_local": p.due.map(|d| rfc3339_local(tz, d)),
        "active": p.active,
        "slot": p.slot.as_ref().map(|s| slot_json(tz, s)),
        "min_soc": p.min_soc,
        "candidates": p.candidates.iter().map(|s| slot_json(tz, s)).collect::<Vec<_>>(),
        "reasons": p.reasons,
        "gx": match &o.gx {
            Ok(s) => json!({"ok": true, "error": null, "before": settings_json(tz, s)}),
            Err(e) => json!({"ok": false, "error": e.to_string(), "before": null}),
        },
        "writes": writes_json(&o.writes.writes),
        "warnings": o.writes.warnings,
        "applied": o.applied,
        "errors": o.errors(),
        "exit_code": o.exit,
    })
}

// ---------------------------------------------------------------- status

/// Prints what `status` found.
pub fn status(ctx: &Context, s: &Status) {
    let config = &ctx.config;
    let tz = config.timezone;
    if ctx.json {
        stdout(&status_json(config, s).to_string());
        return;
    }
    let mut t = format!("Status at {} ({})\n", long_local(tz, s.now), tz.name());
    t += &format!("\nBMS {}\n", crate::bms::status_url(&config.bms));
    match &s.bms {
        Ok(r) => t += &batteries_text(tz, s.now, r),
        Err(e) => t += &format!("  unreachable or unusable: {e}\n"),
    }
    t += &format!("\nGX {} (unit {})\n", config.gx_address(), config.gx.unit);
    match &s.gx {
        Ok(snap) => t += &gx_text(tz, snap),
        Err(e) => t += &format!("  unreachable or refusing: {e}\n"),
    }
    if let Some(ev) = &s.ev {
        t += &format!("\nEV charger ({})\n", ev.at);
        match &ev.charger {
            Some(Ok(c)) => t += &format!("  {}\n", charger_text(c)),
            Some(Err(e)) => t += &format!("  unreachable or refusing: {e}\n"),
            None => t += "  not read: the GX connection failed\n",
        }
        t += &format!("  ev-kick: {}\n", loaded_text(tz, &ev.record));
    }
    stdout(t.trim_end());
}

fn num(s: &Snapshot, r: reg::Register) -> f64 {
    s.value(r).unwrap_or(f64::NAN)
}

fn word(s: &Snapshot, r: reg::Register) -> u16 {
    s.word(r.address).unwrap_or(0)
}

fn gx_text(tz: Tz, s: &Snapshot) -> String {
    let mut t = String::new();
    t += &format!(
        "  battery: SoC {} %, power {} W ({})\n",
        num(s, reg::BATTERY_SOC),
        num(s, reg::BATTERY_POWER),
        if num(s, reg::BATTERY_POWER) < 0.0 {
            "discharging"
        } else {
            "charging or idle"
        }
    );
    t += &format!(
        "  AC loads: L1 {} W, L2 {} W, L3 {} W\n",
        num(s, reg::AC_CONSUMPTION_L1),
        num(s, reg::AC_CONSUMPTION_L2),
        num(s, reg::AC_CONSUMPTION_L3)
    );
    let state = word(s, reg::ESS_STATE);
    let hub4 = word(s, reg::HUB4_MODE);
    t += &format!(
        "  ESS: state {state} ({}), mode {hub4} ({}), minimum SoC {} %\n",
        gx::ess_state_name(state),
        gx::hub4_mode_name(hub4),
        num(s, reg::ESS_MIN_SOC)
    );
    let mode = word(s, reg::DESS_MODE);
    let error = word(s, reg::DESS_ERROR);
    t += &format!(
        "  Dynamic ESS: mode {mode} ({}), {}, error {error} ({}), target SoC {} %, battery capacity {} kWh\n",
        gx::dess_mode_name(mode),
        if word(s, reg::DESS_ACTIVE) == 1 {
            "active"
        } else {
            "not active"
        },
        gx::dess_error_name(error),
        num(s, reg::DESS_TARGET_SOC),
        num(s, reg::DESS_CAPACITY)
    );
    if let Some(words) = s.words(reg::SLOT_BASE, reg::SLOT_WORDS) {
        let mut slot = [0u16; 7];
        slot.copy_from_slice(&words);
        t += &format!(
            "  slot 0: {} (restrictions {}{}, strategy {}, grid feed-in {})\n",
            describe_slot_words(&slot, tz),
            slot[2],
            restriction_words(slot[2]),
            slot[6],
            if slot[0] == 1 {
                "allowed"
            } else {
                "not allowed"
            }
        );
    }
    t
}

fn restriction_words(bits: u16) -> String {
    let mut parts = Vec::new();
    if bits & reg::RESTRICT_BATTERY_TO_GRID != 0 {
        parts.push("battery→grid blocked");
    }
    if bits & reg::RESTRICT_GRID_TO_BATTERY != 0 {
        parts.push("grid→battery blocked");
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

fn status_json(config: &Config, s: &Status) -> Value {
    let tz = config.timezone;
    let gx = match &s.gx {
        Ok(snap) => {
            let words = snap
                .words(reg::SLOT_BASE, reg::SLOT_WORDS)
                .unwrap_or_default();
            let mut slot = [0u16; 7];
            if words.len() == 7 {
                slot.copy_from_slice(&words);
            }
            let start = snap.raw(reg::SLOT_START).unwrap_or(0);
            json!({
                "ok": true,
                "error": null,
                "battery_soc": snap.value(reg::BATTERY_SOC),
                "battery_power_w": snap.value(reg::BATTERY_POWER),
                "ac_loads_w": [snap.value(reg::AC_CONSUMPTION_L1), snap.value(reg::AC_CONSUMPTION_L2), snap.value(reg::AC_CONSUMPTION_L3)],
                "ess_state": word(snap, reg::ESS_STATE),
                "ess_state_text": gx::ess_state_name(word(snap, reg::ESS_STATE)),
                "ess_min_soc": snap.value(reg::ESS_MIN_SOC),
                "hub4_mode": word(snap, reg::HUB4_MODE),
                "dess_mode": word(snap, reg::DESS_MODE),
                "dess_mode_text": gx::dess_mode_name(word(snap, reg::DESS_MODE)),
                "dess_active": word(snap, reg::DESS_ACTIVE) == 1,
                "dess_error": word(snap, reg::DESS_ERROR),
                "dess_error_text": gx::dess_error_name(word(snap, reg::DESS_ERROR)),
                "dess_target_soc": snap.value(reg::DESS_TARGET_SOC),
                "battery_capacity_kwh": snap.value(reg::DESS_CAPACITY),
                "slot": {
                    "registers": slot,
                    "start": start,
                    "start_local": DateTime::<Utc>::from_timestamp(start, 0).filter(|_| start > 0).map(|t| rfc3339_local(tz, t)),
                    "duration_s": slot[1],
                    "soc": slot[3],
                    "restrictions": slot[2],
                    "strategy": slot[6],
                    "text": describe_slot_words(&slot, tz),
                },
            })
        }
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    json!({
        "command": "status",
        "now": s.now.to_rfc3339(),
        "now_local": rfc3339_local(tz, s.now),
        "timezone": tz.name(),
        "bms": bms_result_json(tz, s.now, &s.bms),
        "gx": gx,
        "ev_charger": s.ev.as_ref().map(|ev| {
            let mut v = charger_result_json(&ev.at, &ev.charger);
            v["ev_kick"] = record_json(ev.record.record());
            v["ev_kick_problem"] = match &ev.record {
                Loaded::Corrupt(p) => json!(p),
                _ => Value::Null,
            };
            v
        }),
    })
}

// ---------------------------------------------------------------- ev-kick

/// `ev-kick` with no `[ev]` section or `enabled = false`.
pub fn kick_disabled(ctx: &Context) {
    let why = match &ctx.config.ev {
        None => "no [ev] section in the config",
        Some(_) => "[ev] enabled = false",
    };
    if ctx.json {
        stdout(
            &json!({
                "command": "ev-kick",
                "enabled": false,
                "reason": why,
                "writes": [],
                "applied": false,
                "errors": [],
                "exit_code": Exit::Ok,
            })
            .to_string(),
        );
    } else if !ctx.quiet {
        stdout(&format!(
            "ev-kick disabled ({why}): nothing read, nothing written"
        ));
    }
}

/// One word for what the run decided.
fn kick_verdict(d: &Decision) -> &'static str {
    match (&d.action, &d.record, d.kicking) {
        (Action::Start, _, _) => "start",
        (Action::Stop { .. }, _, _) => "stop",
        (Action::Nothing, _, true) => "keep charging",
        (Action::Nothing, NextRecord::Set(Record::StoodDown { .. }), _) => "stand down",
        (Action::Nothing, _, false) => "no change",
    }
}

/// The charger in one line: `auto mode, stopped, status 1 (connected), set current 16 A …`.
fn charger_text(c: &evkick::Charger) -> String {
    format!(
        "{} mode, {}, status {} ({}), set current {} A (max {} A), {} W",
        evkick::mode_name(c.mode),
        if c.start_stop == evkick::START {
            "started"
        } else {
            "stopped"
        },
        c.status,
        evkick::status_name(c.status),
        c.set_current_a,
        c.max_current_a,
        c.power_w
    )
}

/// The charger's registers decoded, or why they were not read, and where it was reached.
fn charger_result_json(at: &str, charger: &Option<Result<evkick::Charger, GxError>>) -> Value {
    match charger {
        Some(Ok(c)) => json!({
            "ok": true,
            "error": null,
            "at": at,
            "mode": c.mode,
            "mode_name": evkick::mode_name(c.mode),
            "start_stop": c.start_stop,
            "status": c.status,
            "status_name": evkick::status_name(c.status),
            "set_current_a": c.set_current_a,
            "max_current_a": c.max_current_a,
            "power_w": c.power_w,
        }),
        Some(Err(e)) => json!({"ok": false, "error": e.to_string(), "at": at}),
        None => json!({"ok": false, "error": "not read: the GX connection failed", "at": at}),
    }
}

fn loaded_text(tz: Tz, loaded: &Loaded) -> String {
    match loaded {
        Loaded::Corrupt(problem) => format!("state file unusable ({problem})"),
        _ => record_text(tz, loaded.record()),
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
        }) => format!(
            "kicking at {current_a} A since {} (before: {} mode, {previous_current_a} A)",
            long_local(tz, *started_at),
            evkick::mode_name(*previous_mode)
        ),
        Some(Record::StoodDown { since, reason }) => {
            format!("standing down since {} ({reason})", long_local(tz, *since))
        }
        Some(Record::BackedOff { since, reason }) => format!(
            "kick stopped at {} ({reason}); no new kick before {}",
            long_local(tz, *since),
            long_local(tz, *since + evkick::RETRY_AFTER)
        ),
    }
}

/// The AC phases `[ev]` counts as the site load.
fn ev_phases(config: &Config) -> &[u8] {
    config.ev.as_ref().map_or(&[], |ev| ev.phases.as_slice())
}

fn kick_inputs_text(config: &Config, o: &KickOutcome) -> String {
    let tz = config.timezone;
    let mut t = String::new();
    match &o.bms {
        Ok(r) => t += &batteries_text(tz, o.now, r),
        Err(_) => t += "  BMS: unreadable\n",
    }
    if let Ok(site) = &o.site {
        let phases = ev_phases(config);
        t += &format!(
            "  GX loads: L1 {} W, L2 {} W, L3 {} W (counted: {}); battery {} W ({})\n",
            site.phases_w[0],
            site.phases_w[1],
            site.phases_w[2],
            phases
                .iter()
                .map(|p| format!("L{p}"))
                .collect::<Vec<_>>()
                .join("+"),
            site.battery_power_w,
            if site.battery_power_w < 0 {
                "discharging"
            } else {
                "charging or idle"
            }
        );
    }
    if let Some(Ok(c)) = &o.charger {
        t += &format!("  EV charger ({}): {}\n", o.charger_at, charger_text(c));
    }
    t
}

/// Prints what `ev-kick` found, decided and did.
pub fn kick(ctx: &Context, o: &KickOutcome) {
    let config = &ctx.config;
    let tz = config.timezone;
    let state_path = config
        .ev
        .as_ref()
        .map(|ev| ev.state_file.display().to_string())
        .unwrap_or_default();
    if let Loaded::Corrupt(problem) = &o.before {
        stderr(&format!(
            "warning: ev-kick state file {state_path} is unusable ({problem}): treated as \"not kicking\"; if a charge this tool started is still running in manual mode, stop it on the charger"
        ));
    }
    if ctx.json {
        stdout(&kick_json(config, o).to_string());
        for e in o.errors() {
            stderr(&format!("error: {e}"));
        }
        return;
    }
    for e in o.errors() {
        stderr(&format!("error: {e}"));
    }
    if ctx.quiet {
        return;
    }
    let head = format!(
        "ev-kick{} {}",
        if o.dry_run { " (dry run)" } else { "" },
        long_local(tz, o.now)
    );
    let mut t = match &o.decision {
        Some(d) => format!(
            "{head}: {}{} — {}\n",
            if o.dry_run && !matches!(d.action, Action::Nothing) {
                "would "
            } else {
                ""
            },
            kick_verdict(d),
            d.reason
        ),
        None => format!(
            "{head}: no decision — the EV charger ({}) could not be read; nothing written\n",
            o.charger_at
        ),
    };
    let detail = o.dry_run || ctx.verbose;
    if detail {
        t += &kick_inputs_text(config, o);
        t += &format!(
            "  state file {state_path}: {}\n",
            record_text(tz, o.before.record())
        );
    }
    for w in &o.writes {
        if o.dry_run {
            t += &format!("  would write {}: {}\n", write_text(w), w.summary);
        } else if o.applied {
            t += &format!("  {} (read back ok)\n", w.summary);
        } else if detail {
            t += &format!("  not written: {}\n", w.summary);
        }
    }
    if detail || o.before.record() != o.after.as_ref() {
        let verb = if o.dry_run { "would hold" } else { "now holds" };
        t += &format!(
            "  state file {verb}: {}\n",
            record_text(tz, o.after.as_ref())
        );
    }
    stdout(t.trim_end());
}

fn record_json(r: Option<&Record>) -> Value {
    match r {
        Some(r) => serde_json::to_value(r).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

pub fn kick_json(config: &Config, o: &KickOutcome) -> Value {
    let tz = config.timezone;
    let phases = ev_phases(config);
    json!({
        "command": "ev-kick",
        "enabled": true,
        "dry_run": o.dry_run,
        "now": o.now.to_rfc3339(),
        "now_local": rfc3339_local(tz, o.now),
        "timezone": tz.name(),
        "bms": bms_result_json(tz, o.now, &o.bms),
        "site": match &o.site {
            Ok(s) => json!({
                "ok": true,
                "error": null,
                "phases_w": s.phases_w,
                "battery_power_w": s.battery_power_w,
                "loads_w": s.loads_w(phases),
            }),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        "charger": charger_result_json(&o.charger_at, &o.charger),
        "state_file": {
            "path": config.ev.as_ref().map(|ev| ev.state_file.display().to_string()),
            "before": record_json(o.before.record()),
            "problem": match &o.before {
                Loaded::Corrupt(p) => Some(p.clone()),
                _ => None,
            },
            "after": record_json(o.after.as_ref()),
        },
        "decision": o.decision.as_ref().map(|d| json!({
            "verdict": kick_verdict(d),
            "action": d.action,
            "reason": d.reason,
            "kicking": d.kicking,
            "discharge_active": d.active,
            "load_without_ev_w": d.load_w,
        })),
        "writes": writes_json(&o.writes),
        "applied": o.applied,
        "errors": o.errors(),
        "exit_code": o.exit,
    })
}
