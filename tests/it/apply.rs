//! End-to-end: the real binary against the simulators on loopback, for `plan`, `apply` and
//! `status`, asserting the GX's registers afterwards and the exit codes.

use chrono::DateTime;

use crate::testenv::{self, DAY, Site};

fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

#[test]
fn apply_writes_the_normal_slot_and_a_second_apply_writes_nothing() {
    let site = Site::new(2 * DAY, false);
    let at = "2026-11-23T07:00:00+11:00";
    let first = site.run(&["apply", "--at", at]);
    assert_eq!(first.code, 0, "{first:?}");
    {
        let s = site.gx.state();
        let slot = s.slot();
        assert_eq!(
            testenv::slot_start(&slot),
            unix("2026-11-23T10:00:00+11:00")
        );
        assert_eq!(slot[1], 6 * 3600, "duration");
        assert_eq!(slot[2], 1, "battery→grid blocked");
        assert_eq!(slot[3], 100, "target SoC");
        assert_eq!((slot[0], slot[6]), (0, 0), "feed-in, strategy");
        assert_eq!(s.get(100, 2901), 300, "minimum SoC 30 % ×10");
        assert_eq!(s.get(100, 5420), 100, "capacity 10.0 kWh ×10");
        assert_eq!(s.get(100, 5423), 4, "Dynamic ESS external");
        // The slot went out as one FC16 of 7 registers.
        assert!(
            s.writes
                .iter()
                .any(|(u, a, v)| *u == 100 && *a == 5424 && v.len() == 7)
        );
        // Every other write is a single register.
        assert!(s.writes.iter().all(|(_, a, v)| *a == 5424 || v.len() == 1));
    }
    assert!(
        first
            .stdout
            .contains("slot 0: empty → Mon 23 Nov 10:00-16:00 charge to 100 %"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("ESS minimum SoC: 10 % → 30 %"),
        "{}",
        first.stdout
    );
    assert_eq!(
        first.stdout.lines().count(),
        4,
        "one line per change: {}",
        first.stdout
    );

    site.gx.state().reset_counters();
    let second = site.run(&["apply", "--at", at]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(site.gx.state().write_requests, 0, "second apply wrote");
    assert_eq!(second.stdout, "", "nothing changed, nothing printed");
    assert!(
        second.stderr.contains("--at"),
        "apply --at warns loudly: {}",
        second.stderr
    );
    assert_eq!(site.bms.state().requests, 2, "one BMS request per run");
    // A run with nothing to change still left the GX holding the plan.
    let third = site.run(&["apply", "--json", "--at", at]);
    let doc: serde_json::Value = serde_json::from_str(&third.stdout).unwrap();
    assert_eq!(
        (doc["applied"].clone(), doc["writes"].clone()),
        (true.into(), serde_json::json!([]))
    );
}

#[test]
fn evening_then_maintenance_day_then_drain() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["apply", "--at", "2026-11-23T21:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let slot = site.gx.state().slot();
    assert_eq!(
        testenv::slot_start(&slot),
        unix("2026-11-23T21:00:00+11:00")
    );
    assert_eq!(slot[1], 10 * 3600);

    // Maintenance due Tue 19:40: at 07:00 the 13:00-16:00 window to 50 %, minimum SoC 0.
    let due_in = unix("2026-11-24T19:40:00+11:00") - unix("2026-11-24T07:00:00+11:00");
    site.bms.state().body = testenv::bms::scenario(&[testenv::bms::battery(80.0, false, due_in)]);
    let r = site.run(&["apply", "--at", "2026-11-24T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let s = site.gx.state().clone();
    assert_eq!(
        testenv::slot_start(&s.slot()),
        unix("2026-11-24T13:00:00+11:00")
    );
    assert_eq!(s.slot()[3], 50);
    assert_eq!(s.get(100, 2901), 0);

    // 21:00, overdue and not stripping: the slot is cleared so the battery drains.
    site.bms.state().body = testenv::bms::scenario(&[testenv::bms::battery(40.0, false, -4800)]);
    let r = site.run(&["apply", "--at", "2026-11-24T21:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let slot = site.gx.state().slot();
    assert_eq!((testenv::slot_start(&slot), slot[1]), (0, 0), "cleared");
    assert!(r.stdout.contains("→ cleared"), "{}", r.stdout);

    // Stripping: still no charge slot (the battery takes no charge in its cycle); the refill
    // comes once the cycle is done.
    site.bms.state().body = testenv::bms::scenario(&[testenv::bms::battery(5.0, true, -4800)]);
    let r = site.run(&["apply", "--at", "2026-11-24T21:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let slot = site.gx.state().slot();
    assert_eq!((testenv::slot_start(&slot), slot[1]), (0, 0), "cleared");
}

/// Steps one night as cron does: `apply` on every hour, with the GX's clock at that instant;
/// a minute after each quarter hour the GX's own rule (its line's comparator) says whether
/// slot 0 is in force. It must be in force exactly inside the window `[from, to)` (unix s),
/// and no slot written may cross the daylight-saving change at `change`.
fn step_night(firmware: testenv::gx::Firmware, from: i64, to: i64, change: i64) {
    let site = Site::builder().due_in(3 * DAY).firmware(firmware).start();
    let mut wrong = Vec::new();
    let mut t = from - 2 * 3600;
    while t <= to + 3600 {
        site.gx.state().clock = Some(t);
        if t % 3600 == 0 {
            let at = DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
            let r = site.run(&["apply", "--at", &at]);
            assert_eq!(r.code, 0, "{firmware:?} {at}: {r:?}");
            assert!(site.gx.settle());
            let slot = site.gx.state().slot();
            let (start, end) = (
                testenv::slot_start(&slot),
                testenv::slot_start(&slot) + i64::from(slot[1]),
            );
            assert!(
                !(start < change && change < end),
                "{firmware:?} {at}: {slot:?} crosses the change"
            );
        }
        let probe = t + 60;
        let in_force = {
            let mut s = site.gx.state();
            s.clock = Some(probe);
            testenv::gx::slot_in_force(&s)
        };
        if in_force != (from <= probe && probe < to) {
            wrong.push((
                DateTime::from_timestamp(probe, 0).unwrap().to_rfc3339(),
                in_force,
            ));
        }
        t += 900;
    }
    assert!(
        wrong.is_empty(),
        "{firmware:?}: in force wrongly at {wrong:?}"
    );
}

#[test]
fn daylight_saving_nights_act_in_the_local_window_on_both_comparators() {
    use testenv::gx::Firmware;
    // Hobart, 21:00-07:00: the clocks go back 03:00 → 02:00 on Sun 5 Apr 2026 (16:00 UTC), and
    // forward 02:00 → 03:00 on Sun 4 Oct 2026 (16:00 UTC). v3.70 compares on the GX's wall
    // clock, v3.80 (as it stands) in elapsed time.
    for firmware in [Firmware::V370, Firmware::V380] {
        step_night(
            firmware,
            unix("2026-04-04T21:00:00+11:00"),
            unix("2026-04-05T07:00:00+10:00"),
            unix("2026-04-04T16:00:00Z"),
        );
        step_night(
            firmware,
            unix("2026-10-03T21:00:00+10:00"),
            unix("2026-10-04T07:00:00+11:00"),
            unix("2026-10-03T16:00:00Z"),
        );
    }
}

#[test]
fn the_slot_is_written_up_to_the_change_and_the_json_says_so() {
    let site = Site::new(3 * DAY, false);
    let at = "2026-04-04T21:00:00+11:00";
    let r = site.run(&["apply", "--at", at]);
    assert_eq!(r.code, 0, "{r:?}");
    testenv::has(&r.stdout, "a later run writes the rest");
    let slot = site.gx.state().slot();
    assert_eq!((testenv::slot_start(&slot), slot[1]), (unix(at), 6 * 3600));
    let r = site.run(&["plan", "--json", "--at", at]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["slot"]["elapsed_s"], 39_600);
    assert_eq!(doc["slot_part"]["duration_s"], 21_600);
    assert_eq!(doc["slot_part"]["whole"], false);
    assert_eq!(doc["slot_part"]["end_local"], "2026-04-05T02:00:00+10:00");
}

#[test]
fn a_gx_left_on_utc_gets_elapsed_seconds() {
    let site = Site::new(3 * DAY, false);
    site.write_config("timezone = \"UTC\"", "reserve_soc = 30");
    let r = site.run(&["apply", "--at", "2026-04-04T21:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.gx.state().slot()[1], 39_600);
}

#[test]
fn plan_warns_of_a_window_in_the_repeated_hour() {
    let site = Site::new(3 * DAY, false);
    // A weekend-only charge from 02:30: on Sun 5 Apr 2026 02:30 comes twice.
    site.write_config(
        "",
        "reserve_soc = 30\n[[schedule.normal]]\nstart = \"02:30\"\nend = \"06:00\"",
    );
    let r = site.run(&["plan", "--at", "2026-04-04T21:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("passes twice"), "{}", r.stderr);
    let r = site.run(&["plan", "--at", "2026-04-11T21:00:00+10:00"]);
    assert!(!r.stderr.contains("passes twice"), "{}", r.stderr);
}

#[test]
fn plan_writes_nothing_and_shows_the_writes() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["plan", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.gx.state().write_requests, 0);
    assert!(
        r.stdout.contains("FC16 5424-5430 = [0, 21600, 1, 100,"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FC06 2901 = 300"), "{}", r.stdout);
    assert!(
        r.stdout.contains("more than 24 h away → normal windows"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Timeline"), "{}", r.stdout);
}

#[test]
fn a_chunked_bms_answer_reads_the_same() {
    let site = Site::new(20 * 3600, false);
    let at = ["plan", "--json", "--at", "2026-11-24T07:00:00+11:00"];
    let plain = site.run(&at);
    site.bms.state().mode = testenv::bms::Mode::Chunked;
    let chunked = site.run(&at);
    assert_eq!((plain.code, chunked.code), (0, 0), "{chunked:?}");
    let doc = |text: &str| -> serde_json::Value { serde_json::from_str(text).unwrap() };
    let (a, b) = (doc(&plain.stdout), doc(&chunked.stdout));
    assert_eq!(a["bms"], b["bms"]);
    assert_eq!(b["bms"]["batteries"][0]["state_of_charge"], 70.0);
    assert_eq!(a["slot"], b["slot"]);
}

#[test]
fn plan_json_is_one_document() {
    let site = Site::new(20 * 3600, false);
    let r = site.run(&["plan", "--json", "--at", "2026-11-24T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&r.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["command"], "plan");
    assert_eq!(doc["stage"], "approaching");
    assert_eq!(doc["phase"], "maintenance");
    assert_eq!(doc["slot"]["window"], "schedule.maintenance[0]");
    assert_eq!(doc["slot"]["start_local"], "2026-11-24T13:00:00+11:00");
    assert_eq!(doc["slot"]["duration_s"], 10800);
    assert_eq!(doc["min_soc"], 0);
    assert_eq!(doc["applied"], false);
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["writes"][1]["address"], 5424);
    assert_eq!(doc["writes"][1]["function"], 16);
    assert_eq!(doc["bms"]["batteries"][0]["due_in_s"], 72000);
}

#[test]
fn status_shows_both_devices_and_survives_one_down() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("battery 1: SoC 70.0 %"), "{}", r.stdout);
    assert!(r.stdout.contains("AC loads: L1 350 W"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Dynamic ESS: mode 0 (off)"),
        "{}",
        r.stdout
    );
    assert!(site.gx.state().requests <= 6, "status reads coalesced");

    let json = site.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["gx"]["ess_min_soc"], 10.0);
    assert_eq!(doc["bms"]["batteries"][0]["state_of_charge"], 70.0);

    // GX gone: the BMS part still prints, exit 4.
    let port = testenv::closed_port();
    let r = site.run(&["--gx", &format!("127.0.0.1:{port}"), "status"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("battery 1: SoC 70.0 %"), "{}", r.stdout);
    assert!(r.stdout.contains("refused the connection"), "{}", r.stdout);
}

#[test]
fn host_time_zone_is_never_used() {
    // run_bin sets TZ=America/Los_Angeles; the output must be in Hobart time regardless.
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["plan", "--json", "--at", "2026-11-23T07:00:00+11:00"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["now_local"], "2026-11-23T07:00:00+11:00");
    assert_eq!(doc["slot"]["start_local"], "2026-11-23T10:00:00+11:00");
}

#[test]
fn config_errors_exit_2_and_touch_nothing() {
    let site = Site::new(2 * DAY, false);
    site.write_config("", "reserve_soc = 130");
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("schedule.reserve_soc"), "{}", r.stderr);
    site.write_config(
        "",
        "[[schedule.normal]]\nstart = \"08:00\"\nend = \"12:00\"",
    );
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("overlaps peak[0]"), "{}", r.stderr);
    let r = testenv::run_bin(&["--config", "/nonexistent/zcell.toml", "plan"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/zcell.toml"), "{}", r.stderr);
    site.write_config("", "");
    let r = site.run(&["plan", "--at", "yesterday"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = site.run(&["frobnicate"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(site.gx.state().requests, 0, "no GX traffic");
    assert_eq!(site.bms.state().requests, 0, "no BMS traffic");
}

#[test]
fn config_path_comes_from_the_environment() {
    let site = Site::new(2 * DAY, false);
    let config = site.config_arg();
    let r = testenv::run_bin(
        &["plan", "--at", "2026-11-23T07:00:00+11:00"],
        &[("ZCELL_SCHEDULER_CONFIG", config.as_str())],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn version_and_help() {
    let r = testenv::run_bin(&["--version"], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("zcell-scheduler "));
    let r = testenv::run_bin(&["--help"], &[]);
    assert_eq!(r.code, 0);
    for word in [
        "plan",
        "apply",
        "status",
        "--config",
        "--gx",
        "--bms",
        "--timezone",
    ] {
        assert!(r.stdout.contains(word), "{word} missing from --help");
    }
}
