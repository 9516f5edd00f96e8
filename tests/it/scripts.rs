//! The GX install scripts, run with POSIX `sh` against a fake root (a temporary directory
//! standing in for `/`, `/data` and `/etc/crontab`), inside `unshare -n`: no network at all,
//! so nothing an installed config names can be reached.

use std::path::Path;

use crate::testenv::{self, ConfigText, TempDir, run_command};

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

/// Runs `sh SCRIPT ARGS` with no network, the fake root standing in for /.
fn sh_code(root: &Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> testenv::Run {
    let path = format!("{}/{script}", scripts());
    let mut all = vec!["-n", "sh", path.as_str()];
    all.extend_from_slice(args);
    let root_text = root.display().to_string();
    let mut envs = vec![("ZCELL_ROOT", root_text.as_str())];
    envs.extend_from_slice(env);
    let r = run_command("unshare", &all, &envs);
    assert!(
        !r.stderr.contains("unshare: "),
        "these tests need `unshare -n` (util-linux, as root): {r:?}"
    );
    r
}

fn sh(root: &Path, script: &str, args: &[&str]) -> testenv::Run {
    let r = sh_code(root, script, args, &[]);
    assert_eq!(r.code, 0, "{script}: {r:?}");
    r
}

/// A valid config for the fake GX: loopback addresses with nothing behind them.
fn valid_config(root: &Path, extra: &str) {
    let closed = testenv::closed_port();
    ConfigText {
        gx_extra: extra.to_string(),
        ..ConfigText::new(&format!("http://127.0.0.1:{closed}"), "127.0.0.1", closed)
    }
    .write(&root.join("data/zcell-scheduler/config.toml"));
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_default()
}

fn install(root: &Path) -> testenv::Run {
    sh(root, "install.sh", &[testenv::BIN])
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
    // The example config still holds its placeholders: a fallback block whose runs say so.
    assert!(cron.contains("# the config is not valid yet"), "{cron}");
    // With a valid config the helper writes the real block.
    valid_config(&root.0, "");
    sh(&root.0, "gx/rc.local", &[]);
    let cron = read(&root.0, "etc/crontab");
    assert!(
        cron.contains(
            "CRON_TZ=Australia/Hobart\n0 * * * * root /data/zcell-scheduler/cron-run.sh apply\n5 * * * * root /data/zcell-scheduler/cron-run.sh --failures-only status --check\n"
        ),
        "{cron}"
    );
    assert!(!cron.contains("not valid"), "{cron}");
    assert!(!cron.contains("ev-kick"), "no [ev]: {cron}");
    assert_eq!(cron.matches("# BEGIN zcell-scheduler").count(), 1, "{cron}");
    assert!(root.0.join("data/zcell-scheduler/zcell-scheduler").exists());
    assert!(root.0.join("data/zcell-scheduler/config.toml").exists());
}

#[test]
fn install_keeps_an_existing_config() {
    let root = fake_root(None);
    std::fs::create_dir_all(root.0.join("data/zcell-scheduler")).unwrap();
    // Single quotes are as good TOML as double ones.
    let mine = "timezone = 'Europe/London'\n[bms]\nurl = 'http://127.0.0.1:9'\n[gx]\nhost = '127.0.0.1'\n[ev]\nenabled = true\n";
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
        sh(&root.0, "uninstall.sh", &["--purge"]);
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
    // No network and nothing behind the ports: the run fails fast (BMS unreachable, exit 3).
    valid_config(&root.0, "");
    let env = [("ZCELL_LOG_MAX_BYTES", "6000")];
    let run = |args: &[&str]| sh_code(&root.0, "gx/cron-run.sh", args, &env);
    let r = run(&["plan"]);
    assert_eq!(r.code, 3, "the exit code is passed on: {r:?}");
    let log = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(log.contains("plan (exit 3)"), "{log}");
    // The BMS error (its tail: the cap keeps the end of a long run's output).
    assert!(
        log.contains("127.0.0.1:") && log.contains("unreachable"),
        "{log}"
    );
    // The log fills with output of runs that need no device (each adds the block's lines).
    for _ in 0..25 {
        run(&["cron-block"]);
    }
    let size = std::fs::metadata(root.0.join("data/zcell-scheduler/zcell-scheduler.log"))
        .unwrap()
        .len();
    assert!(size <= 6000, "log capped: {size} bytes");
    assert!(
        !read(&root.0, "data/zcell-scheduler/zcell-scheduler.log").contains("plan (exit 3)"),
        "the oldest run went first"
    );
    // ev-kick (every 5 minutes) logs apart, so it never pushes apply's history out.
    let r = run(&["ev-kick"]);
    assert_eq!(r.code, 0, "{r:?}");
    let log = read(&root.0, "data/zcell-scheduler/ev-kick.log");
    assert!(log.contains("ev-kick (exit 0)"), "{log}");
    assert!(log.contains("ev-kick disabled"), "{log}");
    let main = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(!main.contains("ev-kick"), "{main}");
}

#[test]
fn example_config_is_valid_once_its_placeholders_are_set() {
    let example = std::fs::read_to_string(format!("{}/config.example.toml", scripts())).unwrap();
    let refused = zcell_scheduler::config::Config::parse(&example, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("bms.url") && refused.contains("placeholder"),
        "{refused}"
    );
    let text = example
        .replace("http://BMS-ADDRESS:3000", "http://127.0.0.1:3000")
        .replace("\"GX-ADDRESS\"", "\"127.0.0.1\"");
    let config = zcell_scheduler::config::Config::parse(&text, &Default::default()).unwrap();
    assert_eq!(config.schedule.normal.len(), 2);
    assert_eq!(config.peaks.len(), 2);
    assert!(
        config.ev.is_none(),
        "ev-kick stays off until the owner turns it on"
    );
    // The commented [ev] and [drain] sections, uncommented, are valid and give the
    // documented defaults.
    let uncommented = |header: &str| -> String {
        text.lines()
            .skip_while(|l| *l != format!("# [{header}]"))
            .take_while(|l| !l.is_empty())
            .filter(|l| !l.starts_with("#  "))
            .map(|l| l.trim_start_matches("# "))
            .filter(|l| !l.starts_with("host"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let with_ev = format!("{text}\n{}\n{}\n", uncommented("ev"), uncommented("drain"));
    let parsed = zcell_scheduler::config::Config::parse(&with_ev, &Default::default()).unwrap();
    assert_eq!(parsed.drain.night_load_w, Some(400));
    assert!(!parsed.drain.export);
    let ev = parsed.ev.unwrap();
    assert!(ev.enabled);
    assert_eq!((ev.unit, ev.current_a, ev.phases.len()), (40, 6, 3));
}

#[test]
fn the_hook_goes_before_a_top_level_exit() {
    let rc = "#!/bin/sh\n/data/other-tool/start.sh &\nif false; then\n    exit 1\nfi\nexit 0\n";
    let root = fake_root(Some(rc));
    install(&root.0);
    let installed = read(&root.0, "data/rc.local");
    let hook = installed.find("# zcell-scheduler hook").unwrap();
    let exit = installed.find("\nexit 0").unwrap();
    assert!(
        hook < exit,
        "the hook must run before `exit 0`:\n{installed}"
    );
    // The indented `exit 1` inside the if is not the top level: the hook is not put there.
    assert!(
        installed.contains("fi\n[ -x /data/zcell-scheduler/rc.local ]"),
        "{installed}"
    );
    // Run as the boot would: the hook runs and writes the block.
    std::fs::write(root.0.join("etc/crontab"), ORIGINAL_CRONTAB).unwrap();
    let hooked = installed.replace(
        "/data/zcell-scheduler/rc.local",
        &format!("{}/data/zcell-scheduler/rc.local", root.0.display()),
    );
    std::fs::write(root.0.join("data/rc.local"), hooked).unwrap();
    let boot = run_command(
        "unshare",
        &[
            "-n",
            "sh",
            &root.0.join("data/rc.local").display().to_string(),
        ],
        &[("ZCELL_ROOT", &root.0.display().to_string())],
    );
    assert_eq!(boot.code, 0, "{boot:?}");
    assert!(read(&root.0, "etc/crontab").contains("# BEGIN zcell-scheduler"));
    // Uninstall takes the hook back out and leaves the file as it was.
    std::fs::write(root.0.join("data/rc.local"), &installed).unwrap();
    sh(&root.0, "uninstall.sh", &["--purge"]);
    assert_eq!(read(&root.0, "data/rc.local"), rc);
}

#[test]
fn an_unedited_config_refuses_to_run_and_says_what_to_set() {
    let root = fake_root(None);
    let r = install(&root.0);
    assert!(
        r.stdout
            .contains("next, edit /data/zcell-scheduler/config.toml"),
        "{r:?}"
    );
    assert!(r.stdout.contains("plan"), "{r:?}");
    let r = sh_code(&root.0, "gx/cron-run.sh", &["apply"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let log = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(log.contains("apply (exit 2)"), "{log}");
    assert!(
        log.contains("still holds the example placeholder: set your BMS's address"),
        "{log}"
    );
    // One line of error, and no lock file: nothing but the config was read.
    assert_eq!(
        log.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{log}"
    );
    assert!(
        !root
            .0
            .join("data/zcell-scheduler/zcell-scheduler.lock")
            .exists()
    );
}

#[test]
fn failures_only_logs_only_failures() {
    let root = fake_root(None);
    install(&root.0);
    valid_config(&root.0, "");
    let log = || read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    // No network: the GX cannot be read, so the check fails and is logged.
    let r = sh_code(
        &root.0,
        "gx/cron-run.sh",
        &["--failures-only", "status", "--check"],
        &[],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(log().contains("status --check (exit 4)"), "{}", log());
    // A run that succeeds (cron-block) leaves no line.
    let before = log();
    let r = sh_code(
        &root.0,
        "gx/cron-run.sh",
        &["--failures-only", "cron-block"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(log(), before);
}

#[test]
fn uninstall_keeps_the_config_unless_purged() {
    let root = fake_root(Some(ORIGINAL_RC));
    install(&root.0);
    valid_config(&root.0, "# mine\n");
    let mine = read(&root.0, "data/zcell-scheduler/config.toml");
    // The installed copy, as the README says to run it.
    let r = run_command(
        "unshare",
        &[
            "-n",
            "sh",
            &root
                .0
                .join("data/zcell-scheduler/uninstall.sh")
                .display()
                .to_string(),
        ],
        &[("ZCELL_ROOT", &root.0.display().to_string())],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("config is kept"), "{r:?}");
    assert_eq!(read(&root.0, "data/zcell-scheduler/config.toml"), mine);
    assert!(!root.0.join("data/zcell-scheduler/zcell-scheduler").exists());
    assert_eq!(read(&root.0, "etc/crontab"), ORIGINAL_CRONTAB);
    assert_eq!(read(&root.0, "data/rc.local"), ORIGINAL_RC);
    // Installing again keeps it; --purge takes it away.
    install(&root.0);
    assert_eq!(read(&root.0, "data/zcell-scheduler/config.toml"), mine);
    sh(&root.0, "uninstall.sh", &["--purge"]);
    assert!(!root.0.join("data/zcell-scheduler").exists());
}

#[test]
fn uninstall_hands_the_gx_back_first_and_stops_when_it_cannot() {
    let root = fake_root(Some(ORIGINAL_RC));
    install(&root.0);
    valid_config(&root.0, "");
    // The tool has changed the GX (its hand-back record says what it held), and the GX does
    // not answer: nothing but the cron block goes, so no run writes it again meanwhile.
    let record = root.0.join("data/zcell-scheduler/handback.json");
    std::fs::write(&record, "{\"min_soc_raw\": 100, \"min_soc_written\": 0}\n").unwrap();
    let r = sh_code(&root.0, "uninstall.sh", &[], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("could not be handed back"), "{r:?}");
    assert!(r.stdout.contains("release: not finished"), "{r:?}");
    assert!(
        r.stderr.contains("GX 127.0.0.1:"),
        "the release's own error: {r:?}"
    );
    assert!(root.0.join("data/zcell-scheduler/zcell-scheduler").exists());
    assert!(record.exists());
    assert_eq!(read(&root.0, "etc/crontab"), ORIGINAL_CRONTAB);
    // --force removes the tool anyway, saying what stays on the GX.
    let r = sh_code(&root.0, "uninstall.sh", &["--force", "--purge"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("what it changed stays on the GX"),
        "{r:?}"
    );
    assert!(!root.0.join("data/zcell-scheduler").exists());
    assert_eq!(read(&root.0, "data/rc.local"), ORIGINAL_RC);
}

/// Everything under the fake root, path → (mode, bytes), to show that nothing changed.
fn snapshot(root: &Path) -> std::collections::BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(name, (meta.permissions().mode(), Vec::new()));
            } else {
                out.insert(
                    name,
                    (meta.permissions().mode(), std::fs::read(&path).unwrap()),
                );
            }
        }
    }
    out
}

fn mode(root: &Path, path: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(root.join(path))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(root: &Path, path: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
}

const HOOK: &str = "[ -x /data/zcell-scheduler/rc.local ] && /data/zcell-scheduler/rc.local # zcell-scheduler hook";

#[test]
fn a_disabled_rc_local_stays_disabled_and_the_owner_is_told() {
    let root = fake_root(Some(ORIGINAL_RC));
    set_mode(&root.0, "data/rc.local", 0o644);
    let r = install(&root.0);
    assert_eq!(mode(&root.0, "data/rc.local"), 0o644, "{r:?}");
    assert_eq!(
        read(&root.0, "data/rc.local"),
        format!("{ORIGINAL_RC}{HOOK}\n")
    );
    assert!(
        r.stdout
            .contains("/data/rc.local is not executable (-rw-r--r--)")
            && r.stdout.contains("does not run it at boot")
            && r.stdout.contains("chmod 755 /data/rc.local"),
        "{r:?}"
    );
    // Installing again (an update) leaves it as it is, and uninstalling gives it back whole.
    install(&root.0);
    assert_eq!(mode(&root.0, "data/rc.local"), 0o644);
    sh(&root.0, "uninstall.sh", &["--purge"]);
    assert_eq!(mode(&root.0, "data/rc.local"), 0o644);
    assert_eq!(read(&root.0, "data/rc.local"), ORIGINAL_RC);
    // An enabled one is not mentioned.
    let root = fake_root(Some(ORIGINAL_RC));
    set_mode(&root.0, "data/rc.local", 0o750);
    let r = install(&root.0);
    assert_eq!(mode(&root.0, "data/rc.local"), 0o750);
    assert!(!r.stdout.contains("not executable"), "{r:?}");
}

#[test]
fn the_hook_goes_before_a_top_level_exit_only() {
    // (rc.local, the line the hook must stand on afterwards, 1-based; 0 = the last line)
    let cases: [(&str, usize); 9] = [
        // An unindented `exit` inside an if block is not the top level.
        (
            "#!/bin/sh\nif [ -f /data/disable-all ]; then\nexit 0\nfi\n/data/other-tool/start.sh &\n",
            0,
        ),
        (
            "#!/bin/sh\nif [ -f /data/disable-all ]; then\nexit 0\nfi\n/data/other-tool/start.sh &\nexit 0\n",
            6,
        ),
        // In a case arm, a function, a loop, a here-document, a string: not the top level.
        (
            "#!/bin/sh\ncase \"$1\" in\nstop)\nexit 0\n;;\nesac\nstop() {\nexit 1\n}\nwhile false\ndo\nexit 2\ndone\ncat <<EOF >/tmp/x\nexit 3\nEOF\necho \"\nexit 4\n\"\n/data/other-tool/start.sh &\n",
            0,
        ),
        // A one-line condition at the top level is: the hook goes before it.
        (
            "#!/bin/sh\n[ -f /data/disable-all ] && exit 0\n/data/other-tool/start.sh &\n",
            2,
        ),
        (
            "#!/bin/sh\nif [ -f /data/disable-all ]; then exit 0; fi\n/data/other-tool/start.sh &\n",
            2,
        ),
        // A command over two lines: the hook goes before the line it begins on.
        (
            "#!/bin/sh\n/data/other-tool/check.sh ||\nexit 1\nexit 0\n",
            2,
        ),
        ("#!/bin/sh\necho one \\\n  two; exit 0\n", 2),
        ("#!/bin/sh\necho 'exit 0'\nexit\n", 3),
        // A subshell or a command substitution: the hook stays out of it.
        ("#!/bin/sh\n(\nexit 1\n)\nx=$(\nexit 2\n)\n", 0),
    ];
    for (rc, line) in cases {
        let root = fake_root(Some(rc));
        install(&root.0);
        let installed = read(&root.0, "data/rc.local");
        let lines: Vec<&str> = installed.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == HOOK)
            .expect("one hook line")
            + 1;
        let want = if line == 0 { lines.len() } else { line };
        assert_eq!(at, want, "{rc:?} became:\n{installed}");
        assert_eq!(
            installed.replace(&format!("{HOOK}\n"), ""),
            rc,
            "every other line kept"
        );
        // The shell agrees that the hook runs: run the file with the hook pointing at a
        // marker instead.
        let marker = root.0.join("hook-ran");
        let probe = installed.replace(HOOK, &format!(": >'{}'", marker.display()));
        std::fs::write(root.0.join("probe.sh"), probe).unwrap();
        let r = run_command(
            "unshare",
            &["-n", "sh", &root.0.join("probe.sh").display().to_string()],
            &[],
        );
        assert!(marker.exists(), "{rc:?}: the hook did not run: {r:?}");
        sh(&root.0, "uninstall.sh", &["--purge"]);
        assert_eq!(read(&root.0, "data/rc.local"), rc);
    }
}

#[test]
fn a_hook_an_older_install_put_inside_a_block_is_moved_out() {
    let owner =
        "#!/bin/sh\nif [ -f /data/disable-all ]; then\nexit 0\nfi\n/data/other-tool/start.sh &\n";
    let old = format!(
        "#!/bin/sh\nif [ -f /data/disable-all ]; then\n{HOOK}\nexit 0\nfi\n/data/other-tool/start.sh &\n"
    );
    let root = fake_root(Some(&old));
    install(&root.0);
    assert_eq!(read(&root.0, "data/rc.local"), format!("{owner}{HOOK}\n"));
    sh(&root.0, "uninstall.sh", &["--purge"]);
    assert_eq!(read(&root.0, "data/rc.local"), owner);
}

#[test]
fn an_rc_local_install_cannot_follow_is_reported_and_nothing_changes() {
    for rc in [
        "#!/bin/sh\nif [ -f /x ]; then\n/data/other-tool/start.sh &\n",
        "#!/bin/sh\necho \"never closed\n",
        "#!/bin/sh\nfi\n",
    ] {
        let root = fake_root(Some(rc));
        let before = snapshot(&root.0);
        let r = sh_code(&root.0, "install.sh", &[testenv::BIN], &[]);
        assert_eq!(r.code, 2, "{rc:?}: {r:?}");
        assert!(
            r.stderr
                .contains("cannot tell where /data/rc.local's top level ends")
                && r.stderr.contains(HOOK)
                && r.stderr.contains("nothing was changed"),
            "{r:?}"
        );
        assert_eq!(snapshot(&root.0), before, "{rc:?}");
    }
}

#[test]
fn install_checks_the_binary_runs_here_before_changing_anything() {
    let root = fake_root(Some(ORIGINAL_RC));
    // An ARM ELF header with nothing behind it, and a file that is no program at all.
    let mut elf = b"\x7fELF\x01\x01\x01\x00".to_vec();
    elf.resize(16, 0);
    elf.extend_from_slice(&[2, 0, 0x28, 0, 1, 0, 0, 0]);
    elf.resize(64, 0);
    let wrong = TempDir::new("wrong-bin");
    std::fs::write(wrong.0.join("arm"), &elf).unwrap();
    std::fs::write(wrong.0.join("text"), "not a program\n").unwrap();
    let before = snapshot(&root.0);
    for name in ["arm", "text"] {
        let bin = wrong.0.join(name).display().to_string();
        let r = sh_code(&root.0, "install.sh", &[&bin], &[]);
        assert_eq!(r.code, 2, "{name}: {r:?}");
        assert!(
            r.stderr.contains("does not run on this machine")
                && r.stderr.contains("armv7 build")
                && r.stderr.contains("nothing was changed"),
            "{name}: {r:?}"
        );
        assert_eq!(snapshot(&root.0), before, "{name}: something changed");
    }
}

/// /etc/crontab as an owner might leave it: the block's END line deleted, their own jobs after.
fn crontab_with_a_broken_block(root: &Path) -> String {
    let installed = read(root, "etc/crontab");
    let broken = installed.replace("# END zcell-scheduler\n", "")
        + "30 2 * * * root /data/my-own/backup.sh\n";
    std::fs::write(root.join("etc/crontab"), &broken).unwrap();
    broken
}

#[test]
fn a_cron_block_without_its_end_line_is_reported_and_nothing_changes() {
    let root = fake_root(Some(ORIGINAL_RC));
    install(&root.0);
    valid_config(&root.0, "");
    let broken = crontab_with_a_broken_block(&root.0);
    // The helper (at boot, or after a config change).
    let r = sh_code(&root.0, "gx/rc.local", &[], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("opens a zcell-scheduler block with no \"# END zcell-scheduler\" line after it; nothing changed"),
        "{r:?}"
    );
    assert_eq!(read(&root.0, "etc/crontab"), broken);
    // The cron wrapper tries the helper once for the changed config, and logs why it failed.
    let r = sh_code(&root.0, "gx/cron-run.sh", &["cron-block"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(read(&root.0, "etc/crontab"), broken);
    let log = read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    assert!(log.contains("nothing changed"), "{log}");
    // uninstall.sh and install.sh check first and change nothing at all.
    let before = snapshot(&root.0);
    let r = sh_code(&root.0, "uninstall.sh", &["--purge"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("nothing was changed"), "{r:?}");
    assert_eq!(snapshot(&root.0), before);
    let r = sh_code(&root.0, "install.sh", &[testenv::BIN], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("nothing was changed"), "{r:?}");
    assert_eq!(snapshot(&root.0), before);
    // A second BEGIN before the END is as broken.
    let twice = broken.replace(
        "30 2 * * *",
        "# BEGIN zcell-scheduler\n# END zcell-scheduler\n30 2 * * *",
    );
    std::fs::write(root.0.join("etc/crontab"), &twice).unwrap();
    let r = sh_code(&root.0, "gx/rc.local", &[], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("opens again"), "{r:?}");
    assert_eq!(read(&root.0, "etc/crontab"), twice);
    // Mended, everything works again and the owner's job stays.
    let mended = broken.replace("30 2 * * *", "# END zcell-scheduler\n30 2 * * *");
    std::fs::write(root.0.join("etc/crontab"), &mended).unwrap();
    sh(&root.0, "gx/rc.local", &[]);
    assert!(
        read(&root.0, "etc/crontab").contains("30 2 * * * root /data/my-own/backup.sh\n# BEGIN")
    );
    sh(&root.0, "uninstall.sh", &["--purge"]);
    assert_eq!(
        read(&root.0, "etc/crontab"),
        format!("{ORIGINAL_CRONTAB}30 2 * * * root /data/my-own/backup.sh\n")
    );
}

#[test]
fn the_cron_block_follows_the_config_without_a_manual_step() {
    let root = fake_root(None);
    let r = install(&root.0);
    // The closing text says so, and no longer asks for a manual step.
    assert!(
        r.stdout
            .contains("The cron block follows config.toml by itself"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("after editing [ev]"), "{r:?}");
    assert!(read(&root.0, "etc/crontab").contains("# the config is not valid yet"));
    let log = || read(&root.0, "data/zcell-scheduler/zcell-scheduler.log");
    // The owner sets the placeholders; the next cron run (any command) puts the real block in.
    valid_config(&root.0, "");
    let r = sh_code(
        &root.0,
        "gx/cron-run.sh",
        &["--failures-only", "cron-block"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let cron = read(&root.0, "etc/crontab");
    assert!(cron.contains("CRON_TZ=Australia/Hobart\n"), "{cron}");
    assert!(!cron.contains("not valid"), "{cron}");
    assert!(cron.starts_with(ORIGINAL_CRONTAB), "{cron}");
    assert_eq!(cron.matches("# BEGIN zcell-scheduler").count(), 1, "{cron}");
    assert!(
        log().contains("config.toml changed since the cron block was written"),
        "{}",
        log()
    );
    assert!(
        log().contains("cron block written to /etc/crontab"),
        "{}",
        log()
    );
    // Nothing changed: the helper is not run again.
    let before = log();
    sh(
        &root.0,
        "gx/cron-run.sh",
        &["--failures-only", "cron-block"],
    );
    assert_eq!(log(), before);
    // [ev] turned on and the zone changed: ev-kick's own run brings them in.
    let text = read(&root.0, "data/zcell-scheduler/config.toml")
        .replace("Australia/Hobart", "Europe/London");
    std::fs::write(
        root.0.join("data/zcell-scheduler/config.toml"),
        format!(
            "{text}[ev]\nenabled = true\nstate_file = '{}/ev.json'\n",
            root.0.display()
        ),
    )
    .unwrap();
    sh_code(&root.0, "gx/cron-run.sh", &["ev-kick"], &[]);
    let cron = read(&root.0, "etc/crontab");
    assert!(cron.contains("CRON_TZ=Europe/London\n"), "{cron}");
    assert!(cron.contains("cron-run.sh ev-kick"), "{cron}");
    assert_eq!(cron.matches("# BEGIN zcell-scheduler").count(), 1, "{cron}");
    // --follow-config does only that, and quietly when nothing changed.
    valid_config(&root.0, "");
    let r = sh(&root.0, "gx/cron-run.sh", &["--follow-config"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{r:?}");
    assert!(read(&root.0, "etc/crontab").contains("CRON_TZ=Australia/Hobart\n"));
    let before = log();
    sh(&root.0, "gx/cron-run.sh", &["--follow-config"]);
    assert_eq!(log(), before);
}
