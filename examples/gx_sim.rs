//! Runs the GX simulator on its own:
//! `cargo run --example gx_sim -- [--port N] [--fault F] [--seconds S] [--evcs] [--timezone ZONE]
//! [--stale-target-soc N] [--firmware 3.50|3.60|3.70|3.80] [--map old|new] [--apply-delay-ms N]
//! [--global-restrictions N]` (`--help` says what each does). It stops by itself after
//! `--seconds` (an hour unless told).
//!
//! Without `--firmware` it is v3.70's control code on the new slot map (as `GxSim::start`);
//! with it, that Venus OS line on its own map (old up to v3.70, new on v3.80) unless `--map`
//! says otherwise. Every write is acknowledged at once and applied `--apply-delay-ms` later
//! (5 ms unless told), as on a real GX.
//!
//! Prints `listening 127.0.0.1:PORT` on its first line, then a counter line every second while
//! the counts change, so a script can read how many Modbus requests a run cost. The line and
//! map it simulates go to stderr.

#[path = "sim/args.rs"]
mod args;
#[path = "sim/gx.rs"]
mod gx;

use std::process::ExitCode;
use std::time::{Duration, Instant};

const SPEC: args::Spec = args::Spec {
    usage: "usage: gx_sim [--port N] [--fault F] [--seconds S] [--evcs] [--timezone ZONE] [--stale-target-soc N]
              [--firmware V] [--map M] [--apply-delay-ms N] [--global-restrictions N]
  --port N                  listen on 127.0.0.1:N (default: a free port, printed first)
  --fault F                 none, hang, close-mid-response, wrong-transaction-id, old-firmware, drop-writes
  --seconds S               stop by itself after S seconds (default 3600)
  --evcs                    serve an EV charging station's own server (unit 1) instead of the GX
  --timezone ZONE           the GX's own time zone, the clock it counts slot 0 on (default Australia/Hobart)
  --stale-target-soc N      a TargetSoc left behind by VRM, which the GX (from v3.70) prefers to slot 0's Soc
  --firmware V              the Venus OS line: 3.50, 3.60, 3.70 or 3.80 (default: 3.70 on the new map)
  --map M                   slot 0's register map: old (Strategy at 5429, no 5430) or new (Strategy at 5430);
                            default: the line's own (old up to 3.70, new on 3.80)
  --apply-delay-ms N        a write is acknowledged at once and applied N ms later (default 5)
  --global-restrictions N   a global Dynamic ESS Restrictions left by VRM, ORed into the slot's on 3.50/3.60",
    values: &[
        "--port",
        "--fault",
        "--seconds",
        "--timezone",
        "--stale-target-soc",
        "--firmware",
        "--map",
        "--apply-delay-ms",
        "--global-restrictions",
    ],
    switches: &["--evcs"],
    positional: false,
};

/// `--flag N` as a number, or exit 2 naming it.
fn number<T: std::str::FromStr>(args: &args::Args, flag: &str) -> Result<Option<T>, ExitCode> {
    match args.value(flag) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            eprintln!("{flag} {text}: not a number");
            ExitCode::from(2)
        }),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn run() -> Result<(), ExitCode> {
    let args = args::Args::from_env(&SPEC)?;
    let value = |flag: &str| args.value(flag);
    let (port, seconds) = (args.port(), args.seconds());
    let fault = match value("--fault").as_deref().map(gx::Fault::parse) {
        None => gx::Fault::None,
        Some(Some(f)) => f,
        Some(None) => {
            eprintln!(
                "unknown --fault; use none, hang, close-mid-response, wrong-transaction-id, old-firmware, drop-writes"
            );
            return Err(ExitCode::from(2));
        }
    };
    let firmware = match value("--firmware") {
        None => None,
        Some(text) => match gx::Firmware::parse(&text) {
            Some(f) => Some(f),
            None => {
                eprintln!("--firmware {text}: use 3.50, 3.60, 3.70 or 3.80");
                return Err(ExitCode::from(2));
            }
        },
    };
    let map = match value("--map") {
        None => None,
        Some(text) => match gx::SlotMap::parse(&text) {
            Some(m) => Some(m),
            None => {
                eprintln!("--map {text}: use old or new");
                return Err(ExitCode::from(2));
            }
        },
    };
    let apply_delay_ms: Option<u64> = number(&args, "--apply-delay-ms")?;
    let global_restrictions: Option<u16> = number(&args, "--global-restrictions")?;
    let stale_target_soc: Option<u16> = number(&args, "--stale-target-soc")?;
    let timezone = match value("--timezone") {
        None => None,
        Some(zone) => match zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                eprintln!("--timezone {zone}: not an IANA zone");
                return Err(ExitCode::from(2));
            }
        },
    };
    let started = if args.has("--evcs") {
        gx::GxSim::start_with([(1u8, gx::evcs_unit())].into_iter().collect(), port)
    } else {
        match firmware {
            None => gx::GxSim::start_line_on(
                gx::Firmware::V370,
                Some(map.unwrap_or(gx::SlotMap::New)),
                port,
            ),
            Some(f) => gx::GxSim::start_line_on(f, map, port),
        }
    };
    let sim = started.map_err(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        ExitCode::from(1)
    })?;
    {
        let mut s = sim.state();
        s.fault = fault;
        if let Some(tz) = timezone {
            s.timezone = tz;
        }
        if stale_target_soc.is_some() {
            s.stale_target_soc = stale_target_soc;
        }
        if let Some(ms) = apply_delay_ms {
            s.apply_delay = Duration::from_millis(ms);
        }
        if let Some(r) = global_restrictions {
            s.global_restrictions = r;
        }
    }
    println!("listening {}", sim.addr);
    if !args.has("--evcs") {
        let s = sim.state();
        eprintln!(
            "GX: Venus OS {} on the {} slot map, writes applied after {} ms",
            s.firmware.name(),
            s.map.name(),
            s.apply_delay.as_millis()
        );
    }
    let started = Instant::now();
    let mut last = (u64::MAX, u64::MAX);
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(200));
        let s = sim.state();
        let now = (s.requests, s.bytes_in + s.bytes_out);
        if now != last {
            println!(
                "requests {} writes {} bytes_in {} bytes_out {}",
                s.requests, s.write_requests, s.bytes_in, s.bytes_out
            );
            last = now;
        }
    }
    Ok(())
}
