//! The command line: argument parsing (every flag checked where clap parses it) and dispatch
//! to the commands.
//!
//! The names here are a contract with cron lines and scripts: keep them.

use std::ffi::OsString;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};

use crate::commands::schedule::Mode;
use crate::commands::{self, Command as Run, Refused, Report};
use crate::config::{CONFIG_ENV, DEFAULT_CONFIG_PATH, Overrides};
use crate::exit_codes::Exit;
use crate::output::{CommandName, Output};

/// What `--help` says after the options.
const AFTER_HELP: &str = "\
Exit codes:
  0  done (also \"nothing to change\")
  1  the lock was held for 30 s, or an unexpected internal error
  2  usage or config error; nothing touched
  3  BMS unreachable or its answer unusable; the safe state was applied if the GX was reachable
  4  GX (or EV charging station) unreachable, refusing, or not schedulable; nothing written
     (status --check: a slot in force that the GX does not follow)
  5  a write did not read back as written

Every config key but timezone, bms.url and gx.host has a default; see
scripts/config.example.toml, which shows them.";

/// Maintenance-aware charge scheduling for a Redflow ZCell on a Victron GX.
#[derive(Debug, Parser)]
#[command(name = "zcell-scheduler", version, about, long_about = None, after_help = AFTER_HELP)]
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
    /// More detail: -v the whole report (apply: the plan and its writes; ev-kick: the readings
    /// and the state file; status --check: the whole status), -vv also every request.
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
        /// Plan as if it were this instant: RFC 3339 (2026-11-24T07:00:00+11:00), or a local
        /// time of the configured zone (2026-11-24T07:00).
        #[arg(long, value_name = "TIME", value_parser = parse_when)]
        at: Option<When>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Write only what differs to the GX, and read every write back.
    Apply {
        /// Plan as if it were this instant (RFC 3339, or a local time of the configured zone);
        /// the writes still happen now.
        #[arg(long, value_name = "TIME", value_parser = parse_when)]
        at: Option<When>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// During a maintenance discharge, charge the EV from the battery; stop when it ends.
    /// Needs an [ev] section in the config (without one it says so and does nothing).
    EvKick {
        /// Decide and print, but write nothing (neither the charger nor the state file).
        #[arg(long)]
        dry_run: bool,
        /// Decide as if it were this instant (RFC 3339, or a local time of the configured
        /// zone), like plan and apply; the writes still happen now.
        #[arg(long, value_name = "TIME", value_parser = parse_when)]
        at: Option<When>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What the BMS and the GX report now, decoded, and whether the GX follows slot 0.
    Status {
        /// Print only whether the GX follows slot 0, and exit 4 when a slot is in force that it
        /// does not follow (or the GX cannot be read); 0 otherwise. For cron.
        #[arg(long)]
        check: bool,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A week (or up to 31 days) of the rules on a battery model, before you change the config.
    /// Writes nothing; with --soc and --due-in it reads no device at all.
    Simulate {
        /// Start here (RFC 3339); default now.
        #[arg(long, value_name = "TIME", value_parser = parse_when)]
        from: Option<When>,
        /// Days to simulate, 1-31.
        #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=31))]
        days: u32,
        /// Starting battery SoC, %; default: the GX's.
        #[arg(long, value_name = "PERCENT", value_parser = within(0.0, 100.0, "%"))]
        soc: Option<f64>,
        /// Hours until maintenance is due (negative: overdue); default: the BMS's timers.
        #[arg(long, value_name = "HOURS", allow_hyphen_values = true,
              value_parser = within(-24.0 * 31.0, 24.0 * 365.0, "h"))]
        due_in: Option<f64>,
        /// A constant house load, W, instead of [simulate] load_w (default 400 W).
        #[arg(long, value_name = "W", value_parser = within(0.0, 100_000.0, "W"))]
        load: Option<f64>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Hand the GX back as this tool found it: clear slot 0, put back the minimum SoC, battery
    /// capacity and Dynamic ESS mode it changed, stop a kick of ev-kick's; every write read
    /// back. uninstall.sh runs it first.
    Release {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the cron block for this config (for the boot helper); touches no device. With a
    /// config that is not valid yet it prints a fallback block and exits 2.
    CronBlock {
        /// The cron wrapper to run.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/data/zcell-scheduler/cron-run.sh"
        )]
        runner: String,
    },
}

/// `--at` or `--from` as given: an instant, or a wall-clock time of the configured zone, which
/// becomes an instant once the config is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Instant(DateTime<Utc>),
    Local(chrono::NaiveDateTime),
}

