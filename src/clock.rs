//! Wall-clock time in the configured IANA zone, turned into instants.
//!
//! Every window in the configuration is a wall-clock time in `timezone`. This module is the one
//! place where such a time becomes an instant, so the daylight-saving rules live here: a local
//! time that does not exist (the spring-forward gap) becomes the first instant after the gap,
//! and an ambiguous one (the hour repeated when clocks go back) takes the earlier instant.
//! The host's own time zone is never consulted.
//!
//! The GX counts slot 0's window on its own wall clock, in its own zone (Victron's control
//! code builds it as the naive local time of `Start` plus `Duration` seconds and compares it
//! with the naive local time now). The `gx_*` functions here speak that clock.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Days, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::config::Window;

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

/// The GX's naive wall clock at an instant.
fn naive(gx_tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    local(gx_tz, t)
}

/// The slot Duration (seconds) that makes the GX, counting on its wall clock in `gx_tz`, act
/// from `start` until `end`: the wall-clock distance, not the elapsed time (on the night the
/// clocks go back 21:00 → 07:00 is 36 000 s, though 39 600 s elapse).
pub fn gx_wall_seconds(gx_tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    (naive(gx_tz, end) - naive(gx_tz, start)).num_seconds()
}

/// Where the GX stops a slot of `duration_s` starting at `start`: the first instant its wall
/// clock reads the start's wall-clock time plus the duration.
pub fn gx_stop(gx_tz: Tz, start: DateTime<Utc>, duration_s: i64) -> DateTime<Utc> {
    to_instant(gx_tz, naive(gx_tz, start) + TimeDelta::seconds(duration_s))
}

/// Whether the GX holds the slot in force at `now`, by its own rule: the wall-clock time now
/// lies in [wall-clock start, wall-clock start + duration).
pub fn gx_in_force(gx_tz: Tz, start: DateTime<Utc>, duration_s: i64, now: DateTime<Utc>) -> bool {
    let from = naive(gx_tz, start);
    let wall_now = naive(gx_tz, now);
    from <= wall_now && wall_now < from + TimeDelta::seconds(duration_s)
}

/// The longest slot the GX's Duration register holds, in seconds.
pub const MAX_SLOT_S: i64 = 65_535;

/// The UTC offset `tz` is at at an instant.
fn offset_at(tz: Tz, t: DateTime<Utc>) -> chrono::FixedOffset {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix()
}

