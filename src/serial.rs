//! How values are written in the JSON documents: times as RFC 3339, zones by name, figures
//! to two decimals or whole watts. Pure, so the core's own types serialize exactly as the
//! reports do.

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use serde::Serializer;

pub fn rfc3339<S: Serializer, Z: TimeZone>(t: &DateTime<Z>, s: S) -> Result<S::Ok, S::Error>
where
    Z::Offset: std::fmt::Display,
{
    s.collect_str(&t.to_rfc3339())
}

pub fn rfc3339_opt<S: Serializer, Z: TimeZone>(
    t: &Option<DateTime<Z>>,
    s: S,
) -> Result<S::Ok, S::Error>
where
    Z::Offset: std::fmt::Display,
{
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

pub fn zone_name<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// A figure to two decimals (kWh, %), as every document and the text beside it show it.
pub fn hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Serializes a figure to two decimals.
pub fn round2<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(hundredths(*v))
}

/// A power to the whole watt.
pub fn whole<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.round())
}
