//! The maintenance drain end to end: the forecast and its warning, no slot change without
//! `[drain] export`, the drain slot written as one FC16 and read back with it, none when the
//! drain is on time, and the GX simulator's scheduled discharge.

use chrono::{DateTime, TimeDelta, Utc};

use crate::testenv::{self, Site, has};

/// Wed 25 Nov 2026 21:00 in Hobart: the cycle started at 19:40.
const AT: &str = "2026-11-25T21:00:00+11:00";

/// A site in its maintenance discharge: battery 1 stripping, the GX's SoC 59 %, 400 W of loads.
fn stripping_site(drain: &str) -> Site {
    Site::builder()
        .battery(59.0, true, -4800)
        .tail(drain)
        .register(100, 843, 59)
        .register(100, 817, 400)
        .start()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_late_drain_is_warned_and_nothing_changes_without_export() {
    let site = stripping_site("");
    let r = site.run(&["plan", "--json", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    has(
        &r.stderr,
        "maintenance drain: 5.9 kWh at 400 W needs 14 h 45 min, finishing Thu 11:45, after the 03:00 refill window",
    );
    let doc = json(&r.stdout);
    let d = &doc["drain"];
    assert_eq!(d["energy_kwh"], 5.9);
    assert_eq!(
        (d["load_w"].as_u64(), d["load_source"].as_str()),
        (Some(400), Some("gx"))
    );
    assert_eq!(d["ev_w"], 0);
    assert_eq!(d["start"], "2026-11-25T10:00:00+00:00");
    assert_eq!(d["finish"], "2026-11-26T00:45:00+00:00");
    assert_eq!(d["deadline"], "2026-11-25T16:00:00+00:00");
    assert_eq!(d["on_time"], false);
    // No slot while the battery is in its cycle, late or not.
    assert!(doc["slot"].is_null(), "{}", doc["slot"]);
    let r = site.run(&["apply", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    let slot = site.gx.state().slot();
    assert_eq!((testenv::slot_start(&slot), slot[1]), (0, 0), "{slot:?}");
    // The text report shows the forecast and the drain on the timeline.
    let r = site.run(&["plan", "--at", AT]);
    has(&r.stdout, "Maintenance drain (forecast)");
    has(&r.stdout, "→ LATE");
    has(&r.stdout, "> draining  e empty");
}

#[test]
fn with_export_the_drain_slot_is_one_fc16_and_reads_back() {
    let site = stripping_site("[drain]\nexport = true\n");
    let r = site.run(&["apply", "--json", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r.stdout);
    assert_eq!(doc["slot"]["kind"], "drain", "{}", doc["slot"]);
    assert_eq!(doc["slot"]["soc"], 1);
    assert!(doc["applied"].as_bool().unwrap());
    let s = site.gx.state();
    let slot_writes: Vec<_> = s.writes.iter().filter(|(_, a, _)| *a == 5424).collect();
    assert_eq!(slot_writes.len(), 1, "{:?}", s.writes);
    assert_eq!(slot_writes[0].2.len(), 7);
    let slot = s.slot();
    // AllowGridFeedIn 1, 6 h on the wall clock (21:00 → 03:00), restrictions 2, Soc 1, Strategy 0.
    assert_eq!(
        (slot[0], slot[1], slot[2], slot[3], slot[6]),
        (1, 6 * 3600, 2, 1, 0)
    );
    assert_eq!(testenv::slot_start(&slot), 1_795_600_800); // 2026-11-25T10:00:00Z
    assert!(!r.stderr.contains("maintenance drain:"), "{}", r.stderr);
    // A second run at the same instant writes nothing.
    drop(s);
    let before = site.gx.state().write_requests;
    let r = site.run(&["apply", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.gx.state().write_requests, before);
}

#[test]
fn a_drain_on_time_is_timed_to_end_at_the_deadline() {
    let site = stripping_site("[drain]\nexport = true\nnight_load_w = 3000\n");
    let r = site.run(&["apply", "--json", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r.stdout);
    assert_eq!(doc["drain"]["on_time"], true);
    assert_eq!(doc["drain"]["load_source"], "config");
    // The strip then ends at the same time of day every cycle, so the next due stays clear
    // of the morning.
    assert_eq!(doc["slot"]["kind"], "drain", "{}", doc["slot"]);
    assert_eq!(doc["slot"]["end_local"], "2026-11-26T03:00:00+11:00");
}

#[test]
fn the_ev_counts_in_the_forecast() {
    // The car charging at 6 A on L1: house 400 W + EV 1380 W finishes 5.9 kWh by 00:19.
    let site = stripping_site("[drain]\nexport = true\n[ev]\n");
    {
        let mut s = site.gx.state();
        s.set(40, 3824, 2);
        s.set(40, 3821, 1380);
        s.set(100, 817, 1780);
    }
    let r = site.run(&["apply", "--json", "--at", AT]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r.stdout);
    assert_eq!(
        (
            doc["drain"]["load_w"].as_u64(),
            doc["drain"]["ev_w"].as_u64()
        ),
        (Some(400), Some(1380))
    );
    assert_eq!(doc["drain"]["on_time"], true);
    assert!(doc["slot"].is_null(), "no drain slot: the car takes it");
    // The charger was read on unit 40 and the GX written on unit 100.
    assert!(
        site.gx
            .state()
            .writes
            .iter()
            .all(|(unit, _, _)| *unit == 100)
    );
}

#[test]
fn the_simulated_gx_discharges_a_drain_slot_at_the_rate_that_reaches_1_percent() {
    // Real time, so the slot is in force now: a deadline six hours ahead.
    let deadline = DateTime::<Utc>::from(std::time::SystemTime::now()) + TimeDelta::hours(6);
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&chrono_tz::Australia::Hobart)
            .format("%H:%M")
            .to_string()
    };
    let by = local(deadline);
    // A drain slot is never in force in a peak, and ends where one starts: the only peak
    // here is a minute at 07:00 or 16:00 (outside every charge window), whichever is not in
    // the next six hours.
    let now_local = deadline - TimeDelta::hours(6);
    let hour = now_local
        .with_timezone(&chrono_tz::Australia::Hobart)
        .format("%H")
        .to_string()
        .parse::<u32>()
        .unwrap();
    let peak = if (1..=7).contains(&hour) { "16" } else { "07" };
    let site = stripping_site(&format!(
        "[drain]\nexport = true\nby = \"{by}\"\n[[peak]]\nstart = \"{peak}:00\"\nend = \"{peak}:01\"\n"
    ));
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.gx.state().slot()[3], 1, "a drain slot");
    let r = site.run(&["status", "--json"]);
    let doc = json(&r.stdout);
    let power = doc["gx"]["battery_power_w"].as_f64().unwrap();
    // (59 - 1) % of 10 kWh over about 6 h: about 967 W.
    assert!((-1010.0..=-930.0).contains(&power), "{power}");
    assert_eq!(
        doc["gx"]["slot_check"]["follows"], true,
        "{}",
        doc["gx"]["slot_check"]
    );
}

#[test]
fn ev_kick_decides_at_a_given_time_like_plan_and_apply() {
    // The night on model time: ev-kick --at decides as if it were then (here a local time).
    let site = stripping_site("[ev]\n");
    {
        let mut s = site.gx.state();
        s.set(40, 3824, 1);
    }
    let r = site.run(&["ev-kick", "--dry-run", "--json", "--at", "2026-11-25T21:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r.stdout);
    assert_eq!(doc["now"], "2026-11-25T10:00:00+00:00", "{doc}");
    assert_eq!(
        doc["decision"]["action"]["action"], "start",
        "{}",
        doc["decision"]
    );
    let bad = site.run(&["ev-kick", "--dry-run", "--at", "yesterday"]);
    assert_eq!(bad.code, 2, "{bad:?}");
}
