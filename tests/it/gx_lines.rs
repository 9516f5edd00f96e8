//! End-to-end on every Venus OS line: `plan`, `apply`, `status` and `ev-kick` against a GX
//! simulator playing v3.50, v3.60, v3.70 (the old slot-0 map) and v3.80 (the new one), with a
//! settings store that applies writes late, as the real one does.

use std::time::Duration;

use crate::testenv::gx::{Firmware, SlotMap};
use crate::testenv::{self, DAY, Site, bms, has};

const GX: u8 = 100;
const EV: u8 = 40;
const AT: &str = "2026-11-23T07:00:00+11:00";

fn unix(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn apply_writes_the_slot_on_every_line_and_a_second_apply_writes_nothing() {
    for firmware in Firmware::ALL {
        let site = Site::builder().firmware(firmware).start();
        let r = site.run(&["apply", "--at", AT]);
        assert_eq!(r.code, 0, "{firmware:?}: {r:?}");
        assert!(site.gx.settle());
        {
            let s = site.gx.state();
            let slot = s.slot();
            assert_eq!(
                testenv::slot_start(&slot),
                unix("2026-11-23T10:00:00+11:00"),
                "{firmware:?}"
            );
            assert_eq!(
                (slot[1], slot[3], slot[6]),
                (6 * 3600, 100, 0),
                "{firmware:?}"
            );
            assert_eq!(s.get(GX, 2901), 300, "{firmware:?}");
            assert_eq!(s.get(GX, 5423), 4, "{firmware:?}");
            // The slot's write fits the map: 6 registers on the old one, 7 on the new.
            let slot_write = s.writes.iter().find(|(_, a, _)| *a == 5424).unwrap();
            let words = match firmware.default_map() {
                SlotMap::Old => 6,
                SlotMap::New => 7,
            };
            assert_eq!(slot_write.2.len(), words, "{firmware:?}");
            assert!(
                s.writes.iter().all(|(_, a, _)| *a != 5429),
                "{firmware:?}: no Strategy write while it is already 0: {:?}",
                s.writes
            );
        }
        site.gx.state().reset_counters();
        let again = site.run(&["apply", "--at", AT]);
        assert_eq!(again.code, 0, "{firmware:?}: {again:?}");
        assert_eq!(site.gx.state().write_requests, 0, "{firmware:?}");
    }
}

#[test]
fn a_strategy_left_by_vrm_is_reset_on_the_old_map_with_its_own_write() {
    for firmware in [Firmware::V350, Firmware::V360, Firmware::V370] {
        let site = Site::builder().firmware(firmware).start();
        site.gx.state().set(GX, 5430, 1); // the simulator keeps Strategy at 5430 on both maps
        let r = site.run(&["apply", "--at", AT]);
        assert_eq!(r.code, 0, "{firmware:?}: {r:?}");
        assert!(site.gx.settle());
        let s = site.gx.state();
        assert_eq!(s.slot()[6], 0, "{firmware:?}: Strategy back to target SoC");
        assert!(
            s.writes.contains(&(GX, 5429, vec![0])),
            "{firmware:?}: {:?}",
            s.writes
        );
        // Start is whole: the FC06 to 5429 reached Strategy, not Start's low word.
        assert_eq!(
            testenv::slot_start(&s.slot()),
            unix("2026-11-23T10:00:00+11:00")
        );
    }
}

#[test]
fn status_shows_the_firmware_its_line_and_the_map() {
    for (firmware, version, line, map) in [
        (Firmware::V350, serde_json::Value::Null, "unknown", "old"),
        (Firmware::V360, "v3.60".into(), "v360", "old"),
        (Firmware::V370, "v3.70".into(), "v370", "old"),
        (Firmware::V380, "v3.80".into(), "v380", "new"),
    ] {
        let site = Site::builder().firmware(firmware).start();
        let r = site.run(&["status", "--json"]);
        assert_eq!(r.code, 0, "{firmware:?}: {r:?}");
        let doc = json(&r.stdout);
        assert_eq!(doc["gx"]["firmware"], version, "{firmware:?}");
        assert_eq!(doc["gx"]["firmware_line"], line, "{firmware:?}");
        assert_eq!(doc["gx"]["slot_map"], map, "{firmware:?}");
        let text = site.run(&["status"]);
        has(&text.stdout, "firmware: ");
        has(&text.stdout, &format!("{map} slot map"));
    }
}

#[test]
fn a_slot_in_force_is_followed_on_every_line() {
    for firmware in Firmware::ALL {
        let site = Site::builder().firmware(firmware).start();
        testenv::hold_slot(&site, -3600, 7200, 80);
        let check = site.run(&["status", "--check"]);
        assert_eq!(check.code, 0, "{firmware:?}: {check:?}");
        has(&check.stdout, "the GX follows slot 0");
        // A stale VRM TargetSoc is the GX's target only from v3.70.
        site.gx.state().stale_target_soc = Some(100);
        let check = site.run(&["status", "--check"]);
        let expected = if firmware >= Firmware::V370 { 4 } else { 0 };
        assert_eq!(check.code, expected, "{firmware:?}: {check:?}");
    }
}

#[test]
fn a_store_that_applies_writes_up_to_half_a_second_late_is_waited_for() {
    for (firmware, delay_ms) in [
        (Firmware::V370, 0),
        (Firmware::V370, 150),
        (Firmware::V380, 500),
    ] {
        let site = Site::builder().firmware(firmware).start();
        site.gx.state().apply_delay = Duration::from_millis(delay_ms);
        let r = site.run(&["apply", "--at", AT]);
        assert_eq!(r.code, 0, "{firmware:?} {delay_ms} ms: {r:?}");
        let s = site.gx.state();
        assert_eq!(s.get(GX, 2901), 300, "{firmware:?} {delay_ms} ms");
        assert_eq!(s.slot()[3], 100, "{firmware:?} {delay_ms} ms");
        // Polls, not a flood: a handful of reads per write at most.
        assert!(
            s.requests < 40,
            "{firmware:?} {delay_ms} ms: {} requests",
            s.requests
        );
    }
}

#[test]
fn a_register_the_store_drops_is_named_and_the_others_land() {
    // FC16 is not atomic on the GX: a Soc the store refuses is dropped alone.
    let site = Site::builder().firmware(Firmware::V380).start();
    if let Some(unit) = site.gx.state().units.get_mut(&GX) {
        unit.writable.insert(5427, (0, 50));
    }
    let r = site.run(&["apply", "--at", AT]);
    assert_eq!(r.code, 5, "{r:?}");
    has(&r.stderr, "slot 0 Soc (5427) reads 0 % after writing 100 %");
    let s = site.gx.state();
    assert_eq!(s.slot()[1], 6 * 3600, "the Duration landed");
    assert_eq!(s.get(GX, 2901), 300, "the minimum SoC landed");
}

#[test]
fn battery_life_is_warned_and_fails_the_check() {
    let site = Site::builder().firmware(Firmware::V370).start();
    site.gx.state().set(GX, 2900, 3);
    let plan = site.run(&["plan", "--at", AT]);
    assert_eq!(plan.code, 0, "{plan:?}");
    has(&plan.stderr, "Optimized (without BatteryLife)");
    let check = site.run(&["status", "--check"]);
    assert_eq!(check.code, 4, "{check:?}");
    has(&format!("{}{}", check.stdout, check.stderr), "BatteryLife");
}

#[test]
fn dynamic_ess_stopped_by_mode_3_is_named_and_nothing_is_written() {
    let site = Site::builder().firmware(Firmware::V370).start();
    site.gx.state().set(GX, 5423, 3);
    site.gx.state().reset_counters();
    let r = site.run(&["apply", "--at", AT]);
    assert_eq!(r.code, 4, "{r:?}");
    has(&r.stderr, "treats as off");
    has(&r.stderr, "Mode to Off");
    assert_eq!(site.gx.state().write_requests, 0);
}

fn kick_site(firmware: Firmware) -> (Site, std::path::PathBuf) {
    let site = Site::builder().kicking().firmware(firmware).start();
    let state_file = site.ev_state_file();
    (site, state_file)
}

#[test]
fn ev_kick_starts_and_stops_on_every_line_with_a_late_store() {
    for firmware in Firmware::ALL {
        let (site, state_file) = kick_site(firmware);
        site.gx.state().apply_delay = Duration::from_millis(120);
        let r = site.run(&["ev-kick"]);
        assert_eq!(r.code, 0, "{firmware:?}: {r:?}");
        assert!(site.gx.settle());
        let charger = |site: &Site| {
            let s = site.gx.state();
            (s.get(EV, 3815), s.get(EV, 3825), s.get(EV, 3826))
        };
        assert_eq!(charger(&site), (0, 6, 1), "{firmware:?}");
        assert!(state_file.exists(), "{firmware:?}: the kick is recorded");
        // The discharge ends: stopped, auto and 16 A back.
        site.bms.state().body = bms::scenario(&[bms::battery(60.0, false, 3 * DAY)]);
        let r = site.run(&["ev-kick"]);
        assert_eq!(r.code, 0, "{firmware:?}: {r:?}");
        assert!(site.gx.settle());
        assert_eq!(charger(&site).0, 1, "{firmware:?}");
        assert_eq!(charger(&site).1, 16, "{firmware:?}");
        assert!(!state_file.exists(), "{firmware:?}: the record is cleared");
    }
}

#[test]
fn a_start_that_does_not_stick_is_undone_in_the_same_run() {
    let (site, state_file) = kick_site(Firmware::V370);
    // The station refuses 6 A: mode and start land, the current does not.
    if let Some(unit) = site.gx.state().units.get_mut(&EV) {
        unit.writable.insert(3825, (10, 32));
    }
    let r = site.run(&["ev-kick"]);
    assert_eq!(r.code, 5, "{r:?}");
    has(
        &r.stderr,
        "EVCS set current (3825) reads 16 A after writing 6 A",
    );
    assert!(site.gx.settle());
    let s = site.gx.state();
    assert_eq!(
        (s.get(EV, 3815), s.get(EV, 3826)),
        (1, 0),
        "back in auto, and stopped as found (auto mode, not started)"
    );
    assert!(!state_file.exists(), "nothing left to stop");
}
