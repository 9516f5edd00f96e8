//! Shared helpers for the end-to-end tests: a site of simulators on loopback, a config for it,
//! and a bounded run of the real binary.
#![allow(dead_code)]

#[path = "../../examples/sim/bms.rs"]
pub mod bms;
#[path = "../../examples/sim/gx.rs"]
pub mod gx;

use std::io::Read;
use std::path::{Path, PathBuf};
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

/// A config file's text: the one place a test config is written. Timeouts are 1 s, so a
/// failing device costs a test a second, and one holiday (25 Dec) is set.
#[derive(Debug, Clone)]
pub struct ConfigText {
    pub bms_url: String,
    pub gx_host: String,
    pub gx_port: u16,
    /// Goes into `[gx]`.
    pub gx_extra: String,
    /// Goes into `[schedule]`.
    pub schedule: String,
    /// Goes at the end (e.g. an `[ev]` or `[drain]` section).
    pub tail: String,
}

impl ConfigText {
    /// Devices at these addresses, nothing else set.
    pub fn new(bms_url: &str, gx_host: &str, gx_port: u16) -> ConfigText {
        ConfigText {
            bms_url: bms_url.to_string(),
            gx_host: gx_host.to_string(),
            gx_port,
            gx_extra: String::new(),
            schedule: String::new(),
            tail: String::new(),
        }
    }

    pub fn render(&self) -> String {
        format!(
            "timezone = \"Australia/Hobart\"\n\n[bms]\nurl = \"{}\"\ntimeout_s = 1\n\n[gx]\nhost = \"{}\"\nport = {}\ntimeout_s = 1\n{}\n\n[schedule]\nholidays = [\"2026-12-25\"]\n{}\n{}\n",
            self.bms_url, self.gx_host, self.gx_port, self.gx_extra, self.schedule, self.tail
        )
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.render()).unwrap();
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

/// The README's `simulate` week: from Mon 23 Nov 2026 07:00 in Hobart, 7 days, SoC 80 %,
/// maintenance due in 30 h (no device read).
pub const README_WEEK: [&str; 9] = [
    "simulate",
    "--from",
    "2026-11-23T07:00:00+11:00",
    "--days",
    "7",
    "--soc",
    "80",
    "--due-in",
    "30",
];
pub const GX_UNIT: u8 = 100;

/// How a test's site starts: [`Site::builder`], then [`SiteBuilder::start`].
#[must_use]
pub struct SiteBuilder {
    bms_body: Option<String>,
    soc: f64,
    stripping: bool,
    due_in_s: i64,
    firmware: Option<gx::Firmware>,
    registers: Vec<(u8, u16, u16)>,
    gx_extra: String,
    schedule: String,
    ev: Option<String>,
    tail: String,
}

impl SiteBuilder {
    /// One battery at `soc` %, maintenance due in `due_in_s` (negative: overdue).
    pub fn battery(self, soc: f64, stripping: bool, due_in_s: i64) -> SiteBuilder {
        SiteBuilder {
            soc,
            stripping,
            due_in_s,
            ..self
        }
    }

    pub fn due_in(self, due_in_s: i64) -> SiteBuilder {
        SiteBuilder { due_in_s, ..self }
    }

    pub fn stripping(self, stripping: bool) -> SiteBuilder {
        SiteBuilder { stripping, ..self }
    }

    /// The BMS's whole answer, in place of the one battery.
    pub fn bms_body(self, body: String) -> SiteBuilder {
        SiteBuilder {
            bms_body: Some(body),
            ..self
        }
    }

    /// A GX of `firmware`'s line with its own register map (default: the simulator's default
    /// GX).
    pub fn firmware(self, firmware: gx::Firmware) -> SiteBuilder {
        SiteBuilder {
            firmware: Some(firmware),
            ..self
        }
    }

    /// A register the GX holds from the start.
    pub fn register(mut self, unit: u8, address: u16, value: u16) -> SiteBuilder {
        self.registers.push((unit, address, value));
        self
    }

