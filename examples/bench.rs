//! Measures the release binary against the simulators on loopback and checks the budgets:
//! `cargo run --release --example bench -- BINARY [--runs N] [--armv7 FILE] [--armv7-glibc FILE]`
//! (or `scripts/bench.sh`). `--armv7` is a musl build (the kind that ships), held to the 2.5 MiB
//! budget; `--armv7-glibc` is the Docker-free check's glibc-static build, reported only (static
//! glibc adds about half a megabyte that musl does not).
//!
//! For each command it runs the binary N times (at least 20) and reports the median wall time
//! with its spread (quartiles and maximum), the Modbus and HTTP requests and the bytes on the
//! wire per run as the simulators counted them, and the peak RSS from `/usr/bin/time -v`. Then
//! the binary sizes. It prints one table and exits 1 when any budget is broken.

#[path = "sim/args.rs"]
mod args;
#[path = "sim/bms.rs"]
mod bms;
#[path = "sim/gx.rs"]
mod gx;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The shipped armv7 (musl) binary may be at most this large.
const ARMV7_BUDGET: u64 = 5 * MIB / 2;
/// A run that takes longer than this is a failure, not a measurement.
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// What one command may cost.
#[derive(Clone, Copy)]
struct Budget {
    modbus_max: Option<u64>,
    /// Modbus write requests, at most.
    writes_max: Option<u64>,
    http_exact: u64,
    median_ms_max: Option<f64>,
    rss_kib_max: u64,
}

/// A command to measure, on its own pair of simulators.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    budget: Budget,
    /// Puts the site into the state to measure, before every run.
    before_each: fn(&gx::GxSim, &bms::BmsSim),
    /// Exit code every run must end with.
    expect_exit: i32,
}

struct Row {
    name: &'static str,
    runs: usize,
    wall_ms: Vec<f64>,
    modbus: Vec<u64>,
    writes: Vec<u64>,
    http: Vec<u64>,
    bytes: Vec<u64>,
    rss_kib: Option<u64>,
    failures: Vec<String>,
}

fn main() -> ExitCode {
    match bench() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::from(2)
        }
    }
}

fn nothing(_: &gx::GxSim, _: &bms::BmsSim) {}

/// `plan` and `apply` plan as if it were this morning of a maintenance day (the BMS's due is
/// relative to it), so what they write does not depend on when the bench runs.
const AT: &str = "2026-11-23T07:00:00+11:00";

/// A maintenance day: the plan changes the slot and the minimum SoC from what the GX holds.
fn unsettle(gx: &gx::GxSim, _: &bms::BmsSim) {
    let mut s = gx.state();
    for a in 5424..=5430 {
        s.set(100, a, 0);
    }
    s.set(100, 2901, 100);
}

