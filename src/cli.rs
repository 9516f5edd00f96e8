//! The command line: argument parsing and dispatch to the commands in `app`.
//!
//! The names here are a contract with cron lines and scripts: keep them.

use std::ffi::OsString;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, Utc};
use clap::{Parser, Subcommand};

use crate::app::{self, Context};
use crate::config::{CONFIG_ENV, Config, DEFAULT_CONFIG_PATH, Overrides};
use crate::error::Exit;
use crate::render;

/// Maintenance-aware charge scheduling for a Redflow ZCell on a Victron GX.
#[derive(Debug, Parser)]
#[command(name = "zcell-scheduler", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH, value_name = "FILE")]
    pub config: PathBuf,
    /// GX Modbus-TCP address, overriding gx.host (and gx.port).
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub gx: Option<String>,
    /// BMS base URL, overriding bms.url.
    #[arg(long, global = true, value_name = "URL")]
    pub bms: Option<String>,
    /// IANA time zone, overriding `timezone`.
    #[arg(long, global = true, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// More detail (-v: the full plan on apply; -vv: every Modbus request).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: read BMS and GX, print the plan and the exact register writes; writes nothing.
    Plan {
        /// Plan as if it were this instant (RFC 3339, e.g. 2026-11-24T07:00:00+11:00).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Write only what differs to the GX, and read every write back.
    Apply {
        /// Plan as if it were this instant (RFC 3339); the writes still happen now.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// During a maintenance discharge, charge the EV from the battery; stop when it ends.
    EvKick {
        /// Decide and print, but write nothing (neither the charger nor the state file).
        #[arg(long)]
        dry_run: bool,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What the BMS and the GX report now, decoded.
    Status {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Parses `--at`: RFC 3339, within years the rules can reason about.
pub fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            format!("--at `{text}` is not an RFC 3339 time like 2026-11-24T07:00:00+11:00 ({e})")
        })?
        .with_timezone(&Utc);
    if !(2000..=2100).contains(&t.year()) {
        return Err(format!("--at `{text}` is outside the years 2000-2100"));
    }
    Ok(t)
}

/// Runs the tool with the process's arguments.
pub fn main() -> Exit {
    run(std::env::args_os())
}

/// Runs the tool with the given arguments (the first is the program name).
pub fn run<I, T>(args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .format_timestamp(None)
        .try_init();

    let overrides = Overrides {
        gx: cli.gx.clone(),
        bms: cli.bms.clone(),
        timezone: cli.timezone.clone(),
    };
    let config = match Config::load(&cli.config, &overrides) {
        Ok(c) => c,
        Err(e) => {
            render::stderr(&format!("error: {e}"));
            return Exit::Usage;
        }
    };
    let json = match &cli.command {
        Command::Plan { json, .. }
        | Command::Apply { json, .. }
        | Command::EvKick { json, .. }
        | Command::Status { json } => *json,
    };
    let ctx = Context {
        config,
        config_path: cli.config.clone(),
        json,
        quiet: cli.quiet,
        verbose: cli.verbose > 0,
    };
    let at = |text: &Option<String>| -> Result<Option<DateTime<Utc>>, Exit> {
        text.as_deref().map(parse_at).transpose().map_err(|e| {
            render::stderr(&format!("error: {e}"));
            Exit::Usage
        })
    };
    match &cli.command {
        Command::Plan { at: text, .. } => match at(text) {
            Ok(t) => app::plan_or_apply(&ctx, false, t),
            Err(code) => code,
        },
        Command::Apply { at: text, .. } => match at(text) {
            Ok(t) => app::plan_or_apply(&ctx, true, t),
            Err(code) => code,
        },
        Command::EvKick { dry_run, .. } => app::ev_kick(&ctx, *dry_run),
        Command::Status { .. } => app::status(&ctx),
    }
}
