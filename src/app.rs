//! The shell around the pure rules: read the devices, decide, write, report.
//!
//! Each command is one function here. The order of `apply` is the safety argument: every
//! precondition (config, clock, lock, BMS read, GX reachable and in a schedulable state,
//! Dynamic ESS block readable) is checked before the first write, so a run that exits 2 or 4
//! has written nothing.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::bms::{self, BmsError, BmsReading};
use crate::charger;
use crate::config::{Config, EvConfig};
use crate::error::Exit;
use crate::evkick::{self, Charger, Decision, Inputs, NextRecord, Record, Site};
use crate::gx::{self, GxError, GxSettings, WriteError};
use crate::kickstate::{self, Loaded, StateFileError};
use crate::lock;
use crate::modbus::{Device, Snapshot};
use crate::plan::{self, Plan};
use crate::registers::ChargerMap;
use crate::render;
use crate::writes::{self, WritePlan};

/// The earliest believable clock: a GX whose clock says earlier has not synchronised it.
pub const EARLIEST_BELIEVABLE: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// What every command gets from the command line.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Config,
    pub config_path: PathBuf,
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// Everything `plan` and `apply` found and decided, for the renderers.
#[derive(Debug)]
pub struct Outcome {
    pub command: &'static str,
    pub now: DateTime<Utc>,
    pub bms: Result<BmsReading, BmsError>,
    pub plan: Plan,
    pub gx: Result<GxSettings, GxError>,
    pub writes: WritePlan,
    /// Whether the writes were sent (and read back).
    pub applied: bool,
    /// A write or read-back failure, after the plan was made.
    pub write_error: Option<WriteError>,
    pub exit: Exit,
}

impl Outcome {
    /// The one-sentence errors of this run, most important first.
    pub fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = &self.bms {
            out.push(e.to_string());
        }
        if let Err(e) = &self.gx {
            out.push(e.to_string());
        }
        if let Some(e) = &self.write_error {
            out.push(e.to_string());
        }
        out
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

/// `plan` (write = false) and `apply` (write = true).
pub fn plan_or_apply(ctx: &Context, write: bool, at: Option<DateTime<Utc>>) -> Exit {
    let command = if write { "apply" } else { "plan" };
    let host_now = crate::clock::now();
    let now = at.unwrap_or(host_now);
    if write {
        if let Some(at) = at {
            render::stderr(&format!(
                "WARNING: apply --at {}: planning as if it were then, but writing the GX now",
                at.to_rfc3339()
            ));
        }
        if let Err(e) = check_clock(host_now) {
            render::stderr(&format!("error: {e}"));
            return Exit::Device;
        }
    } else if let Err(e) = check_clock(host_now) {
        render::stderr(&format!("warning: {e}"));
    }

    let _lock = if write {
        match lock::acquire(&lock::path_for(&ctx.config_path), lock::WAIT) {
            Ok(l) => Some(l),
            Err(e) => {
                render::stderr(&format!("error: {e}"));
                return Exit::Internal;
            }
        }
    } else {
        None
    };

    let outcome = decide_and_write(ctx, command, now, write);
    render::outcome(ctx, &outcome);
    outcome.exit
}

fn decide_and_write(
    ctx: &Context,
    command: &'static str,
    now: DateTime<Utc>,
    write: bool,
) -> Outcome {
    let config = &ctx.config;
    let bms = bms::read(&config.bms);
    let plan = match &bms {
        Ok(reading) => plan::plan(config, now, reading),
        Err(e) => plan::safe_plan(config, now, short_bms_reason(e)),
    };

    let (mut device, gx, writes) = prepare_gx(config, &plan);
    let mut applied = false;
    let mut write_error = None;
    if write && gx.is_ok() && !writes.writes.is_empty() {
        if let Some(d) = &mut device {
            match gx::write_and_verify(d, &writes.writes) {
                Ok(()) => applied = true,
                Err(e) => write_error = Some(e),
            }
        }
    }
    if let Some(d) = &device {
        log::debug!("GX {}: {} Modbus requests", d.address, d.requests);
    }

    let exit = if bms.is_err() {
        Exit::Bms
    } else if gx.is_err() {
        Exit::Device
    } else {
        match &write_error {
            Some(WriteError::ReadBack(_)) => Exit::ReadBack,
            Some(WriteError::Gx(_)) => Exit::Device,
            None => Exit::Ok,
        }
    };
    Outcome {
        command,
        now,
        bms,
        plan,
        gx,
        writes,
        applied,
        write_error,
        exit,
    }
}

/// Connects, reads the settings and decides the writes; the device stays open for writing.
fn prepare_gx(
    config: &Config,
    plan: &Plan,
) -> (Option<Device>, Result<GxSettings, GxError>, WritePlan) {
    let mut device = match gx::connect(&config.gx) {
        Ok(d) => d,
        Err(e) => return (None, Err(e.into()), WritePlan::default()),
    };
    let result = gx::read_settings(&mut device)
        .and_then(|settings| writes::plan_writes(config, plan, &settings).map(|w| (settings, w)));
    match result {
        Ok((settings, w)) => (Some(device), Ok(settings), w),
        Err(e) => (Some(device), Err(e), WritePlan::default()),
    }
}

fn short_bms_reason(e: &BmsError) -> &'static str {
    match e {
        BmsError::Unreachable { .. } => "unreachable",
        BmsError::Timeout { .. } => "no answer in time",
        BmsError::Status { .. } => "HTTP error",
        BmsError::TooLarge { .. } => "answer too large",
        BmsError::Unusable { .. } => "answer unusable",
    }
}

