//! Sunrise and sunset at the site (`[site] latitude/longitude`), for the drain forecast: by
//! day, while solar covers the house, the battery does not drain. Pure arithmetic (the
//! `sunrise` crate's solar equation), no I/O.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use sunrise::{Coordinates, SolarDay, SolarEvent};

use crate::clock;
use crate::config::SiteConfig;

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
