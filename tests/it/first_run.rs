//! What a new owner meets on a first run: config and usage errors before any traffic (also as
//! JSON), network failures told by kind, and a lock wait that says what it waits for.

use std::time::Duration;

use crate::testenv::{self, DAY, Site, has, run_bin, run_command};

#[test]
fn a_bad_bms_url_exits_2_before_any_traffic_and_never_prints_credentials() {
    let site = Site::new(2 * DAY, false);
    for url in [
        "http://[::1",
        "http://owner:s3cret@127.0.0.1:3000",
        "http://host:3000:4000",
        "http://",
        "https://127.0.0.1:3000",
    ] {
        let r = site.run(&["--bms", url, "apply"]);
        assert_eq!(r.code, 2, "{url}: {r:?}");
        // Named as the flag the value came from.
        has(&r.stderr, "flag --bms: ");
        assert!(
            !r.stderr.contains("s3cret") && !r.stderr.contains("owner"),
            "{}",
            r.stderr
        );
        assert_eq!(site.gx.state().requests, 0, "{url}: the GX was reached");
        assert_eq!(site.bms.state().requests, 0, "{url}: the BMS was reached");
    }
}

#[test]
fn a_bms_url_with_a_path_query_or_fragment_is_a_config_error_that_says_what_to_write() {
    let site = Site::new(2 * DAY, false);
    let base = site.bms.url();
    let cases = [
        // The URL the BMS's help page shows.
        (
            format!("{base}/rest/1.0/status"),
            "has a path (`/rest/1.0/status`)",
        ),
        (format!("{base}/#status"), "has a fragment (`#…`)"),
        (format!("{base}/?token=s3cret"), "has a query (`?…`)"),
        (
            format!("{base}/rest/1.0/status?token=s3cret"),
            "has a query (`?…`)",
        ),
    ];
    for (url, expect) in &cases {
        // From the command line and from the config file alike.
        let text = std::fs::read_to_string(&site.config).unwrap();
        std::fs::write(&site.config, text.replace(&base, url)).unwrap();
        for (r, source) in [
            (site.run(&["apply"]), "config key `bms.url`"),
            (site.run(&["--bms", url, "apply"]), "flag --bms: "),
        ] {
            assert_eq!(r.code, 2, "{url}: {r:?}");
            has(&r.stderr, source);
            has(&r.stderr, expect);
            has(&r.stderr, &format!("\"{base}\""));
            assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
            assert!(!r.stdout.contains("s3cret"), "{}", r.stdout);
        }
        std::fs::write(
            &site.config,
            std::fs::read_to_string(&site.config)
                .unwrap()
                .replace(url, &base),
        )
        .unwrap();
        assert_eq!(site.gx.state().requests, 0, "{url}: the GX was reached");
        assert_eq!(site.bms.state().requests, 0, "{url}: the BMS was reached");
    }
    // The JSON error document hides the query too.
    let r = site.run(&["--bms", &format!("{base}/?token=s3cret"), "plan", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        !r.stdout.contains("s3cret") && r.stdout.contains("?…"),
        "{}",
        r.stdout
    );
}

#[test]
fn config_and_usage_errors_are_one_json_document_with_json() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["--bms", "ftp://x", "plan", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["exit_code"], 2);
    assert!(
        doc["errors"][0].as_str().unwrap().contains("flag --bms"),
        "{doc}"
    );
    let r = site.run(&["plan", "--json", "--no-such-flag"]);
    assert_eq!(r.code, 2, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["exit_code"], 2);
    assert!(
        doc["errors"][0]
            .as_str()
            .unwrap()
            .contains("--no-such-flag"),
        "{doc}"
    );
    // Without --json, nothing on stdout.
    let r = site.run(&["plan", "--no-such-flag"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{r:?}");
}

#[test]
fn no_network_is_reported_as_unreachable_for_both_devices() {
    // In a network namespace of its own even loopback is down: "Network is unreachable".
    let site = Site::new(2 * DAY, false);
    let config = site.config_arg();
    let r = run_command(
        "unshare",
        &["-n", testenv::BIN, "--config", &config, "apply"],
        &[],
    );
    assert!(
        !r.stderr.contains("unshare: "),
        "needs `unshare -n` (as root): {r:?}"
    );
    assert_eq!(r.code, 3, "{r:?}");
    has(&r.stderr, "is unreachable");
    assert!(!r.stderr.contains("unusable answer"), "{}", r.stderr);
    has(&r.stderr, "GX 127.0.0.1:");
    has(
        &r.stderr,
        "check the address in the config and that this machine is on the device's network",
    );
}

#[test]
fn waiting_for_the_lock_says_so_after_2_seconds() {
    let site = Site::new(2 * DAY, false);
    let (held, waiter) = testenv::apply_behind_lock(&site);
    std::thread::sleep(Duration::from_millis(2600));
    drop(held);
    let r = waiter.join().unwrap();
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stderr, "waiting for the lock");
    has(
        &r.stderr,
        "zcell-scheduler.lock: another zcell-scheduler run holds it",
    );
    assert_eq!(
        r.stderr.matches("waiting for the lock").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn help_shows_the_exit_codes_the_defaults_and_what_ev_kick_needs() {
    let r = run_bin(&["--help"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stdout, "Exit codes:");
    has(&r.stdout, "5  a write did not read back");
    has(&r.stdout, "[default: /data/zcell-scheduler/config.toml]");
    has(&r.stdout, "Needs an [ev] section");
    let r = run_bin(&["status", "--help"], &[]);
    has(&r.stdout, "--check");
}

#[test]
fn a_missing_config_names_the_example() {
    let r = run_bin(&["--config", "/nonexistent/zcell.toml", "plan"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    has(&r.stderr, "scripts/config.example.toml");
}

#[test]
fn the_simulators_refuse_unknown_flags_and_answer_help() {
    // The examples sit beside this test's own directory: target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().unwrap().parent().unwrap().join("examples");
    for sim in ["gx_sim", "bms_sim"] {
        let path = examples.join(sim).display().to_string();
        let r = run_command(&path, &["--bogus"], &[]);
        assert_eq!(r.code, 2, "{sim}: {r:?}");
        has(&r.stderr, "unknown argument --bogus");
        let r = run_command(&path, &["--help"], &[]);
        assert_eq!(r.code, 0, "{sim}: {r:?}");
        has(&r.stdout, "stop by itself after S seconds (default 3600)");
    }
}