/// What `status` found: each part independently.
#[derive(Debug)]
pub struct Status {
    pub now: DateTime<Utc>,
    pub bms: Result<BmsReading, BmsError>,
    pub gx: Result<Snapshot, GxError>,
    pub ev: Option<EvStatus>,
}

/// `status`: read both devices and print what they report; a failing part does not hide the other.
pub fn status(ctx: &Context) -> Exit {
    let config = &ctx.config;
    let now = crate::clock::now();
    let bms = bms::read(&config.bms);
    let (gx, device) = match gx::connect(&config.gx) {
        Ok(mut d) => (gx::read(&mut d, &gx::status_registers()), Some(d)),
        Err(e) => (Err(GxError::from(e)), None),
    };
    let ev = config.ev.as_ref().filter(|ev| ev.enabled).map(|ev| {
        let reached = charger::reach(config, ev, device);
        EvStatus {
            at: reached.at,
            charger: reached.reading,
            record: kickstate::load(&ev.state_file),
        }
    });
    let status = Status { now, bms, gx, ev };
    render::status(ctx, &status);
    let charger_failed = status
        .ev
        .as_ref()
        .is_some_and(|ev| !matches!(ev.charger, Some(Ok(_))));
    if status.bms.is_err() {
        Exit::Bms
    } else if status.gx.is_err() || charger_failed {
        Exit::Device
    } else {
        Exit::Ok
    }
}

/// The EV charger as `status` found it, when `[ev]` is enabled.
#[derive(Debug)]
pub struct EvStatus {
    pub at: String,
    /// `None` when not read: the GX connection it shares had failed.
    pub charger: Option<Result<Charger, GxError>>,
    pub record: Loaded,
}

/// Everything `ev-kick` found, decided and did, for the renderers.
#[derive(Debug)]
pub struct KickOutcome {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    /// Where the charger was reached: `GX 127.0.0.1:502 unit 40`.
    pub charger_at: String,
    pub before: Loaded,
    pub bms: Result<BmsReading, BmsError>,
    pub site: Result<Site, GxError>,
    /// `None` when it was not read: the GX connection it shares had already failed.
    pub charger: Option<Result<Charger, GxError>>,
    pub decision: Option<Decision>,
    pub writes: Vec<crate::writes::Write>,
    /// Whether the writes were sent and read back.
    pub applied: bool,
    pub write_error: Option<WriteError>,
    pub state_error: Option<StateFileError>,
    /// The record the state file holds after the run (or would, on a dry run).
    pub after: Option<Record>,
    pub exit: Exit,
}

impl KickOutcome {
    /// The one-sentence errors of this run, most important first.
    pub fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = &self.bms {
            out.push(e.to_string());
        }
        if let Err(e) = &self.site {
            out.push(e.to_string());
        }
        if let Some(Err(e)) = &self.charger {
            out.push(e.to_string());
        }
        if let Some(e) = &self.write_error {
            out.push(e.to_string());
        }
        if let Some(e) = &self.state_error {
            out.push(e.to_string());
        }
        out
    }
}

