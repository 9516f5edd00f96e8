//! End-to-end: the tool gives back what it changed on the GX. `apply` remembers what the GX
//! held before its first write to each setting (`handback.json` beside the config); the
//! owner's minimum SoC comes back after maintenance; `release` hands everything back.

use crate::testenv::{self, DAY, Site, bms, has};

const GX: u8 = 100;
const EV: u8 = 40;

/// A GX as shipped (minimum SoC 10 %, Dynamic ESS off, no capacity), no `reserve_soc`.
fn fresh_site(due_in_s: i64) -> Site {
    Site::builder().due_in(due_in_s).schedule("").start()
}

fn registers(site: &Site) -> (u16, u16, u16) {
    assert!(site.gx.settle());
    let s = site.gx.state();
    (s.get(GX, 2901), s.get(GX, 5420), s.get(GX, 5423))
}

fn record(site: &Site) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(site.dir.0.join("handback.json")).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn release_gives_back_everything_apply_changed() {
    let site = fresh_site(3600);
    assert_eq!(registers(&site), (100, 0, 0));
    let r = site.run(&["apply", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Maintenance lowers the minimum even without reserve_soc.
    assert_eq!(registers(&site), (0, 100, 4));
    let rec = record(&site).expect("what the GX held is recorded before the first write");
    assert_eq!(rec["min_soc_raw"], 100);
    assert_eq!(rec["dess_mode"], 0);

    let r = site.run(&["release"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stdout, "ESS minimum SoC: 0 % → 10 %");
    has(&r.stdout, "the GX is as this tool found it");
    // The capacity stays: the GX had none (0, which its store refuses), and Dynamic ESS is
    // off again.
    assert_eq!(registers(&site), (100, 100, 0));
    let slot = site.gx.state().slot();
    assert_eq!(
        (testenv::slot_start(&slot), slot[1]),
        (0, 0),
        "slot cleared"
    );
    assert!(record(&site).is_none(), "nothing left to give back");

    let again = site.run(&["release", "--json"]);
    assert_eq!(again.code, 0, "{again:?}");
    let doc: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(doc["command"], "release");
    assert_eq!(doc["restored"], serde_json::json!([]));
    assert_eq!(doc["released"], true);
}

#[test]
fn the_owners_minimum_comes_back_after_maintenance_and_their_own_change_is_kept() {
    let site = fresh_site(3600);
    let r = site.run(&["apply", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(registers(&site).0, 0);
    // The owner sets 20 % on the GX during maintenance: theirs from now on, said once.
    site.gx.state().set(GX, 2901, 200);
    let r = site.run(&["apply", "--at", "2026-11-23T08:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stderr, "taken as your own value");
    assert_eq!(registers(&site).0, 0, "maintenance still needs it lowered");
    // Maintenance over (the next due three days away): the owner's 20 % comes back.
    site.bms.state().body = bms::scenario(&[bms::battery(70.0, false, 3 * DAY)]);
    let r = site.run(&["apply", "--at", "2026-11-23T09:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stdout, "(yours, put back)");
    assert_eq!(registers(&site).0, 200);
    assert!(!r.stderr.contains("taken as your own value"), "once only");
}

#[test]
fn release_stops_a_kick_and_puts_the_charger_back() {
    let site = Site::builder()
        .kicking()
        .firmware(testenv::gx::Firmware::V370)
        .schedule("")
        .start();
    let state_file = site.ev_state_file();
    let r = site.run(&["ev-kick"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(site.gx.settle());
    assert_eq!(site.gx.state().get(EV, 3815), 0, "manual: kicking");
    let r = site.run(&["release"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stdout, "stopped the charge this tool started");
    assert!(site.gx.settle());
    let s = site.gx.state();
    assert_eq!((s.get(EV, 3815), s.get(EV, 3825)), (1, 16));
    assert!(!state_file.exists());
}

#[test]
fn a_release_that_cannot_reach_the_gx_keeps_the_record() {
    let site = fresh_site(3600);
    let r = site.run(&["apply", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let port = testenv::closed_port();
    let r = site.run(&["--gx", &format!("127.0.0.1:{port}"), "release"]);
    assert_eq!(r.code, 4, "{r:?}");
    has(&r.stdout, "not finished");
    assert!(record(&site).is_some(), "kept for the next try");
}

#[test]
fn the_pause_switch_hands_back_once_then_does_nothing() {
    let site = fresh_site(3600);
    let r = site.run(&["apply", "--at", "2026-11-23T07:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(registers(&site).0, 0);
    site.write_config("", "enabled = false");
    let r = site.run(&["apply", "--at", "2026-11-23T08:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(
        &r.stderr,
        "paused ([schedule] enabled = false): handing the GX back",
    );
    assert_eq!(registers(&site), (100, 100, 0));
    assert!(record(&site).is_none());
    site.gx.state().reset_counters();
    site.bms.state().requests = 0;
    for command in [&["apply"][..], &["plan"], &["ev-kick"]] {
        let r = site.run(command);
        assert_eq!(r.code, 0, "{r:?}");
        has(
            &r.stdout,
            "paused ([schedule] enabled = false): nothing read, nothing written",
        );
    }
    assert_eq!(site.gx.state().requests, 0);
    assert_eq!(site.bms.state().requests, 0);
    // On again: the tool takes over where the rules say.
    site.write_config("", "enabled = true");
    let r = site.run(&["apply", "--at", "2026-11-23T09:00:00+11:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(registers(&site).0, 0);
}

#[test]
fn release_leaves_another_controllers_slot_alone() {
    // Node-RED (or VRM) holds slot 0; this tool never wrote the GX.
    let site = fresh_site(3 * DAY);
    testenv::hold_slot(&site, 3600, 7200, 80);
    site.gx.state().reset_counters();
    let r = site.run(&["release"]);
    assert_eq!(r.code, 0, "{r:?}");
    has(&r.stdout, "nothing to give back");
    assert_eq!(site.gx.state().write_requests, 0);
    assert_eq!(site.gx.state().slot()[3], 80);
}