/// Parses `--at` (and `--from`) where clap parses the flag: RFC 3339, or a wall-clock time
/// (`2026-11-24T07:00`, `2026-11-24 07:00:30`), within years the rules can reason about.
pub fn parse_when(text: &str) -> Result<When, String> {
    let local = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(text.trim(), f).ok());
    let (when, year) = match (DateTime::parse_from_rfc3339(text), local) {
        (Ok(t), _) => (When::Instant(t.with_timezone(&Utc)), t.year()),
        (Err(_), Some(wall)) => (When::Local(wall), wall.year()),
        (Err(e), None) => {
            return Err(format!(
                "neither an RFC 3339 time like 2026-11-24T07:00:00+11:00 nor a local time like 2026-11-24T07:00 ({e})"
            ));
        }
    };
    if !(2000..=2100).contains(&year) {
        return Err("outside the years 2000-2100".to_string());
    }
    Ok(when)
}

impl When {
    /// The instant: a local time in the configured zone. A local time the clocks skip moves to
    /// the first instant after the gap; one they repeat takes the earlier instant, as
    /// everywhere in the tool.
    pub fn instant(self, zone: Option<Tz>) -> Result<DateTime<Utc>, String> {
        match (self, zone) {
            (When::Instant(t), _) => Ok(t),
            (When::Local(wall), Some(zone)) => Ok(crate::clock::to_instant(zone, wall)),
            (When::Local(wall), None) => Err(format!(
                "a local time ({wall}) needs the config's timezone, and the config could not be read"
            )),
        }
    }
}

/// A clap parser for a number within `low..=high`, in `unit`.
fn within(low: f64, high: f64, unit: &'static str) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        if (low..=high).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{v} {unit} is outside {low} to {high} {unit}"))
        }
    }
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
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Exit::Ok;
        }
        Err(e) => {
            // A script that asked for JSON gets one document, even for a usage error.
            if args.iter().any(|a| a == "--json") {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                let message = first.trim_start_matches("error: ").to_string();
                let refused = Report::Refused(Refused::new(None, Exit::Usage, &message));
                crate::output::stdout(&commands::json(&refused));
            }
            let _ = e.print();
            return Exit::Usage;
        }
    };
    init_logging(&cli);
    if let Command::CronBlock { runner } = &cli.command {
        return cron_block(&cli, runner);
    }
    let loaded = crate::config_file::load(&cli.config, &overrides(&cli)).map_err(|e| e.to_string());
    // `--at` may be a wall-clock time of the configured zone.
    let zone = loaded.as_ref().ok().map(|c| c.timezone);
    let (json, command) = match &cli.command {
        Command::Plan { json, at } => (*json, schedule(Mode::Plan, at, zone)),
        Command::Apply { json, at } => (*json, schedule(Mode::Apply, at, zone)),
        Command::EvKick { json, dry_run, at } => (*json, ev_kick(*dry_run, at, zone)),
        Command::Status { json, check } => (*json, Ok(Run::Status { check: *check })),
        Command::Simulate {
            json,
            from,
            days,
            soc,
            due_in,
            load,
        } => (
            *json,
            simulate_args(from, *days, *soc, *due_in, *load, zone),
        ),
        Command::Release { json } => (*json, Ok(Run::Release)),
        Command::CronBlock { .. } => return Exit::Usage,
    };
    let out = Output {
        json,
        quiet: cli.quiet,
        verbose: cli.verbose > 0,
    };
    let (config, command) = match (loaded, command) {
        (Ok(config), Ok(command)) => (config, command),
        (Err(e), _) | (_, Err(e)) => {
            let asked = command_name(&cli.command);
            let refused = Report::Refused(Refused::new(asked, Exit::Usage, &e));
            if out.json {
                crate::output::stdout(&commands::json(&refused));
            }
            crate::output::stderr(&format!("error: {e}"));
            return Exit::Usage;
        }
    };
    let report = commands::run(&config, &cli.config, command);
    commands::print(out, &config, &report);
    report.exit()
}

/// The command a parsed command line asked for (`cron-block` prints no document).
fn command_name(command: &Command) -> Option<CommandName> {
    Some(match command {
        Command::Plan { .. } => CommandName::Plan,
        Command::Apply { .. } => CommandName::Apply,
        Command::EvKick { .. } => CommandName::EvKick,
        Command::Status { .. } => CommandName::Status,
        Command::Simulate { .. } => CommandName::Simulate,
        Command::Release { .. } => CommandName::Release,
        Command::CronBlock { .. } => return None,
    })
}

