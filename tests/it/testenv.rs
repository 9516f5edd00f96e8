//! Shared helpers for the end-to-end tests: a site of simulators on loopback, a config for it,
//! and a bounded run of the real binary.
#![allow(dead_code)]

#[path = "../../examples/sim/bms.rs"]
pub mod bms;
#[path = "../../examples/sim/gx.rs"]
pub mod gx;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_zcell-scheduler");
/// No run of the binary may take longer than this in a test.
pub const RUN_LIMIT: Duration = Duration::from_secs(45);

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("zcell-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs the binary with `args` and `envs`, killing it (and failing) past [`RUN_LIMIT`].
pub fn run_bin(args: &[&str], envs: &[(&str, &str)]) -> Run {
    run_command(BIN, args, envs)
}

pub fn run_command(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env_remove("ZCELL_SCHEDULER_CONFIG")
        .envs(envs.iter().copied())
        .env("TZ", "America/Los_Angeles") // the host zone must never matter
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("{program} {args:?} ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// A GX and a BMS simulator with a config file pointing at them.
pub struct Site {
    pub gx: gx::GxSim,
    pub bms: bms::BmsSim,
    pub dir: TempDir,
    pub config: PathBuf,
}

pub const DAY: i64 = 86_400;

impl Site {
    /// One battery at 70 %, maintenance due in `due_in_s`, `reserve_soc = 30`.
    pub fn new(due_in_s: i64, stripping: bool) -> Site {
        Site::with_body(
            bms::scenario(&[bms::battery(70.0, stripping, due_in_s)]),
            "reserve_soc = 30",
        )
    }

    /// As [`Site::new`], on a GX of `firmware`'s line with its own register map.
    pub fn on_line(due_in_s: i64, firmware: gx::Firmware) -> Site {
        Site::with_gx(
            gx::GxSim::start_line(firmware, None).unwrap(),
            bms::scenario(&[bms::battery(70.0, false, due_in_s)]),
            "reserve_soc = 30",
        )
    }

    /// A site in a maintenance discharge (one battery stripping at 60 %, the battery
    /// discharging 2.5 kW) with `[ev]` enabled and an EV in auto mode, on a GX of `firmware`'s
    /// line; `schedule` goes into `[schedule]`. Also returns the ev-kick state file's path.
    pub fn kicking(firmware: gx::Firmware, schedule: &str) -> (Site, PathBuf) {
        let site = Site::with_gx(
            gx::GxSim::start_line(firmware, None).unwrap(),
            bms::scenario(&[bms::battery(60.0, true, -3600)]),
            schedule,
        );
        site.gx.state().set(100, 842, (-2500i16) as u16);
        let state_file = site.dir.0.join("ev-kick.json");
        site.write_config_with(
            "",
            schedule,
            &format!(
                "[ev]\nenabled = true\nstate_file = \"{}\"\n",
                state_file.display()
            ),
        );
        (site, state_file)
    }

    pub fn with_body(body: String, schedule_extra: &str) -> Site {
        Site::with_gx(gx::GxSim::start().unwrap(), body, schedule_extra)
    }

    pub fn with_gx(gx: gx::GxSim, body: String, schedule_extra: &str) -> Site {
        let bms = bms::BmsSim::start(body).unwrap();
        let dir = TempDir::new("site");
        let config = dir.0.join("config.toml");
        let site = Site {
            gx,
            bms,
            dir,
            config,
        };
        site.write_config("", schedule_extra);
        site
    }

    /// Writes the config: `gx_extra` goes into `[gx]`, `schedule` into `[schedule]`.
    pub fn write_config(&self, gx_extra: &str, schedule: &str) {
        self.write_config_with(gx_extra, schedule, "");
    }

    /// As [`Site::write_config`], with `tail` (e.g. an `[ev]` section) at the end.
    pub fn write_config_with(&self, gx_extra: &str, schedule: &str, tail: &str) {
        let text = format!(
            "timezone = \"Australia/Hobart\"\n\n[bms]\nurl = \"{}\"\ntimeout_s = 1\n\n[gx]\nhost = \"127.0.0.1\"\nport = {}\ntimeout_s = 1\n{gx_extra}\n\n[schedule]\nholidays = [\"2026-12-25\"]\n{schedule}\n{tail}\n",
            self.bms.url(),
            self.gx.port()
        );
        std::fs::write(&self.config, text).unwrap();
    }

    pub fn config_arg(&self) -> String {
        self.config.display().to_string()
    }

    /// Runs `zcell-scheduler --config <site> <args…>`.
    pub fn run(&self, args: &[&str]) -> Run {
        let config = self.config_arg();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        run_bin(&all, &[])
    }
}

/// Holds the site's lock and starts `apply --at Mon 23 Nov 2026 07:00` behind it: the lock
/// (drop it to let the run go on) and the run.
pub fn apply_behind_lock(
    site: &Site,
) -> (zcell_scheduler::lock::Lock, std::thread::JoinHandle<Run>) {
    let lock_path = site.dir.0.join("zcell-scheduler.lock");
    let held = zcell_scheduler::lock::acquire(&lock_path, Duration::from_secs(1), |_| {}).unwrap();
    let config = site.config_arg();
    let waiter = std::thread::spawn(move || {
        run_bin(
            &[
                "--config",
                &config,
                "apply",
                "--at",
                "2026-11-23T07:00:00+11:00",
            ],
            &[],
        )
    });
    (held, waiter)
}

/// Slot 0 from `offset_s` seconds from now, lasting `duration_s`, to `soc` %, with Dynamic ESS
/// external and the battery capacity set (Strategy 0, on either map).
pub fn hold_slot(site: &Site, offset_s: i64, duration_s: u16, soc: u16) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now + offset_s) as u32;
    let mut s = site.gx.state();
    for (a, v) in [
        (5420, 100),
        (5423, 4),
        (5424, 0),
        (5425, duration_s),
        (5426, 1),
        (5427, soc),
        (5428, (start >> 16) as u16),
        (5429, (start & 0xFFFF) as u16),
        (5430, 0),
    ] {
        s.set(100, a, v);
    }
}

/// Unix seconds of a Hobart wall-clock time (no DST ambiguity in the dates used).
pub fn slot_start(words: &[u16; 7]) -> i64 {
    i64::from(((u32::from(words[4]) << 16) | u32::from(words[5])) as i32)
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asserts `text` contains `needle`, showing the whole text when it does not.
#[track_caller]
pub fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

/// As [`has`], naming the case.
#[track_caller]
pub fn has_in(text: &str, needle: &str, case: &str) {
    assert!(
        text.contains(needle),
        "{case}: expected {needle:?} in:\n{text}"
    );
}
