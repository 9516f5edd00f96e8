//! `release`: hands the GX back as this tool found it: slot 0 cleared, and the minimum SoC,
//! the battery capacity and the Dynamic ESS mode it changed put back (see `handback`); a kick
//! of `ev-kick`'s stopped and the charger's mode and current put back. Everything is read back;
//! only when all of it stuck is the hand-back record removed, so a failed release can simply
//! be run again. `uninstall.sh` runs it first, and `[schedule] enabled = false` runs it once.
//!
//! Gather → decide → report → text, all here.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, EvConfig};
use crate::ev::{charger, codec, rules, state};
use crate::exit_codes::Exit;
use crate::gx::{self, GxError};
use crate::handback::{self, Restored};
use crate::handback_file;
use crate::modbus::Device;
use crate::output::{CommandName, Failures, Head};
use crate::registers::Write;

/// What `release` did.
#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    pub command: CommandName,
    #[serde(flatten)]
    pub head: Head,
    /// Each setting given back, from what to what.
    pub restored: Vec<Restored>,
    /// The EV charger: what was done with a kick of this tool's (null without one).
    pub ev: Option<String>,
    pub writes: Vec<Write>,
    /// True when the GX (and the charger) hold what they held before this tool, and the
    /// hand-back record is gone.
    pub released: bool,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

/// `release`, with the record at `handback_path`.
pub fn release(config: &Config, handback_path: &Path, now: DateTime<Utc>) -> ReleaseReport {
    let mut failures = Failures::default();
    let mut warnings = Vec::new();
    let found = handback_file::load(handback_path).unwrap_or_else(|problem| {
        warnings.push(format!(
            "the hand-back record {} is unusable ({problem}): this tool had changed the GX, but what it held before is lost, so only slot 0 is cleared and a kick stopped; check the ESS minimum SoC and the Dynamic ESS mode on the GX",
            handback_path.display()
        ));
        // The record existed, so slot 0 is this tool's.
        handback::Found {
            slot: Some([0; 7]),
            ..handback::Found::default()
        }
    });
    let mut restored = Vec::new();
    let mut writes = Vec::new();
    let device = match gx::connect(&config.gx) {
        Ok(mut d) => {
            match give_back(&mut d, &found) {
                Ok((w, r)) => {
                    writes.extend(w);
                    restored.extend(r);
                }
                Err(e) => failures.push(&e),
            }
            Some(d)
        }
        Err(e) => {
            failures.push(&GxError::from(e));
            None
        }
    };
    let ev = config
        .ev
        .as_ref()
        .and_then(|ev| stop_kick(config, ev, device, &mut writes, &mut failures));
    let released = failures.is_empty();
    if released {
        if let Err(e) = handback_file::clear(handback_path) {
            failures.push(&e);
        }
    }
    let (errors, exit_code) = failures.finish();
    ReleaseReport {
        command: CommandName::Release,
        head: Head::new(config.timezone, now),
        restored,
        ev,
        writes,
        released: released && exit_code == Exit::Ok,
        warnings,
        errors,
        exit_code,
    }
}

/// Reads the GX, and writes back what the record says it held.
fn give_back(
    device: &mut Device,
    found: &handback::Found,
) -> Result<(Vec<Write>, Vec<Restored>), gx::WriteError> {
    let settings = gx::read_settings(device)?;
    let (writes, restored) = handback::release_writes(found, &settings);
    if !writes.is_empty() {
        gx::write_and_verify(device, &writes)?;
    }
    Ok((writes, restored))
}