fn overrides(cli: &Cli) -> Overrides {
    Overrides {
        gx: cli.gx.clone(),
        bms: cli.bms.clone(),
        timezone: cli.timezone.clone(),
    }
}

/// `cron-block`: the block for this config, or the fallback block (and exit 2) while the
/// config is not valid.
fn cron_block(cli: &Cli, runner: &str) -> Exit {
    let (lines, exit) = match crate::config_file::load(&cli.config, &overrides(cli)) {
        Ok(config) => (crate::cron::block(&config, runner), Exit::Ok),
        Err(e) => {
            crate::output::stderr(&format!("error: {e}"));
            (crate::cron::fallback(runner, &e.to_string()), Exit::Usage)
        }
    };
    crate::output::stdout(&lines.join("\n"));
    exit
}

fn simulate_args(
    from: &Option<When>,
    days: u32,
    soc: Option<f64>,
    due_in: Option<f64>,
    load: Option<f64>,
    zone: Option<Tz>,
) -> Result<Run, String> {
    Ok(Run::Simulate(crate::commands::simulate::SimulateArgs {
        from: from.map(|t| t.instant(zone)).transpose()?,
        days,
        soc,
        due_in_h: due_in,
        load_w: load,
    }))
}

fn ev_kick(dry_run: bool, at: &Option<When>, zone: Option<Tz>) -> Result<Run, String> {
    let at = at.map(|t| t.instant(zone)).transpose()?;
    Ok(Run::EvKick { dry_run, at })
}

fn schedule(mode: Mode, at: &Option<When>, zone: Option<Tz>) -> Result<Run, String> {
    let at = at.map(|t| t.instant(zone)).transpose()?;
    Ok(Run::Schedule { mode, at })
}

/// Log lines on stderr as `warning: …` / `error: …`, like the tool's own messages.
fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .format(|f, record| {
            use std::io::Write as _;
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug | log::Level::Trace => "debug",
            };
            writeln!(f, "{level}: {}", record.args())
        })
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Australia::Hobart;

    /// As the command line does it: clap's parse, then the zone once the config is read.
    fn parse_at(text: &str, zone: Option<Tz>) -> Result<DateTime<Utc>, String> {
        parse_when(text)?.instant(zone)
    }

    #[test]
    fn at_is_rfc3339_or_a_local_time_of_the_configured_zone() {
        let want = parse_at("2026-11-24T07:00:00+11:00", None).unwrap();
        for local in [
            "2026-11-24T07:00",
            "2026-11-24 07:00",
            "2026-11-24T07:00:00",
        ] {
            assert_eq!(parse_at(local, Some(Hobart)), Ok(want), "{local}");
        }
        // Without a zone (the config did not load) only RFC 3339 is understood.
        assert!(parse_at("2026-11-24T07:00", None).is_err());
        // The spring-forward gap moves to its end, as every wall-clock time in the tool does.
        assert_eq!(
            parse_at("2026-10-04T02:30", Some(Hobart))
                .unwrap()
                .to_rfc3339(),
            "2026-10-03T16:00:00+00:00"
        );
        let e = parse_at("tomorrow", Some(Hobart)).unwrap_err();
        assert!(e.contains("local time like 2026-11-24T07:00"), "{e}");
    }

    #[test]
    fn flags_are_checked_where_clap_parses_them() {
        let refused = |args: &[&str]| {
            let mut argv = vec!["zcell-scheduler"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv).unwrap_err().to_string()
        };
        let e = refused(&["simulate", "--soc", "150"]);
        assert!(
            e.contains("--soc") && e.contains("150 % is outside 0 to 100 %"),
            "{e}"
        );
        let e = refused(&["simulate", "--due-in", "-800"]);
        assert!(
            e.contains("--due-in") && e.contains("outside -744 to 8760 h"),
            "{e}"
        );
        let e = refused(&["simulate", "--load", "lots"]);
        assert!(e.contains("--load") && e.contains("not a number"), "{e}");
        let e = refused(&["plan", "--at", "1999-01-01T00:00:00Z"]);
        assert!(
            e.contains("--at") && e.contains("outside the years 2000-2100"),
            "{e}"
        );
        let e = refused(&["apply", "--at", "tomorrow"]);
        assert!(e.contains("--at") && e.contains("local time like"), "{e}");
        let ok = Cli::try_parse_from([
            "zcell-scheduler",
            "simulate",
            "--due-in",
            "-3",
            "--soc",
            "80",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
    }
}
