//! Property tests over the rules: random configs, zones and instants over several years.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use zcell_scheduler::clock;
use zcell_scheduler::config::{Config, Overrides};
use zcell_scheduler::plan::{Stage, WindowKind, plan};
use zcell_scheduler::redflow::{Battery, BmsReading};

const ZONES: [&str; 7] = [
    "Australia/Hobart",
    "Australia/Sydney",
    "Europe/London",
    "America/New_York",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "UTC",
];
const DAYS: [&str; 5] = [
    "\"all\"",
    "\"weekdays\"",
    "\"weekends\"",
    "[\"mon\", \"sat\"]",
    "[\"sun\"]",
];

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

prop_compose! {
    fn window()(start in 0u32..96, len in 1u32..48, days in 0usize..5, soc in 0u8..=100) -> (String, String, &'static str, u8) {
        (hhmm(start * 15), hhmm(start * 15 + len * 15), DAYS[days], soc)
    }
}

prop_compose! {
    fn config_text()(
        zone in 0usize..ZONES.len(),
        peaks in proptest::collection::vec(window(), 0..3),
        normal in proptest::collection::vec(window(), 0..3),
        maintenance in proptest::collection::vec(window(), 0..2),
        after in proptest::collection::vec(window(), 0..2),
        lead in 1u32..48,
    ) -> String {
        let mut t = format!("timezone = \"{}\"\n[bms]\nurl = \"http://127.0.0.1:1\"\n[gx]\nhost = \"127.0.0.1\"\n", ZONES[zone]);
        for (s, e, d, _) in &peaks {
            t += &format!("[[peak]]\ndays = {d}\nstart = \"{s}\"\nend = \"{e}\"\n");
        }
        if peaks.is_empty() {
            t += "[[peak]]\ndays = [\"wed\"]\nstart = \"00:00\"\nend = \"00:15\"\n";
        }
        t += &format!("[schedule]\nreserve_soc = 40\nmaintenance_lead_hours = {lead}\nholidays = [\"2026-12-25\", \"2027-04-05\"]\nnormal = []\nmaintenance = []\nafter_maintenance = []\n");
        let mut list = |name: &str, ws: &[(String, String, &str, u8)]| {
            for (s, e, d, soc) in ws {
                t += &format!("[[schedule.{name}]]\ndays = {d}\nstart = \"{s}\"\nend = \"{e}\"\nsoc = {soc}\n");
            }
        };
        list("normal", &normal);
        list("maintenance", &maintenance);
        list("after_maintenance", &after);
        t
    }
}

fn reading(due_in_s: i64, stripping: bool) -> BmsReading {
    BmsReading {
        batteries: vec![Battery {
            state_of_charge: 50.0,
            is_stripping: stripping,
            strip_pump_run_target: 259_200,
            strip_pump_run_timer: 259_200 - due_in_s,
        }],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_their_promises(
        text in config_text(),
        // 2024-01-01 to 2030-12-31
        at in 1_704_067_200i64..1_924_905_600,
        due_in_s in -200_000i64..400_000,
        stripping in proptest::bool::weighted(0.2),
    ) {
        // Random windows may overlap a peak or be too long: those configs are rejected, fine.
        let Ok(config) = Config::parse(&text, &Overrides::default()) else { return Ok(()); };
        let now = DateTime::<Utc>::from_timestamp(at, 0).unwrap();
        let r = reading(due_in_s, stripping);
        let p = plan(&config, now, &r);
        prop_assert_eq!(&p, &plan(&config, now, &r), "pure");
        let due = now + TimeDelta::seconds(due_in_s);
        if p.stage == Stage::Due {
            prop_assert!(p.slot.is_none());
        }
        let Some(slot) = &p.slot else { return Ok(()); };
        let tz = config.timezone;
        // Duration: the true elapsed time, within the register.
        prop_assert!(slot.duration_s() > 0 && slot.duration_s() <= 65_535, "{}", slot.duration_s());
        // Start converts back to the intended wall-clock time (or the first instant after a gap).
        let window = config.schedule.normal.iter()
            .chain(&config.schedule.maintenance)
            .chain(&config.schedule.after_maintenance)
            .find(|w| w.key == slot.window)
            .unwrap();
        let local = clock::local(tz, slot.start);
        let mut date = local.date();
        let intended = clock::to_instant(tz, date.and_time(window.start.naive()));
        if intended != slot.start {
            date = date.pred_opt().unwrap();
        }
        prop_assert_eq!(clock::to_instant(tz, date.and_time(window.start.naive())), slot.start);
        // It is running now or starts within 24 h.
        prop_assert!(slot.contains(now) || (slot.start > now && slot.start - now <= TimeDelta::hours(24)));
        // Never overlaps a peak on a day that peak applies.
        for peak in &config.peaks {
            for i in clock::instances(peak, tz, &config.schedule.holidays, slot.start, 2, 2) {
                prop_assert!(!(i.start < slot.end && slot.start < i.end),
                    "slot {:?} overlaps {} {:?}", slot, peak.key, i);
            }
        }
        // Maintenance: before due only windows that end by it; after-maintenance from due on.
        if p.stage == Stage::Approaching {
            match slot.kind {
                WindowKind::Maintenance => prop_assert!(slot.end <= due),
                WindowKind::AfterMaintenance => prop_assert!(slot.start >= due),
                WindowKind::Normal => prop_assert!(false, "normal window in maintenance"),
                WindowKind::Drain => prop_assert!(false, "the rules alone never drain"),
            }
        }
        if p.stage == Stage::Active {
            prop_assert_eq!(slot.kind, WindowKind::AfterMaintenance);
            prop_assert!(slot.start >= now);
        }
    }

    #[test]
    fn config_parser_never_panics(text in ".{0,400}") {
        let _ = Config::parse(&text, &Overrides::default());
    }

    #[test]
    fn config_parser_never_panics_on_near_misses(text in config_text(), cut in 0usize..2000, junk in "[=\\[\\]\"a-z0-9:. \n-]{0,12}") {
        let cut = cut.min(text.len());
        let mangled = format!("{}{}{}", &text[..cut], junk, &text[cut..]);
        if let Err(e) = Config::parse(&mangled, &Overrides::default()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn bms_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = zcell_scheduler::redflow::parse(&body);
    }

    #[test]
    fn bms_parser_never_panics_on_json(
        soc in prop_oneof![Just("63.4".to_string()), Just("\"x\"".to_string()), Just("null".to_string()), Just("-1e308".to_string()), Just("1e999".to_string())],
        timer in prop_oneof![Just("1".to_string()), Just("-5".to_string()), Just("1e30".to_string()), Just("[]".to_string()), Just("true".to_string())],
        strip in prop_oneof![Just("true"), Just("false"), Just("0"), Just("\"yes\"")],
    ) {
        let body = format!(r#"{{"list":[{{"state_of_charge":{soc},"is_stripping":{strip},"strip_pump_run_target":{timer},"strip_pump_run_timer":{timer}}}]}}"#);
        match zcell_scheduler::redflow::parse(body.as_bytes()) {
            Ok(r) => prop_assert!(!r.batteries.is_empty()),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}