/// Stops a kick this tool started and puts the charger's mode and current back; the state
/// file is cleared once that read back. `None` when no kick of this tool's runs.
fn stop_kick(
    config: &Config,
    ev: &EvConfig,
    gx: Option<Device>,
    writes: &mut Vec<Write>,
    failures: &mut Failures,
) -> Option<String> {
    let (previous_mode, previous_current_a, previous_start_stop) =
        match state::load(&ev.state_file).record().cloned() {
            Some(rules::Record::Kicking {
                previous_mode,
                previous_current_a,
                previous_start_stop,
                ..
            })
            | Some(rules::Record::Unsettled {
                previous_mode,
                previous_current_a,
                previous_start_stop,
                ..
            }) => (previous_mode, previous_current_a, previous_start_stop),
            _ => return None,
        };
    let reached = charger::reach(config, ev, gx);
    let (Some(mut device), Some(Ok(found))) = (reached.device, reached.reading) else {
        failures.add(
            Exit::Device,
            &format!(
                "the EV charger ({}) could not be read, so the charge this tool started is still running: run `release` again once it answers",
                reached.at
            ),
        );
        return Some("a kick of this tool's could not be stopped".to_string());
    };
    let stop = codec::writes(
        &codec::Action::Stop {
            mode: previous_mode,
            current_a: previous_current_a,
            restart: rules::restarts(previous_start_stop, previous_mode),
        },
        ev,
        &charger::map_for(ev.via),
        &found,
    );
    if let Err(e) = gx::write_and_verify(&mut device, &stop) {
        failures.push(&e);
        return Some("a kick of this tool's could not be stopped".to_string());
    }
    writes.extend(stop);
    if let Err(e) = state::clear(&ev.state_file) {
        failures.push(&e);
    }
    Some(format!(
        "stopped the charge this tool started, and put the charger back in {} mode at {previous_current_a} A",
        codec::mode_name(previous_mode)
    ))
}

/// A run while `[schedule] enabled = false`, with nothing to give back: it touched nothing.
#[derive(Debug, Serialize)]
pub struct Paused {
    pub command: CommandName,
    pub paused: bool,
    pub reason: String,
    pub writes: Vec<Write>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

impl Paused {
    pub fn text(&self) -> String {
        format!("{}: {}", self.command, self.reason)
    }
}

/// Whether this tool holds anything on the GX or the charger to give back: a hand-back record,
/// or a kick of ev-kick's.
pub fn anything_to_give_back(config: &Config, handback_path: &Path) -> bool {
    let kicking = config.ev.as_ref().is_some_and(|ev| {
        matches!(
            state::load(&ev.state_file).record(),
            Some(rules::Record::Kicking { .. } | rules::Record::Unsettled { .. })
        )
    });
    kicking || handback_path.exists()
}

/// A run of `command` while paused: a writing run with something to give back releases it
/// (`Ok`), anything else touches nothing (`Err`, the report).
pub fn while_paused(
    config: &Config,
    handback_path: &Path,
    command: CommandName,
    writes: bool,
    now: DateTime<Utc>,
) -> Result<ReleaseReport, Paused> {
    let pending = anything_to_give_back(config, handback_path);
    if writes && pending {
        let mut report = release(config, handback_path, now);
        report.warnings.insert(
            0,
            "paused ([schedule] enabled = false): handing the GX back; later runs do nothing until it is true again".to_string(),
        );
        return Ok(report);
    }
    let reason = match (writes, pending) {
        (false, true) => {
            "paused ([schedule] enabled = false): the next apply or ev-kick hands the GX back (see release); nothing read, nothing written"
        }
        _ => "paused ([schedule] enabled = false): nothing read, nothing written",
    };
    Err(Paused {
        command,
        paused: true,
        reason: reason.to_string(),
        writes: Vec::new(),
        errors: Vec::new(),
        exit_code: Exit::Ok,
    })
}

/// The report as text.
pub fn text(r: &ReleaseReport) -> String {
    let mut t = String::new();
    if r.restored.is_empty() && r.ev.is_none() && r.errors.is_empty() {
        return "release: nothing to give back; the GX holds nothing of this tool's".to_string();
    }
    for x in &r.restored {
        t += &format!("release: {}: {} → {}\n", x.setting, x.from, x.to);
    }
    if let Some(ev) = &r.ev {
        t += &format!("release: EV charger: {ev}\n");
    }
    t += if r.released {
        "release: done, every value read back; the GX is as this tool found it"
    } else {
        "release: not finished; run it again once the errors below are fixed"
    };
    t
}
