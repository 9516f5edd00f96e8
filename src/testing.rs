//! Helpers shared by the unit tests of the pure core.

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Config, Overrides};

/// A valid config in Hobart with loopback devices, and `extra` appended.
pub fn config(extra: &str) -> Config {
    Config::parse(
        &format!(
            "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:1\"\n[gx]\nhost = \"127.0.0.1\"\n{extra}"
        ),
        &Overrides::default(),
    )
    .unwrap()
}

/// The instant of a Hobart wall-clock time.
pub fn hobart(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    crate::clock::to_instant(
        chrono_tz::Australia::Hobart,
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap(),
    )
}