/// The first instant in `(from, to]` at which `tz` changes its UTC offset (a daylight-saving
/// transition), to the second.
pub fn first_transition(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let before = offset_at(tz, from);
    // Offsets last far longer than an hour in every real zone: hourly probes find the first
    // change, and halving narrows it down to the second.
    let mut lo = from;
    let hi = loop {
        if lo >= to {
            return None;
        }
        let next = (lo + TimeDelta::hours(1)).min(to);
        if offset_at(tz, next) != before {
            break next;
        }
        lo = next;
    };
    let (mut lo, mut hi) = (lo, hi);
    while hi - lo > TimeDelta::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// The part of the window `[start, end)` that the GX's one slot should hold at `now`, so the
/// slot is right whether the GX counts it on its wall clock or in elapsed time: the window is
/// cut at every daylight-saving transition of `gx_tz` and into pieces that fit the Duration
/// register (a long piece ends on a whole hour of `cron_tz`, when the hourly `apply` runs
/// and writes the next one). The piece running at `now`, or else the first one; `None` when
/// nothing of the window is left or it is empty (inside a spring-forward gap).
pub fn gx_piece(
    gx_tz: Tz,
    cron_tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut from = start;
    // A piece is at least an hour long unless a transition cuts it: a year of them at most.
    for _ in 0..10_000 {
        if from >= end {
            return None;
        }
        let longest = from + TimeDelta::seconds(MAX_SLOT_S);
        let to = match first_transition(gx_tz, from, end.min(longest)) {
            Some(t) => t,
            None if end <= longest => end,
            None => Some(whole_hour_before(cron_tz, longest))
                .filter(|t| *t > from)
                .unwrap_or(longest),
        };
        if now < to {
            return Some((from, to));
        }
        from = to;
    }
    None
}

/// The last whole hour of `tz`'s wall clock at or before `t`.
fn whole_hour_before(tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    let wall = local(tz, t);
    let floored = wall.date().and_hms_opt(wall.hour(), 0, 0).unwrap_or(wall);
    let instant = to_instant(tz, floored);
    if instant <= t {
        instant
    } else {
        t - TimeDelta::seconds(i64::from(wall.minute()) * 60 + i64::from(wall.second()))
    }
}

/// Whether `t` lies inside (not at the first moment of) an hour the wall clock in `tz`
/// repeats when the clocks go back.
fn inside_repeated_hour(tz: Tz, t: DateTime<Utc>) -> bool {
    let repeated = |n: NaiveDateTime| {
        matches!(
            tz.from_local_datetime(&n),
            chrono::LocalResult::Ambiguous(..)
        )
    };
    let wall = naive(tz, t);
    repeated(wall) && repeated(wall - TimeDelta::seconds(1))
}

/// Whether the GX cannot hold `[start, end)` exactly: a start or an end inside the hour its
/// wall clock passes twice on a fall-back night makes it act, pause and act again.
pub fn gx_inexact(gx_tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    inside_repeated_hour(gx_tz, start) || inside_repeated_hour(gx_tz, end)
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

    fn hobart(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        to_instant(Hobart, date(y, m, d).and_hms_opt(h, min, 0).unwrap())
    }

    #[test]
    fn the_gx_counts_both_dst_nights_on_its_wall_clock() {
        let w = window("21:00", "07:00");
        for night in [date(2026, 4, 4), date(2026, 10, 3), date(2026, 6, 1)] {
            let i = instance_on(&w, Hobart, night).unwrap();
            let duration = gx_wall_seconds(Hobart, i.start, i.end);
            assert_eq!(duration, 36_000, "{night}");
            // The GX stops where the window ends, and holds it in force until then.
            assert_eq!(gx_stop(Hobart, i.start, duration), i.end, "{night}");
            assert!(gx_in_force(
                Hobart,
                i.start,
                duration,
                i.end - TimeDelta::minutes(1)
            ));
            assert!(!gx_in_force(Hobart, i.start, duration, i.end));
        }
        // The elapsed seconds, as a duration, are wrong by an hour on both nights.
        let back = instance_on(&w, Hobart, date(2026, 4, 4)).unwrap();
        assert_eq!(
            gx_stop(Hobart, back.start, back.seconds()),
            hobart(2026, 4, 5, 8, 0)
        );
        let forward = instance_on(&w, Hobart, date(2026, 10, 3)).unwrap();
        assert_eq!(
            gx_stop(Hobart, forward.start, forward.seconds()),
            hobart(2026, 10, 4, 6, 0)
        );
    }

    #[test]
    fn a_window_starting_in_the_gap_starts_after_it() {
        // 02:30 does not exist on 4 Oct 2026: the window starts at 03:00, 4 h before 07:00.
        let i = instance_on(&window("02:30", "07:00"), Hobart, date(2026, 10, 4)).unwrap();
        assert_eq!(i.start, hobart(2026, 10, 4, 3, 0));
        assert_eq!(gx_wall_seconds(Hobart, i.start, i.end), 4 * 3600);
        assert!(!gx_inexact(Hobart, i.start, i.end));
    }

    #[test]
    fn a_window_in_the_repeated_hour_is_inexact() {
        // 02:30-05:00 on 5 Apr 2026: the GX acts 02:30-03:00 (+11), pauses 02:00-02:30 (+10),
        // then acts again: no Start/Duration holds the window exactly.
        let i = instance_on(&window("02:30", "05:00"), Hobart, date(2026, 4, 5)).unwrap();
        assert!(gx_inexact(Hobart, i.start, i.end));
        let duration = gx_wall_seconds(Hobart, i.start, i.end);
        let second_pass = i.start + TimeDelta::minutes(45); // 02:15 (+10)
        assert!(!gx_in_force(Hobart, i.start, duration, second_pass));
        // A window that spans the whole repeated hour, or starts at its first moment, is exact.
        let spans = instance_on(&window("21:00", "07:00"), Hobart, date(2026, 4, 4)).unwrap();
        assert!(!gx_inexact(Hobart, spans.start, spans.end));
        let at_two = instance_on(&window("02:00", "05:00"), Hobart, date(2026, 4, 5)).unwrap();
        assert!(!gx_inexact(Hobart, at_two.start, at_two.end));
        // One that ends inside it acts again on the second pass.
        let ends = instance_on(&window("22:00", "02:30"), Hobart, date(2026, 4, 4)).unwrap();
        assert!(gx_inexact(Hobart, ends.start, ends.end));
    }

    #[test]
    fn a_gx_left_on_utc_counts_elapsed_seconds() {
        let i = instance_on(&window("21:00", "07:00"), Hobart, date(2026, 4, 4)).unwrap();
        let utc = chrono_tz::UTC;
        assert_eq!(gx_wall_seconds(utc, i.start, i.end), 39_600);
        assert_eq!(gx_stop(utc, i.start, 39_600), i.end);
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
