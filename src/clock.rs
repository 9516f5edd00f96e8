//! Wall-clock time in the configured IANA zone, turned into instants.
//!
//! Every window in the configuration is a wall-clock time in `timezone`. This module is the one
//! place where such a time becomes an instant, so the daylight-saving rules live here: a local
//! time that does not exist (the spring-forward gap) becomes the first instant after the gap,
//! and an ambiguous one (the hour repeated when clocks go back) takes the earlier instant.
//! The host's own time zone is never consulted.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Window;

/// The system clock as UTC. Only the instant is read, never the host's time zone.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// The instant of a local wall-clock time in `tz`.
pub fn to_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // Gaps are at most a few hours and end on a whole minute in every real zone; a day of
    // minutes bounds the search even for an absurd zone.
    for _ in 0..=24 * 60 {
        match tz.from_local_datetime(&probe) {
            chrono::LocalResult::Single(t) => return t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            chrono::LocalResult::None => probe += TimeDelta::minutes(1),
        }
    }
    // Unreachable for any zone in the database; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local)
}

/// The local date and time of an instant in `tz`.
pub fn local(tz: Tz, instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&tz).naive_local()
}

/// One dated occurrence of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The local date the instance starts on.
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Instance {
    /// True elapsed seconds between start and end.
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }

    /// Half-open containment: `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// The instance of `window` that starts on local `date`, whether or not the window applies then.
pub fn instance_on(window: &Window, tz: Tz, date: NaiveDate) -> Option<Instance> {
    let end_date = if window.end <= window.start {
        date.checked_add_days(Days::new(1))?
    } else {
        date
    };
    Some(Instance {
        date,
        start: to_instant(tz, date.and_time(window.start.naive())),
        end: to_instant(tz, end_date.and_time(window.end.naive())),
    })
}

/// Every applicable instance of `window` whose start date lies within `days_before` days before
/// and `days_after` days after the local date of `around`, in order.
pub fn instances(
    window: &Window,
    tz: Tz,
    holidays: &BTreeSet<NaiveDate>,
    around: DateTime<Utc>,
    days_before: u64,
    days_after: u64,
) -> Vec<Instance> {
    let today = local(tz, around).date();
    let Some(first) = today.checked_sub_days(Days::new(days_before)) else {
        return Vec::new();
    };
    (0..=days_before + days_after)
        .filter_map(|n| first.checked_add_days(Days::new(n)))
        .filter(|d| window.applies_on(*d, holidays))
        .filter_map(|d| instance_on(window, tz, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClockTime, DaySet};
    use chrono_tz::Australia::Hobart;

    fn window(start: &str, end: &str) -> Window {
        Window {
            key: "test".into(),
            start: ClockTime::parse(start).unwrap(),
            end: ClockTime::parse(end).unwrap(),
            days: DaySet::All,
            months: (1..=12).collect(),
            soc: 100,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn overnight_window_has_its_true_length_on_both_dst_nights() {
        let w = window("21:00", "07:00");
        // Hobart: clocks go back 03:00 → 02:00 on Sun 5 Apr 2026, forward 02:00 → 03:00 on
        // Sun 4 Oct 2026.
        let back = instance_on(&w, Hobart, date(2026, 4, 4)).unwrap();
        assert_eq!(back.seconds(), 11 * 3600);
        let forward = instance_on(&w, Hobart, date(2026, 10, 3)).unwrap();
        assert_eq!(forward.seconds(), 9 * 3600);
        let plain = instance_on(&w, Hobart, date(2026, 6, 1)).unwrap();
        assert_eq!(plain.seconds(), 10 * 3600);
    }

    #[test]
    fn gap_moves_to_the_first_instant_after_it() {
        // 02:30 does not exist in Hobart on 4 Oct 2026; 03:00 AEDT is 16:00 UTC the day before.
        let t = to_instant(Hobart, date(2026, 10, 4).and_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2026-10-03T16:00:00+00:00");
    }

    #[test]
    fn ambiguous_takes_the_earlier_instant() {
        // 02:30 happens twice in Hobart on 5 Apr 2026: first at +11 (15:30 UTC).
        let t = to_instant(Hobart, date(2026, 4, 5).and_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2026-04-04T15:30:00+00:00");
    }

    #[test]
    fn instances_follow_days_and_months() {
        let mut w = window("10:00", "16:00");
        w.days = DaySet::Weekdays;
        w.months = [11].into_iter().collect();
        let holidays: BTreeSet<_> = [date(2026, 11, 25)].into_iter().collect();
        let around = to_instant(Hobart, date(2026, 11, 27).and_hms_opt(12, 0, 0).unwrap());
        let dates: Vec<_> = instances(&w, Hobart, &holidays, around, 5, 5)
            .iter()
            .map(|i| i.date)
            .collect();
        // 22-23 Nov is a weekend, 25th a holiday, 28-29 a weekend, December is excluded.
        assert_eq!(
            dates,
            vec![
                date(2026, 11, 23),
                date(2026, 11, 24),
                date(2026, 11, 26),
                date(2026, 11, 27),
                date(2026, 11, 30)
            ]
        );
    }
}