fn bench() -> Result<bool, String> {
    const SPEC: args::Spec = args::Spec {
        usage: "usage: bench BINARY [--runs N] [--armv7 FILE] [--armv7-glibc FILE]",
        values: &["--runs", "--armv7", "--armv7-glibc"],
        switches: &[],
        positional: true,
    };
    let args = match args::Args::from_env(&SPEC) {
        Ok(a) => a,
        Err(_) => return Err("see the usage above".to_string()),
    };
    let binary = PathBuf::from(
        args.first()
            .ok_or("usage: bench BINARY [--runs N] [--armv7 FILE] [--armv7-glibc FILE]")?,
    );
    let runs: usize = args
        .value("--runs")
        .map(|r| r.parse().map_err(|_| format!("--runs {r}: not a number")))
        .transpose()?
        .unwrap_or(25)
        .max(20);
    let armv7 = args.value("--armv7").map(PathBuf::from);
    let armv7_glibc = args.value("--armv7-glibc").map(PathBuf::from);
    let time_v = Path::new("/usr/bin/time");

    let apply = Budget {
        modbus_max: Some(5),
        writes_max: Some(0),
        http_exact: 1,
        median_ms_max: Some(25.0),
        rss_kib_max: 8 * 1024,
    };
    let cases = [
        Case {
            name: "plan",
            args: &["plan", "--at", AT],
            budget: Budget {
                modbus_max: None,
                median_ms_max: None,
                ..apply
            },
            before_each: nothing,
            expect_exit: 0,
        },
        Case {
            name: "apply (changes slot + min SoC)",
            args: &["apply", "--at", AT],
            budget: Budget {
                // 3 settings reads (the slot map's probe of 5430 among them), 2 for the drain
                // forecast, 2 writes, 2 read-backs; a store that applies a write later than
                // the first read-back (10 ms) adds a poll per late read.
                modbus_max: Some(9),
                writes_max: None,
                ..apply
            },
            before_each: unsettle,
            expect_exit: 0,
        },
        Case {
            name: "apply (nothing to change)",
            args: &["apply", "--at", AT],
            budget: apply,
            before_each: nothing,
            expect_exit: 0,
        },
        Case {
            name: "status",
            args: &["status"],
            budget: Budget {
                modbus_max: Some(6),
                median_ms_max: None,
                ..apply
            },
            before_each: nothing,
            expect_exit: 0,
        },
        Case {
            name: "ev-kick (nothing to do)",
            args: &["ev-kick"],
            budget: Budget {
                modbus_max: Some(6),
                median_ms_max: None,
                ..apply
            },
            before_each: nothing,
            expect_exit: 0,
        },
    ];

    let mut rows = Vec::new();
    for case in &cases {
        rows.push(measure(&binary, case, runs, time_v)?);
    }

    let host_size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    let armv7_size = armv7
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok().map(|m| m.len()));

    // ---- the table
    println!(
        "zcell-scheduler bench: {} runs per command, release build, x86 loopback simulators\n",
        runs
    );
    println!(
        "{:<31} {:>9} {:>15} {:>8} {:>7} {:>5} {:>8} {:>9}  budget",
        "command", "median", "p25-p75", "max", "Modbus", "HTTP", "bytes", "peak RSS"
    );
    let mut ok = true;
    for (row, case) in rows.iter().zip(&cases) {
        let mut broken = row.failures.clone();
        let b = case.budget;
        let median = percentile(&row.wall_ms, 0.5);
        let modbus = row.modbus.iter().copied().max().unwrap_or(0);
        let modbus_min = row.modbus.iter().copied().min().unwrap_or(0);
        if let Some(max) = b.modbus_max {
            if modbus > max {
                broken.push(format!("Modbus {modbus} > {max}"));
            }
        }
        let writes = row.writes.iter().copied().max().unwrap_or(0);
        if let Some(max) = b.writes_max {
            if writes > max {
                broken.push(format!("Modbus writes {writes} > {max}"));
            }
        }
        if row.http.iter().any(|h| *h != b.http_exact) {
            broken.push(format!("HTTP requests {:?} ≠ {}", row.http, b.http_exact));
        }
        if let Some(max) = b.median_ms_max {
            if median > max {
                broken.push(format!("median {median:.1} ms > {max} ms"));
            }
        }
        match row.rss_kib {
            Some(rss) if rss > b.rss_kib_max => {
                broken.push(format!("RSS {rss} KiB > {} KiB", b.rss_kib_max))
            }
            Some(_) => {}
            None => broken.push("peak RSS not measured (no /usr/bin/time)".to_string()),
        }
        let modbus_text = if modbus == modbus_min {
            modbus.to_string()
        } else {
            format!("{modbus_min}-{modbus}")
        };
        println!(
            "{:<31} {:>6.2} ms {:>6.2}-{:<5.2} ms {:>5.2} ms {:>7} {:>5} {:>8} {:>5} KiB  {}",
            row.name,
            median,
            percentile(&row.wall_ms, 0.25),
            percentile(&row.wall_ms, 0.75),
            percentile(&row.wall_ms, 1.0),
            modbus_text,
            row.http.iter().copied().max().unwrap_or(0),
            percentile_u(&row.bytes, 0.5),
            row.rss_kib.map(|r| r.to_string()).unwrap_or("?".into()),
            if broken.is_empty() {
                "ok".to_string()
            } else {
                format!("BROKEN: {}", broken.join("; "))
            }
        );
        ok &= broken.is_empty();
        debug_assert_eq!(row.runs, row.wall_ms.len());
    }
    println!(
        "\nbinary size: host (x86-64) {} bytes ({:.2} MiB)",
        host_size,
        host_size as f64 / MIB as f64
    );
    match armv7_size {
        Some(size) => {
            let within = size <= ARMV7_BUDGET;
            println!(
                "binary size: armv7 musl {} bytes ({:.2} MiB), budget {:.2} MiB: {}",
                size,
                size as f64 / MIB as f64,
                ARMV7_BUDGET as f64 / MIB as f64,
                if within { "ok" } else { "BROKEN" }
            );
            ok &= within;
        }
        None => println!(
            "binary size: armv7 musl not measured: build it with scripts/check-armv7.sh or scripts/build-armv7.sh and pass --armv7 FILE"
        ),
    }
    if let Some(size) = armv7_glibc
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok().map(|m| m.len()))
    {
        println!(
            "binary size: armv7 glibc-static check build {} bytes ({:.2} MiB): reported only, the budget applies to musl{}",
            size,
            size as f64 / MIB as f64,
            if size > ARMV7_BUDGET {
                " (over the musl budget)"
            } else {
                ""
            }
        );
    }
    ok &= simulate_budget(&binary, armv7.as_deref())?;
    ok &= apply_on_armv7(armv7.as_deref())?;
    println!(
        "\nbudgets: Modbus requests apply no-change ≤ 5 with no write, apply changing ≤ 9, status ≤ 6, ev-kick idle ≤ 6; HTTP exactly 1; apply median ≤ 25 ms; peak RSS ≤ 8 MiB; armv7 musl binary ≤ 2.5 MiB; simulate --days 31 < 1 s and apply (changing, planning included) < 500 ms on the armv7 binary under qemu"
    );
    println!(
        "{}",
        if ok {
            "all budgets met"
        } else {
            "BUDGET BROKEN"
        }
    );
    Ok(ok)
}

