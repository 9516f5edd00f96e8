//! The commands: which one the command line asked for, running it (the clock check and the
//! lock for those that write, the pause switch), and printing its report. Each command owns
//! its gather → decide → report → text in a module of its own.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::commands::schedule::{Mode, PlanReport};
use crate::commands::simulate::{SimulateArgs, SimulateReport};
use crate::commands::status::StatusReport;
use crate::config::Config;
use crate::ev::kick::{KickDisabled, KickReport};
use crate::exit_codes::{Exit, HasExit};
use crate::handback_file;
use crate::lock;
use crate::output::{CommandName, Output, stderr, stdout};

pub mod release;
pub mod schedule;
pub mod simulate;
pub mod status;
pub mod timeline;

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

impl Command {
    pub fn name(self) -> CommandName {
        match self {
            Command::Schedule { mode, .. } => mode.command(),
            Command::EvKick { .. } => CommandName::EvKick,
            Command::Status { .. } => CommandName::Status,
            Command::Simulate(_) => CommandName::Simulate,
            Command::Release => CommandName::Release,
        }
    }
}

/// A host clock that has plainly not been set: a writing run refuses it (exit 4).
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to write the GX: the clock says {now}, before 2024 — the GX has not synchronised its time (check its internet connection or set the date), and a schedule built on it would be wrong"
)]
pub struct ClockNotSet {
    now: String,
}

impl HasExit for ClockNotSet {
    fn exit(&self) -> Exit {
        Exit::Device
    }
}

/// The host clock, refusing one that has plainly not been set.
pub fn check_clock(now: DateTime<Utc>) -> Result<(), ClockNotSet> {
    if now.timestamp() < EARLIEST_BELIEVABLE {
        Err(ClockNotSet {
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
            return Report::Refused(Refused::new(Some(command.name()), e.exit(), &e));
        }
    }
    let _lock = if writes {
        let path = lock::path_for(config_path);
        match lock::acquire(&path, lock::WAIT, lock::announce_wait) {
            Ok(l) => Some(l),
            Err(e) => {
                return Report::Refused(Refused::new(Some(command.name()), e.exit(), &e));
            }
        }
    } else {
        None
    };
    let handback = handback_file::path_for(config_path);
    let pausable = matches!(command, Command::Schedule { .. } | Command::EvKick { .. });
    if !config.schedule.enabled && pausable {
        return match release::while_paused(config, &handback, command.name(), writes, now) {
            Ok(released) => Report::Release(Box::new(released)),
            Err(paused) => Report::Paused(paused),
        };
    }
    match (command, ev) {
        (Command::Schedule { mode, at }, _) => Report::Plan(Box::new(schedule::schedule(
            config, &handback, mode, now, at,
        ))),
        (Command::Status { check }, _) => {
            Report::Status(Box::new(status::status(config, now, check)))
        }
        (Command::Simulate(args), _) => {
            Report::Simulate(Box::new(simulate::simulate(config, now, &args)))
        }
        (Command::Release, _) => {
            Report::Release(Box::new(release::release(config, &handback, now)))
        }
        (Command::EvKick { .. }, None) => Report::EvKickDisabled(crate::ev::kick::disabled(config)),
        (Command::EvKick { dry_run, at }, Some(ev)) => Report::EvKick(Box::new(
            crate::ev::kick::kick(config, ev, at.unwrap_or(now), dry_run),
        )),
    }
}

/// Any report, as the command line prints it. `report` names the document's shape; the
/// `command` inside says which command ran.
#[derive(Debug, Serialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// `plan` and `apply`.
    Plan(Box<PlanReport>),
    Status(Box<StatusReport>),
    EvKick(Box<KickReport>),
    /// `ev-kick` with no `[ev]` section or `enabled = false`.
    EvKickDisabled(KickDisabled),
    Simulate(Box<SimulateReport>),
    Release(Box<release::ReleaseReport>),
    Paused(release::Paused),
    Refused(Refused),
}

impl Report {
    pub fn exit(&self) -> Exit {
        match self {
            Report::Plan(r) => r.exit_code,
            Report::Status(r) => r.exit_code,
            Report::EvKick(r) => r.exit_code,
            Report::EvKickDisabled(r) => r.exit_code,
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
            Report::EvKick(r) => &r.errors,
            Report::EvKickDisabled(r) => &r.errors,
            Report::Simulate(r) => &r.errors,
            Report::Release(r) => &r.errors,
            Report::Paused(r) => &r.errors,
            Report::Refused(r) => &r.errors,
        }
    }
}

/// A run refused before it touched any device: usage, config, lock or clock.
#[derive(Debug, Serialize)]
pub struct Refused {
    /// The command, when it is known.
    pub command: Option<CommandName>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

impl Refused {
    pub fn new(command: Option<CommandName>, exit: Exit, error: &impl ToString) -> Refused {
        Refused {
            command,
            errors: vec![error.to_string()],
            exit_code: exit,
        }
    }
}

/// Prints a report: the JSON document or the text, then its warnings and errors on stderr.
pub fn print(out: Output, config: &Config, report: &Report) {
    let warnings: &[String] = match report {
        Report::Plan(r) => &r.warnings,
        Report::Release(r) => &r.warnings,
        _ => &[],
    };
    if let Report::EvKick(r) = report {
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
        Report::Plan(r) => schedule::plan_text(out, config, r),
        Report::Status(r) => Some(status::status_text(out, config, r)),
        Report::EvKick(r) => Some(crate::ev::kick::kick_text(out, config, r)),
        Report::EvKickDisabled(r) => Some(crate::ev::kick::disabled_text(r)),
        Report::Simulate(r) => Some(simulate::simulate_text(config, r)),
        Report::Release(r) => Some(release::text(r)),
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
