//! `ev-kick`: read the BMS, the site and the charger, decide once, act at most once, keep the
//! state file consistent with the charger, and report it as JSON or text.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bms;
use crate::config::{Config, EvConfig};
use crate::ev::charger;
use crate::ev::codec::{self, Action};
use crate::ev::parts::{ChargerPart, charger_text, record_text};
use crate::ev::rules::{self, Decision, Inputs, NextRecord, Record, Site};
use crate::ev::state::{self, StateFileError};
use crate::exit_codes::Exit;
use crate::gx::{self, GxError, WriteError};
use crate::modbus::Device;
use crate::output::parts::{BmsPart, bms_text, write_text};
use crate::output::{CommandName, Failures, Head, Output, Part, long_local};
use crate::registers::Write;

pub fn disabled(config: &Config) -> KickDisabled {
    KickDisabled {
        command: CommandName::EvKick,
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
        writes = codec::writes(&d.action, ev, &map, &charger);
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
        command: CommandName::EvKick,
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
    bms: &Result<crate::redflow::BmsReading, bms::BmsError>,
    site: &Result<rules::Site, GxError>,
    reached: &charger::Reached,
    done: &Done,
) -> Failures {
    let mut failures = Failures::default();
    failures.push_if(bms.as_ref().err());
    failures.push_if(site.as_ref().err());
    // Not read at all only when the GX connection it shares failed: that error is above.
    if let Some(Err(e)) = &reached.reading {
        failures.push(e);
    }
    if let Some(e) = &done.write_error {
        failures.push(e);
    }
    failures.push_if(done.state_error.as_ref());
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
    found: &codec::Charger,
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
fn undo_start(ev: &EvConfig, device: &mut Device, found: &codec::Charger) -> bool {
    let map = charger::map_for(ev.via);
    // Compared with a charger that holds none of the old values, so every one is written.
    let now = charger::read_charger(device, &map).unwrap_or(codec::Charger {
        mode: u16::MAX,
        set_current_a: u16::MAX,
        ..*found
    });
    let undo = codec::writes(
        &codec::Action::Stop {
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

/// `ev-kick` with no `[ev]` section or `enabled = false`.
#[derive(Debug, Serialize)]
pub struct KickDisabled {
    pub command: CommandName,
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
    pub command: CommandName,
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

pub fn disabled_text(r: &KickDisabled) -> String {
    format!(
        "ev-kick disabled ({}): nothing read, nothing written",
        r.reason
    )
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

pub fn kick_text(out: Output, config: &Config, r: &KickReport) -> String {
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