/// The longest `simulate` (31 days) may take this long on the armv7 binary under qemu.
const SIMULATE_BUDGET_MS: f64 = 1000.0;

/// Times `simulate --days 31` (no device read) on the host binary and, when there is one, on
/// the armv7 binary under qemu-arm-static, which is held to [`SIMULATE_BUDGET_MS`].
fn simulate_budget(host: &Path, armv7: Option<&Path>) -> Result<bool, String> {
    let dir = std::env::temp_dir().join(format!("zcell-bench-{}-simulate", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:9\"\n[gx]\nhost = \"127.0.0.1\"\n[schedule]\nreserve_soc = 30\n[drain]\nexport = true\n[ev]\n[simulate]\nev_connected = \"18:00-07:00\"\nsolar_kwh_per_day = 12\n",
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let config = config.display().to_string();
    let args = [
        "--config",
        &config,
        "simulate",
        "--days",
        "31",
        "--soc",
        "80",
        "--due-in",
        "30",
        "--from",
        "2026-03-20T07:00:00+11:00",
    ];
    let time = |program: &Path, args: &[&str], runs: usize| -> Result<Vec<f64>, String> {
        (0..runs)
            .map(|_| {
                let (code, err, wall) = run(program, args)?;
                if code != 0 {
                    return Err(format!("simulate exited {code}: {}", err.trim()));
                }
                Ok(wall.as_secs_f64() * 1000.0)
            })
            .collect()
    };
    let host_ms = time(host, &args, 20)?;
    println!(
        "\nsimulate --days 31 (5-minute steps, across the April daylight-saving change): host median {:.1} ms (p25-p75 {:.1}-{:.1} ms, 20 runs)",
        percentile(&host_ms, 0.5),
        percentile(&host_ms, 0.25),
        percentile(&host_ms, 0.75)
    );
    let qemu = Path::new("/usr/bin/qemu-arm-static");
    let (Some(armv7), true) = (armv7, qemu.exists()) else {
        println!("simulate on armv7: not measured (no armv7 binary or no qemu-arm-static)");
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(true);
    };
    let mut qemu_args = vec![armv7.to_str().ok_or("armv7 path is not UTF-8")?];
    qemu_args.extend_from_slice(&args);
    let arm_ms = time(qemu, &qemu_args, 10)?;
    let median = percentile(&arm_ms, 0.5);
    let within = median < SIMULATE_BUDGET_MS;
    println!(
        "simulate on armv7 under qemu-arm-static: median {median:.0} ms (p25-p75 {:.0}-{:.0} ms, max {:.0} ms, 10 runs), budget {SIMULATE_BUDGET_MS:.0} ms: {}",
        percentile(&arm_ms, 0.25),
        percentile(&arm_ms, 0.75),
        percentile(&arm_ms, 1.0),
        if within { "ok" } else { "BROKEN" }
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(within)
}

/// `apply` on the armv7 binary under qemu may take this long, planning included.
const ARMV7_APPLY_BUDGET_MS: f64 = 500.0;

/// Times `apply` that changes the slot and the minimum SoC (the case above) on the armv7
/// binary under qemu-arm-static, against the loopback simulators.
fn apply_on_armv7(armv7: Option<&Path>) -> Result<bool, String> {
    let qemu = Path::new("/usr/bin/qemu-arm-static");
    let (Some(armv7), true) = (armv7, qemu.exists()) else {
        println!("apply on armv7: not measured (no armv7 binary or no qemu-arm-static)");
        return Ok(true);
    };
    let site = site("armv7apply")?;
    let config = site.config.display().to_string();
    let binary = armv7.to_str().ok_or("armv7 path is not UTF-8")?;
    let args = [binary, "--config", &config, "apply", "--at", AT];
    let mut ms = Vec::new();
    for _ in 0..10 {
        unsettle(&site.gx, &site.bms);
        let (code, err, wall) = run(qemu, &args)?;
        if code != 0 {
            return Err(format!("apply on armv7 exited {code}: {}", err.trim()));
        }
        ms.push(wall.as_secs_f64() * 1000.0);
    }
    let median = percentile(&ms, 0.5);
    let within = median < ARMV7_APPLY_BUDGET_MS;
    println!(
        "apply (changes slot + min SoC) on armv7 under qemu-arm-static: median {median:.0} ms (p25-p75 {:.0}-{:.0} ms, max {:.0} ms, 10 runs), budget {ARMV7_APPLY_BUDGET_MS:.0} ms: {}",
        percentile(&ms, 0.25),
        percentile(&ms, 0.75),
        percentile(&ms, 1.0),
        if within { "ok" } else { "BROKEN" }
    );
    Ok(within)
}

/// A fresh pair of simulators with a config for them, in a temporary directory.
struct Site {
    gx: gx::GxSim,
    bms: bms::BmsSim,
    dir: PathBuf,
    config: PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn site(tag: &str) -> Result<Site, String> {
    let gx = gx::GxSim::start().map_err(|e| format!("GX simulator: {e}"))?;
    // Maintenance due in 20 h: a maintenance day, and no battery stripping (ev-kick idles).
    let bms = bms::BmsSim::start(bms::scenario(&[bms::battery(71.0, false, 20 * 3600)]))
        .map_err(|e| format!("BMS simulator: {e}"))?;
    let dir = std::env::temp_dir().join(format!("zcell-bench-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("config.toml");
    let text = format!(
        "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"{}\"\ntimeout_s = 2\n[gx]\nhost = \"127.0.0.1\"\nport = {}\ntimeout_s = 2\n[schedule]\nreserve_soc = 30\n[ev]\nstate_file = \"{}\"\n",
        bms.url(),
        gx.port(),
        dir.join("ev-kick.json").display()
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    Ok(Site {
        gx,
        bms,
        dir,
        config,
    })
}

/// Runs `program args` to completion within [`RUN_LIMIT`]; returns (exit code, stderr, wall).
fn run(program: &Path, args: &[&str]) -> Result<(i32, String, Duration), String> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env_remove("ZCELL_SCHEDULER_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let wall = started.elapsed();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                return Ok((status.code().unwrap_or(-1), err, wall));
            }
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                return Err(format!(
                    "{} {args:?} ran past {RUN_LIMIT:?}",
                    program.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_micros(200)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn measure(binary: &Path, case: &Case, runs: usize, time_v: &Path) -> Result<Row, String> {
    let site = site(&case.name.replace(|c: char| !c.is_ascii_alphanumeric(), ""))?;
    let config = site.config.display().to_string();
    let mut argv = vec!["--config", config.as_str()];
    argv.extend_from_slice(case.args);
    // One unmeasured run settles the GX (Dynamic ESS mode, capacity) as a real site would be.
    let _ = run(binary, &["--config", config.as_str(), "apply", "--at", AT])?;
    let mut row = Row {
        name: case.name,
        runs,
        wall_ms: Vec::new(),
        modbus: Vec::new(),
        writes: Vec::new(),
        http: Vec::new(),
        bytes: Vec::new(),
        rss_kib: None,
        failures: Vec::new(),
    };
    for _ in 0..runs {
        (case.before_each)(&site.gx, &site.bms);
        site.gx.state().reset_counters();
        {
            let mut b = site.bms.state();
            b.requests = 0;
            b.bytes_in = 0;
            b.bytes_out = 0;
        }
        let (code, stderr, wall) = run(binary, &argv)?;
        if code != case.expect_exit && row.failures.is_empty() {
            row.failures.push(format!(
                "exit {code} (expected {}): {}",
                case.expect_exit,
                stderr.trim()
            ));
        }
        let g = site.gx.state();
        let b = site.bms.state();
        row.wall_ms.push(wall.as_secs_f64() * 1000.0);
        row.modbus.push(g.requests);
        row.writes.push(g.write_requests);
        row.http.push(b.requests);
        row.bytes
            .push(g.bytes_in + g.bytes_out + b.bytes_in + b.bytes_out);
    }
    if time_v.exists() {
        let mut peak = 0;
        for _ in 0..5 {
            (case.before_each)(&site.gx, &site.bms);
            let out = Command::new(time_v)
                .arg("-v")
                .arg(binary)
                .args(&argv)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .output()
                .map_err(|e| format!("/usr/bin/time: {e}"))?;
            let text = String::from_utf8_lossy(&out.stderr);
            let rss = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| format!("no RSS in /usr/bin/time output: {text}"))?;
            peak = peak.max(rss);
        }
        row.rss_kib = Some(peak);
    }
    Ok(row)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn percentile_u(values: &[u64], p: f64) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(((v.len().saturating_sub(1)) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0)
}
