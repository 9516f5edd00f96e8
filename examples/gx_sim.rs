//! Runs the GX simulator on its own:
//! `cargo run --example gx_sim -- [--port N] [--fault F] [--seconds S] [--evcs] [--timezone ZONE]
//! [--stale-target-soc N]` (`--help` says what each does). It stops by itself after `--seconds`
//! (an hour unless told).
//!
//! Prints `listening 127.0.0.1:PORT` on its first line, then a counter line every second while
//! the counts change, so a script can read how many Modbus requests a run cost.

#[path = "sim/args.rs"]
mod args;
#[path = "sim/gx.rs"]
mod gx;

use std::time::{Duration, Instant};

const SPEC: args::Spec = args::Spec {
    usage: "usage: gx_sim [--port N] [--fault F] [--seconds S] [--evcs] [--timezone ZONE] [--stale-target-soc N]
  --port N               listen on 127.0.0.1:N (default: a free port, printed first)
  --fault F              none, hang, close-mid-response, wrong-transaction-id, old-firmware, drop-writes
  --seconds S            stop by itself after S seconds (default 3600)
  --evcs                 serve an EV charging station's own server (unit 1) instead of the GX
  --timezone ZONE        the GX's own time zone, the clock it counts slot 0 on (default Australia/Hobart)
  --stale-target-soc N   a TargetSoc left behind by VRM, which the GX prefers to slot 0's Soc",
    values: &["--port", "--fault", "--seconds", "--timezone", "--stale-target-soc"],
    switches: &["--evcs"],
    positional: false,
};

fn main() -> std::process::ExitCode {
    let args = match args::Args::from_env(&SPEC) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let value = |flag: &str| args.value(flag);
    let (port, seconds) = (args.port(), args.seconds());
    let fault = match value("--fault").as_deref().map(gx::Fault::parse) {
        None => gx::Fault::None,
        Some(Some(f)) => f,
        Some(None) => {
            eprintln!(
                "unknown --fault; use none, hang, close-mid-response, wrong-transaction-id, old-firmware, drop-writes"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let units = if args.has("--evcs") {
        [(1u8, gx::evcs_unit())].into_iter().collect()
    } else {
        [(100u8, gx::gx_unit()), (40u8, gx::evcharger_unit())]
            .into_iter()
            .collect()
    };
    let sim = match gx::GxSim::start_with(units, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    sim.state().fault = fault;
    if let Some(zone) = value("--timezone") {
        match zone.parse() {
            Ok(tz) => sim.state().timezone = tz,
            Err(_) => {
                eprintln!("--timezone {zone}: not an IANA zone");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if let Some(soc) = value("--stale-target-soc") {
        match soc.parse() {
            Ok(v) => sim.state().stale_target_soc = Some(v),
            Err(_) => {
                eprintln!("--stale-target-soc {soc}: not a number");
                return std::process::ExitCode::from(2);
            }
        }
    }
    println!("listening {}", sim.addr);
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
    std::process::ExitCode::SUCCESS
}
