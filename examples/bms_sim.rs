//! Runs the BMS simulator on its own:
//! `cargo run --example bms_sim -- [--port N] [--mode M] [--scenario FILE] [--seconds S]`
//! (`--help` says what each does). It stops by itself after `--seconds` (an hour unless told).
//!
//! Without `--scenario` it serves one battery at 63.4 % with maintenance due in 20 hours.
//! Prints `listening 127.0.0.1:PORT` first.

#[path = "sim/args.rs"]
mod args;
#[path = "sim/bms.rs"]
mod bms;

use std::time::{Duration, Instant};

const SPEC: args::Spec = args::Spec {
    usage: "usage: bms_sim [--port N] [--mode M] [--scenario FILE] [--seconds S]
  --port N          listen on 127.0.0.1:N (default: a free port, printed first)
  --mode M          ok, chunked, http500, http404, hang, stall, malformed, huge
  --scenario FILE   serve this status document (default: one battery at 63.4 %, due in 20 h)
  --seconds S       stop by itself after S seconds (default 3600)",
    values: &["--port", "--mode", "--scenario", "--seconds"],
    switches: &[],
    positional: false,
};

fn main() -> std::process::ExitCode {
    let args = match args::Args::from_env(&SPEC) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let value = |flag: &str| args.value(flag);
    let (port, seconds) = (args.port(), args.seconds());
    let body = match value("--scenario") {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cannot read scenario {path}: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => bms::scenario(&[bms::battery(63.4, false, 20 * 3600)]),
    };
    let mode = match value("--mode").as_deref().map(bms::Mode::parse) {
        None => bms::Mode::Ok,
        Some(Some(m)) => m,
        Some(None) => {
            eprintln!(
                "unknown --mode; use ok, chunked, http500, http404, hang, stall, malformed, huge"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let sim = match bms::BmsSim::start_on(body, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    sim.state().mode = mode;
    println!("listening {}", sim.addr);
    let started = Instant::now();
    let mut last = u64::MAX;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(200));
        let s = sim.state();
        if s.requests != last {
            println!("requests {} bytes_out {}", s.requests, s.bytes_out);
            last = s.requests;
        }
    }
    std::process::ExitCode::SUCCESS
}
