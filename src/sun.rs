//! Sunrise and sunset at the site (`[site] latitude/longitude`), for the drain forecast: by
//! day, while solar covers the house, the battery does not drain. Pure arithmetic (the
//! `sunrise` crate's solar equation), no I/O.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use sunrise::{Coordinates, SolarDay, SolarEvent};

use crate::clock;
use crate::config::{Config, SiteConfig};

/// One local day's sunrise and sunset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daylight {
    pub sunrise: DateTime<Utc>,
    pub sunset: DateTime<Utc>,
}

impl Daylight {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.sunrise <= t && t < self.sunset
    }
}

/// Sunrise and sunset on a local date; `None` in a polar day or night (or bad coordinates).
pub fn daylight(site: &SiteConfig, date: NaiveDate) -> Option<Daylight> {
    let day = SolarDay::new(Coordinates::new(site.latitude, site.longitude)?, date);
    let sunrise = day.event_time(SolarEvent::Sunrise)?;
    let sunset = day.event_time(SolarEvent::Sunset)?;
    (sunrise < sunset).then_some(Daylight { sunrise, sunset })
}

/// The daylight spans from the local day of `from` for `days` days, in order.
pub fn spans(site: &SiteConfig, tz: Tz, from: DateTime<Utc>, days: u64) -> Vec<Daylight> {
    let first = clock::local(tz, from).date();
    (0..days)
        .filter_map(|d| first.checked_add_days(Days::new(d)))
        .filter_map(|date| daylight(site, date))
        .collect()
}

/// The first sunrise at or after `t`, within two days.
pub fn next_sunrise(site: &SiteConfig, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    spans(site, tz, t, 3)
        .into_iter()
        .map(|d| d.sunrise)
        .find(|s| *s >= t)
}

/// Whether the sun is up at `t`.
pub fn is_day(site: &SiteConfig, tz: Tz, t: DateTime<Utc>) -> bool {
    daylight(site, clock::local(tz, t).date()).is_some_and(|d| d.contains(t))
}

/// When the forecast takes solar to cover the house, so that the battery does not drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cover {
    /// Never: no `[site]`, or the GX's solar by day is below the house load.
    Never,
    /// From sunrise to sunset: the GX's solar by day covers the house load, or there is no
    /// reading by day (at night, or none from the GX) and a fair day is assumed, which errs
    /// towards a later finish and so a drain started in time.
    Daylight,
    /// The middle half of daylight (kept for a solar reading that only covers part of the day).
    Midday,
}

/// The cover the forecast assumes at `now` from the GX's solar reading (if any) and the house
/// load.
pub fn cover(config: &Config, now: DateTime<Utc>, pv_w: Option<f64>, load_w: f64) -> Cover {
    let Some(site) = config.site else {
        return Cover::Never;
    };
    let day = daylight(&site, clock::local(config.timezone, now).date());
    match (pv_w, day) {
        (Some(pv), Some(d)) if d.contains(now) && pv >= load_w => Cover::Daylight,
        // Below the load in the middle of the day: a dull day. Early or late, the sun is
        // low whatever the weather, so that says nothing.
        (Some(_), Some(d)) if midday(&d).contains(&now) => Cover::Never,
        _ => Cover::Daylight,
    }
}

/// The middle half of a day's daylight.
fn midday(d: &Daylight) -> std::ops::Range<DateTime<Utc>> {
    let quarter = (d.sunset - d.sunrise) / 4;
    (d.sunrise + quarter)..(d.sunset - quarter)
}

/// The spans in which solar covers the house, from the day before `from` for `days` days.
fn covered(
    config: &Config,
    cover: &Cover,
    from: DateTime<Utc>,
    days: u64,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(site) = config.site else {
        return Vec::new();
    };
    spans(
        &site,
        config.timezone,
        from - chrono::TimeDelta::days(1),
        days + 1,
    )
    .into_iter()
    .filter_map(|d| match cover {
        Cover::Never => None,
        Cover::Daylight => Some((d.sunrise, d.sunset)),
        Cover::Midday => {
            let m = midday(&d);
            Some((m.start, m.end))
        }
    })
    .collect()
}

fn hours(d: chrono::TimeDelta) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

/// When `drain_h` hours of draining are done from `start`, skipping the spans solar covers.
pub fn after_drain_hours(
    config: &Config,
    cover: &Cover,
    start: DateTime<Utc>,
    drain_h: f64,
) -> DateTime<Utc> {
    let mut t = start;
    let mut left = drain_h.max(0.0);
    for (a, b) in covered(config, cover, start, 9) {
        if b <= t {
            continue;
        }
        if a > t {
            let gap = hours(a - t);
            if left <= gap {
                break;
            }
            left -= gap;
        }
        t = b;
    }
    t + chrono::TimeDelta::seconds((left * 3600.0).round() as i64)
}

