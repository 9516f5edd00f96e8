//! The GX install scripts, run with POSIX `sh` against a fake root (a temporary directory
//! standing in for `/`, `/data` and `/etc/crontab`).

mod common;

use std::path::Path;

use common::{TempDir, run_command};

const ORIGINAL_CRONTAB: &str = "SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n17 * * * * root cd / && run-parts /etc/cron.hourly\n";
const ORIGINAL_RC: &str = "#!/bin/sh\n/data/other-tool/start.sh &\n";

fn scripts() -> String {
    format!("{}/scripts", env!("CARGO_MANIFEST_DIR"))
}

fn fake_root(rc_local: Option<&str>) -> TempDir {
    let root = TempDir::new("root");
    std::fs::create_dir_all(root.0.join("etc")).unwrap();
    std::fs::create_dir_all(root.0.join("data")).unwrap();
    std::fs::write(root.0.join("etc/crontab"), ORIGINAL_CRONTAB).unwrap();
    if let Some(text) = rc_local {
        std::fs::write(root.0.join("data/rc.local"), text).unwrap();
    }
    root
}

fn sh(root: &Path, script: &str, args: &[&str]) -> common::Run {
    let path = format!("{}/{script}", scripts());
    let mut all = vec![path.as_str()];
    all.extend_from_slice(args);
    let root_text = root.display().to_string();
    let r = run_command("sh", &all, &[("ZCELL_ROOT", root_text.as_str())]);
    assert_eq!(r.code, 0, "{script}: {r:?}");
    r
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_default()
}

fn install(root: &Path) {
    sh(root, "install.sh", &[common::BIN]);
}

#[test]
fn install_twice_gives_one_hook_and_one_block() {
    let root = fake_root(Some(ORIGINAL_RC));
    install(&root.0);
    install(&root.0);
    let rc = read(&root.0, "data/rc.local");
    assert_eq!(rc.matches("zcell-scheduler hook").count(), 1, "{rc}");
    assert!(rc.starts_with(ORIGINAL_RC), "other lines kept: {rc}");
    let cron = read(&root.0, "etc/crontab");
    assert_eq!(cron.matches("# BEGIN zcell-scheduler").count(), 1, "{cron}");
    assert!(cron.starts_with(ORIGINAL_CRONTAB), "{cron}");
    assert!(
        cron.contains(
            "CRON_TZ=Australia/Hobart\n0 7,21 * * * root /data/zcell-scheduler/cron-run.sh apply\n"
        ),
        "{cron}"
    );
    assert!(
        !cron.contains("ev-kick"),
        "no [ev] in the example config: {cron}"
    );
    assert!(root.0.join("data/zcell-scheduler/zcell-scheduler").exists());
    assert!(root.0.join("data/zcell-scheduler/config.toml").exists());
}

#[test]
fn install_keeps_an_existing_config() {
    let root = fake_root(None);
    std::fs::create_dir_all(root.0.join("data/zcell-scheduler")).unwrap();
    let mine = "timezone = \"Europe/London\"\n[ev]\nenabled = true\n";
    std::fs::write(root.0.join("data/zcell-scheduler/config.toml"), mine).unwrap();
    install(&root.0);
    assert_eq!(read(&root.0, "data/zcell-scheduler/config.toml"), mine);
    let cron = read(&root.0, "etc/crontab");
    assert!(cron.contains("CRON_TZ=Europe/London"), "{cron}");
    assert!(
        cron.contains("*/5 * * * * root /data/zcell-scheduler/cron-run.sh ev-kick"),
        "{cron}"
    );
}

#[test]
fn helper_restores_the_block_after_a_firmware_update() {
    let root = fake_root(Some(ORIGINAL_RC));
    install(&root.0);
    let installed = read(&root.0, "etc/crontab");
    // A firmware update replaces /etc/crontab.
    std::fs::write(root.0.join("etc/crontab"), ORIGINAL_CRONTAB).unwrap();
    sh(&root.0, "gx/rc.local", &[]);
    assert_eq!(read(&root.0, "etc/crontab"), installed);
    // Running it again changes nothing.
    let r = sh(&root.0, "gx/rc.local", &[]);
    assert!(r.stdout.contains("already in place"), "{r:?}");
    assert_eq!(read(&root.0, "etc/crontab"), installed);
    // A line someone added after the block: the block moves back to the end, the line stays.
    std::fs::write(
        root.0.join("etc/crontab"),
        format!("{installed}5 5 * * * root true\n"),
    )
    .unwrap();
    sh(&root.0, "gx/rc.local", &[]);
    let cron = read(&root.0, "etc/crontab");
    assert!(
        cron.contains("5 5 * * * root true\n# BEGIN zcell-scheduler"),
        "{cron}"
    );
    assert_eq!(cron.matches("# BEGIN zcell-scheduler").count(), 1);
}

