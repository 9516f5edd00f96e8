//! `simulate` end to end: a week offline with no network at all, and a start read from the
//! simulators (one BMS request, one GX read, no write).

use crate::testenv::{self, ConfigText, DAY, Site, has, run_command};

#[test]
fn a_week_offline_with_no_network() {
    let dir = testenv::TempDir::new("simulate");
    let config = dir.0.join("config.toml");
    // Addresses that would be real on a LAN: with no network they cannot be reached anyway.
    ConfigText {
        schedule: "reserve_soc = 30".into(),
        ..ConfigText::new("http://192.168.1.50:3000", "192.168.1.60", 502)
    }
    .write(&config);
    let config = config.display().to_string();
    let mut args = vec!["-n", testenv::BIN, "--config", &config];
    args.extend(testenv::README_WEEK);
    let r = run_command("unshare", &args, &[]);
    assert!(
        !r.stderr.contains("unshare: "),
        "needs `unshare -n` (as root): {r:?}"
    );
    assert_eq!(r.code, 0, "{r:?}");
    has(
        &r.stdout,
        "Simulation from Mon 23 Nov 2026 07:00 AEDT for 7 days",
    );
    has(&r.stdout, "SoC, one column per hour");
    has(&r.stdout, "Findings");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let r = run_command("unshare", &json_args, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["from"], "2026-11-22T20:00:00+00:00");
    assert_eq!(doc["model"]["days"], 7);
    assert_eq!(doc["model"]["start_soc"], 80.0);
    // `apply` on every hour, as the cron block runs it.
    let runs: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    assert_eq!(doc["model"]["runs"], serde_json::json!(runs));
    assert_eq!(doc["steps"].as_array().unwrap().len(), 7 * 24);
    let first = &doc["steps"][0];
    for key in ["t", "soc", "phase", "slot", "battery_w", "grid_w", "ev_w"] {
        assert!(first.get(key).is_some(), "step has {key}: {first}");
    }
    let m = &doc["maintenances"][0];
    assert_eq!(m["due"], "2026-11-24T02:00:00+00:00", "{m}");
    assert!(m["empty"].is_string() && m["done"].is_string(), "{m}");
    assert_eq!(
        doc["days"].as_array().unwrap().len(),
        8,
        "Mon 07:00 to Mon 07:00"
    );
    for key in [
        "grid_import_kwh",
        "grid_export_kwh",
        "peak_grid_kwh",
        "ev_kwh",
    ] {
        assert!(doc["totals"][key].is_number(), "{key}");
    }
    assert!(doc["findings"].is_array());
}

#[test]
fn the_start_is_read_from_the_devices_once_and_nothing_is_written() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["simulate", "--days", "2", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // The GX simulator's battery is at 64 %; the BMS says due in 2 days.
    assert_eq!(doc["model"]["start_soc"], 64.0);
    let due_in = doc["model"]["due_in_h"].as_f64().unwrap();
    assert!((47.9..=48.0).contains(&due_in), "{due_in}");
    assert_eq!(site.bms.state().requests, 1);
    let gx = site.gx.state();
    assert_eq!((gx.requests, gx.write_requests), (1, 0));
}

#[test]
fn a_bms_that_cannot_be_read_leaves_no_start() {
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = testenv::bms::Mode::Status(500);
    let r = site.run(&["simulate", "--soc", "50"]);
    assert_eq!(r.code, 3, "{r:?}");
    has(&r.stderr, "HTTP 500");
    has(&r.stdout, "--soc and --due-in need no device");
}