/// Hours of draining in `[from, until)`: the span less what solar covers.
pub fn drain_hours(
    config: &Config,
    cover: &Cover,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> f64 {
    if until <= from {
        return 0.0;
    }
    let days = (until - from).num_days().unsigned_abs() + 2;
    let shaded: f64 = covered(config, cover, from, days)
        .into_iter()
        .map(|(a, b)| hours(b.min(until) - a.max(from)).max(0.0))
        .sum();
    (hours(until - from) - shaded).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hobart;
    use chrono_tz::Australia::Hobart;

    const HOBART: SiteConfig = SiteConfig {
        latitude: -42.88,
        longitude: 147.33,
    };

    #[test]
    fn hobart_in_midwinter_and_midsummer() {
        // Published: 21 Jun 2026 sunrise 07:41, sunset 16:42 AEST; 21 Dec sunrise 05:20,
        // sunset 20:50 AEDT (within 10 minutes).
        let june = daylight(&HOBART, NaiveDate::from_ymd_opt(2026, 6, 21).unwrap()).unwrap();
        let near = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).num_minutes().abs() <= 10;
        assert!(near(june.sunrise, hobart(2026, 6, 21, 7, 41)), "{june:?}");
        assert!(near(june.sunset, hobart(2026, 6, 21, 16, 42)), "{june:?}");
        let dec = daylight(&HOBART, NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()).unwrap();
        assert!(near(dec.sunrise, hobart(2026, 12, 21, 5, 20)), "{dec:?}");
        assert!(near(dec.sunset, hobart(2026, 12, 21, 20, 50)), "{dec:?}");
        assert!(is_day(&HOBART, Hobart, hobart(2026, 6, 21, 12, 0)));
        assert!(!is_day(&HOBART, Hobart, hobart(2026, 6, 21, 17, 0)));
        assert_eq!(
            next_sunrise(&HOBART, Hobart, hobart(2026, 6, 21, 21, 0)).map(|t| t > june.sunset),
            Some(true)
        );
    }

    #[test]
    fn the_drain_skips_the_hours_solar_covers() {
        let c = crate::testing::config("[site]\nlatitude = -42.88\nlongitude = 147.33\n");
        // 21 Jun 21:00, 14 h of draining: to the middle half of daylight (~09:56-14:26),
        // which does not count, then the last hour after it.
        let start = hobart(2026, 6, 21, 21, 0);
        let end = after_drain_hours(&c, &Cover::Midday, start, 14.0);
        assert!(
            end > hobart(2026, 6, 22, 15, 15) && end < hobart(2026, 6, 22, 15, 45),
            "{end}"
        );
        let never = after_drain_hours(&c, &Cover::Never, start, 14.0);
        assert_eq!(never, hobart(2026, 6, 22, 11, 0));
        let h = drain_hours(
            &c,
            &Cover::Daylight,
            hobart(2026, 6, 22, 0, 0),
            hobart(2026, 6, 23, 0, 0),
        );
        assert!((14.5..15.5).contains(&h), "{h}");
        // Without [site] nothing is covered.
        let plain = crate::testing::config("");
        assert_eq!(cover(&plain, start, Some(5000.0), 400.0), Cover::Never);
        // At night (or with no solar reading) a fair day is assumed: all daylight covered.
        assert_eq!(cover(&c, start, None, 400.0), Cover::Daylight);
        assert_eq!(cover(&c, start, Some(0.0), 400.0), Cover::Daylight);
        assert_eq!(
            cover(&c, hobart(2026, 6, 22, 12, 0), Some(900.0), 400.0),
            Cover::Daylight
        );
        assert_eq!(
            cover(&c, hobart(2026, 6, 22, 12, 0), Some(200.0), 400.0),
            Cover::Never
        );
        // At dawn a low reading says nothing: a fair day is assumed.
        assert_eq!(
            cover(&c, hobart(2026, 6, 22, 8, 0), Some(50.0), 400.0),
            Cover::Daylight
        );
    }

    #[test]
    fn a_polar_night_has_no_daylight() {
        let pole = SiteConfig {
            latitude: -89.0,
            longitude: 0.0,
        };
        assert_eq!(
            daylight(&pole, NaiveDate::from_ymd_opt(2026, 6, 21).unwrap()),
            None
        );
    }
}