#[test]
fn uninstall_restores_the_files_exactly() {
    for rc in [
        Some(ORIGINAL_RC),
        None,
        Some("#!/bin/sh\necho no newline at the end"),
    ] {
        let root = fake_root(rc);
        install(&root.0);
        sh(&root.0, "uninstall.sh", &[]);
        assert_eq!(read(&root.0, "etc/crontab"), ORIGINAL_CRONTAB);
        match rc {
            Some(text) => assert_eq!(read(&root.0, "data/rc.local"), text),
            None => assert!(
                !root.0.join("data/rc.local").exists(),
                "created file removed"
            ),
        }
        assert!(!root.0.join("data/zcell-scheduler").exists());
    }
}

#[test]
fn cron_run_logs_failures_with_a_cap() {
    let root = fake_root(None);
    install(&root.0);
    // Loopback ports with nothing behind them: the run fails fast (BMS unreachable, exit 3).
    let closed = common::closed_port();
    std::fs::write(
        root.0.join("data/zcell-scheduler/config.toml"),
        format!("timezone = \"UTC\"\n[bms]\nurl = \"http://127.0.0.1:{closed}\"\n[gx]\nhost = \"127.0.0.1\"\nport = {closed}\n"),
    )
    .unwrap();
    let root_text = root.0.display().to_string();
    let script = format!("{}/gx/cron-run.sh", scripts());
    let env = [
        ("ZCELL_ROOT", root_text.as_str()),
        ("ZCELL_LOG_MAX_BYTES", "2000"),
    ];
    let r = run_command("sh", &[&script, "plan"], &env);
    assert_eq!(r.code, 3, "the exit code is passed on: {r:?}");
    let log = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(log.contains("plan (exit 3)"), "{log}");
    assert!(log.contains("BMS http://127.0.0.1:"), "{log}");
    for _ in 0..10 {
        run_command("sh", &[&script, "plan"], &env);
    }
    let size = std::fs::metadata(root.0.join("data/zcell-scheduler/zcell-scheduler.log"))
        .unwrap()
        .len();
    assert!(size <= 2000, "log capped: {size} bytes");
    // ev-kick (every 5 minutes) logs apart, so it never pushes apply's history out.
    let r = run_command("sh", &[&script, "ev-kick"], &env);
    assert_eq!(r.code, 0, "{r:?}");
    let log = read(&root.0, "data/zcell-scheduler/ev-kick.log");
    assert!(log.contains("ev-kick (exit 0)"), "{log}");
    assert!(log.contains("ev-kick disabled"), "{log}");
    let main = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(!main.contains("ev-kick"), "{main}");
}

#[test]
fn example_config_is_valid() {
    let text = std::fs::read_to_string(format!("{}/config.example.toml", scripts())).unwrap();
    let config = zcell_scheduler::config::Config::parse(&text, &Default::default()).unwrap();
    assert_eq!(config.schedule.normal.len(), 2);
    assert_eq!(config.peaks.len(), 2);
    assert!(
        config.ev.is_none(),
        "ev-kick stays off until the owner turns it on"
    );
    // The commented [ev] section, uncommented, is valid and gives the documented defaults.
    let uncommented: String = text
        .lines()
        .skip_while(|l| !l.starts_with("# [ev]"))
        .filter(|l| !l.starts_with("#  "))
        .map(|l| l.trim_start_matches("# "))
        .filter(|l| !l.starts_with("host"))
        .collect::<Vec<_>>()
        .join("\n");
    let with_ev = text.replace(&text[text.find("# [ev]").unwrap()..], &uncommented);
    let ev = zcell_scheduler::config::Config::parse(&with_ev, &Default::default())
        .unwrap()
        .ev
        .unwrap();
    assert!(ev.enabled);
    assert_eq!((ev.unit, ev.current_a, ev.phases.len()), (40, 6, 3));
}