    pub fn gx_extra(self, gx_extra: &str) -> SiteBuilder {
        SiteBuilder {
            gx_extra: gx_extra.to_string(),
            ..self
        }
    }

    /// `[schedule]`'s keys and tables (default `reserve_soc = 30`).
    pub fn schedule(self, schedule: &str) -> SiteBuilder {
        SiteBuilder {
            schedule: schedule.to_string(),
            ..self
        }
    }

    /// `[ev]` enabled with its state file in the site's directory
    /// ([`Site::ev_state_file`]), and `extra` in the section.
    pub fn ev(self, extra: &str) -> SiteBuilder {
        SiteBuilder {
            ev: Some(extra.to_string()),
            ..self
        }
    }

    /// Sections after `[schedule]` (e.g. `[drain]`).
    pub fn tail(self, tail: &str) -> SiteBuilder {
        SiteBuilder {
            tail: tail.to_string(),
            ..self
        }
    }

    /// A maintenance discharge with an EV to kick: one battery stripping at 60 % (due an hour
    /// ago), the battery discharging 2.5 kW (it covers the loads and a 6 A car), and `[ev]`
    /// enabled.
    pub fn kicking(self) -> SiteBuilder {
        let ev = self.ev.clone().unwrap_or_default();
        self.battery(60.0, true, -3600)
            .register(GX_UNIT, 842, (-2500i16) as u16)
            .ev(&ev)
    }

    pub fn start(self) -> Site {
        let gx = match self.firmware {
            Some(firmware) => gx::GxSim::start_line(firmware, None),
            None => gx::GxSim::start(),
        }
        .unwrap();
        let body = self.bms_body.unwrap_or_else(|| {
            bms::scenario(&[bms::battery(self.soc, self.stripping, self.due_in_s)])
        });
        let bms = bms::BmsSim::start(body).unwrap();
        let dir = TempDir::new("site");
        let config = dir.0.join("config.toml");
        let site = Site {
            gx,
            bms,
            dir,
            config,
        };
        for (unit, address, value) in self.registers {
            site.gx.state().set(unit, address, value);
        }
        let mut tail = self.tail;
        if let Some(extra) = self.ev {
            tail = format!(
                "{tail}[ev]\nenabled = true\nstate_file = \"{}\"\n{extra}",
                site.ev_state_file().display()
            );
        }
        site.write_config_with(&self.gx_extra, &self.schedule, &tail);
        site
    }
}

impl Site {
    /// One battery at 70 %, not stripping, maintenance due in two days, `reserve_soc = 30`, on
    /// the simulator's default GX: change what the test is about.
    pub fn builder() -> SiteBuilder {
        SiteBuilder {
            bms_body: None,
            soc: 70.0,
            stripping: false,
            due_in_s: 2 * DAY,
            firmware: None,
            registers: Vec::new(),
            gx_extra: String::new(),
            schedule: "reserve_soc = 30".to_string(),
            ev: None,
            tail: String::new(),
        }
    }

    /// The builder's default site with maintenance due in `due_in_s`.
    pub fn new(due_in_s: i64, stripping: bool) -> Site {
        Site::builder()
            .due_in(due_in_s)
            .stripping(stripping)
            .start()
    }

    /// Where `[ev]`'s state file is.
    pub fn ev_state_file(&self) -> PathBuf {
        self.dir.0.join("ev-kick.json")
    }

    /// Writes the config: `gx_extra` goes into `[gx]`, `schedule` into `[schedule]`.
    pub fn write_config(&self, gx_extra: &str, schedule: &str) {
        self.write_config_with(gx_extra, schedule, "");
    }

    /// As [`Site::write_config`], with `tail` (e.g. an `[ev]` section) at the end.
    pub fn write_config_with(&self, gx_extra: &str, schedule: &str, tail: &str) {
        ConfigText {
            gx_extra: gx_extra.to_string(),
            schedule: schedule.to_string(),
            tail: tail.to_string(),
            ..ConfigText::new(&self.bms.url(), "127.0.0.1", self.gx.port())
        }
        .write(&self.config);
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