/// `ev-kick`: read, decide once, act at most once.
pub fn ev_kick(ctx: &Context, dry_run: bool) -> Exit {
    let config = &ctx.config;
    let Some(ev) = config.ev.as_ref().filter(|ev| ev.enabled) else {
        render::kick_disabled(ctx);
        return Exit::Ok;
    };
    let _lock = if dry_run {
        None
    } else {
        match lock::acquire(&lock::path_for(&ctx.config_path), lock::WAIT) {
            Ok(l) => Some(l),
            Err(e) => {
                render::stderr(&format!("error: {e}"));
                return Exit::Internal;
            }
        }
    };
    let outcome = kick(config, ev, crate::clock::now(), dry_run);
    render::kick(ctx, &outcome);
    outcome.exit
}

fn kick(config: &Config, ev: &EvConfig, now: DateTime<Utc>, dry_run: bool) -> KickOutcome {
    let before = kickstate::load(&ev.state_file);
    let bms = bms::read(&config.bms);
    let map = charger::map_for(ev.via);

    let (site, gx_device) = match gx::connect(&config.gx) {
        Ok(mut d) => (charger::read_site(&mut d), Some(d)),
        Err(e) => (Err(GxError::from(e)), None),
    };
    let charger::Reached {
        device: mut charger_device,
        at: charger_at,
        reading: charger,
    } = charger::reach(config, ev, gx_device);

    let mut out = KickOutcome {
        now,
        dry_run,
        charger_at,
        after: before.record().cloned(),
        before,
        bms,
        site,
        charger,
        decision: None,
        writes: Vec::new(),
        applied: false,
        write_error: None,
        state_error: None,
        exit: Exit::Ok,
    };
    if let Some(Ok(charger)) = out.charger {
        let decision = evkick::decide(&Inputs {
            config: ev,
            timezone: config.timezone,
            now,
            bms: out.bms.as_ref().ok(),
            site: out.site.as_ref().ok().copied(),
            charger,
            record: out.before.record(),
        });
        out.writes = evkick::writes(&decision.action, ev, &map, &charger);
        out.after = match &decision.record {
            NextRecord::Keep => out.before.record().cloned(),
            NextRecord::Set(r) => Some(r.clone()),
            NextRecord::Clear => None,
        };
        if !dry_run {
            if let Some(device) = &mut charger_device {
                carry_out(&mut out, &decision, ev, &map, device);
            }
        }
        out.decision = Some(decision);
    }
    if let Some(d) = &charger_device {
        log::debug!("{}: {} Modbus requests", out.charger_at, d.requests);
    }
    out.exit = if out.bms.is_err() {
        Exit::Bms
    } else if out.site.is_err() || !matches!(out.charger, Some(Ok(_))) {
        Exit::Device
    } else {
        match (&out.write_error, &out.state_error) {
            (Some(WriteError::ReadBack(_)), _) => Exit::ReadBack,
            (Some(WriteError::Gx(_)), _) => Exit::Device,
            (None, Some(_)) => Exit::Internal,
            (None, None) => Exit::Ok,
        }
    };
    out
}

/// Writes the charger and the state file in the order that keeps them consistent if the run
/// dies half-way: a kick is recorded before the charger is started (so a later run can always
/// stop what this one started), and forgotten only after the charger is stopped.
fn carry_out(
    out: &mut KickOutcome,
    decision: &Decision,
    ev: &EvConfig,
    map: &ChargerMap,
    device: &mut Device,
) {
    let path = ev.state_file.as_path();
    let starting = matches!(decision.record, NextRecord::Set(Record::Kicking { .. }));
    if starting {
        if let NextRecord::Set(r) = &decision.record {
            if let Err(e) = kickstate::save(path, r) {
                out.state_error = Some(e);
                out.after = out.before.record().cloned();
                return;
            }
        }
    }
    if !out.writes.is_empty() {
        match gx::write_and_verify(device, &out.writes) {
            Ok(()) => out.applied = true,
            Err(e) => {
                out.write_error = Some(e);
                if starting {
                    // Forget the intent unless the charger really is in our manual mode now.
                    let ours = charger::read_charger(device, map).is_ok_and(|c| {
                        c.mode == evkick::MODE_MANUAL && c.set_current_a == ev.current_a
                    });
                    if !ours && kickstate::clear(&ev.state_file).is_ok() {
                        out.after = None;
                    }
                } else {
                    // A failed stop keeps the record, so the next run tries again.
                    out.after = out.before.record().cloned();
                }
                return;
            }
        }
    }
    let result = match &decision.record {
        NextRecord::Keep => Ok(()),
        NextRecord::Set(_) if starting => Ok(()),
        NextRecord::Set(r) => kickstate::save(path, r),
        NextRecord::Clear => kickstate::clear(path),
    };
    if let Err(e) = result {
        out.state_error = Some(e);
    }
}
