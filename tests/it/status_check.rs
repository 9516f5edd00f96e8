//! `status --check` against the GX simulator, which decides "in force" by the GX's own naive
//! wall-clock rule and fills Dynamic ESS's live registers (5400, 5404, 5407) from it.

use crate::testenv::hold_slot;
use crate::testenv::{self, DAY, Site};

#[test]
fn a_slot_in_force_that_the_gx_follows_passes() {
    let site = Site::new(2 * DAY, false);
    hold_slot(&site, -3600, 7200, 80);
    let r = site.run(&["status", "--check"]);
    assert_eq!(r.code, 0, "{r:?}");
    testenv::has(
        &r.stdout,
        "the GX follows slot 0: Dynamic ESS active, no error, target 80 %",
    );
    let r = site.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["gx"]["slot_check"]["follows"], true, "{}", doc["gx"]);
    assert_eq!(doc["gx"]["dess_target_soc"], 80.0);
    // Times are RFC 3339, as the README documents them; the register itself beside it.
    let start = doc["gx"]["slot"]["start"].as_str().unwrap();
    assert!(start.ends_with("+00:00"), "{start}");
    assert!(doc["gx"]["slot"]["start_unix"].as_i64().unwrap() > 1_700_000_000);
}

#[test]
fn a_stale_target_soc_is_named_and_fails_the_check() {
    let site = Site::new(2 * DAY, false);
    hold_slot(&site, -3600, 7200, 80);
    site.gx.state().stale_target_soc = Some(100);
    let r = site.run(&["status", "--check"]);
    assert_eq!(r.code, 4, "{r:?}");
    testenv::has(&r.stdout, "aims for 100 % (5407), not slot 0's 80 %");
    testenv::has(&r.stdout, "TargetSoc left behind by VRM");
    // Plain `status` reports it without failing.
    let r = site.run(&["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    testenv::has(&r.stdout, "slot 0 check: the GX does not follow slot 0");
}

#[test]
fn a_dynamic_ess_error_fails_the_check() {
    let site = Site::new(2 * DAY, false);
    hold_slot(&site, -3600, 7200, 80);
    site.gx.state().set(100, 5420, 0);
    let r = site.run(&["status", "--check"]);
    assert_eq!(r.code, 4, "{r:?}");
    testenv::has(&r.stdout, "error 5");
}

#[test]
fn no_slot_in_force_passes() {
    let site = Site::new(2 * DAY, false);
    hold_slot(&site, 2 * 3600, 3600, 80);
    let r = site.run(&["status", "--check"]);
    assert_eq!(r.code, 0, "{r:?}");
    testenv::has(&r.stdout, "no slot in force");
    // An empty slot too.
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["status", "--check"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn the_check_fails_when_the_gx_cannot_be_read() {
    let site = Site::new(2 * DAY, false);
    let port = testenv::closed_port();
    let r = site.run(&["--gx", &format!("127.0.0.1:{port}"), "status", "--check"]);
    assert_eq!(r.code, 4, "{r:?}");
    testenv::has(&r.stdout, "the GX could not be read");
}
