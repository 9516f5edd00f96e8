//! `[site]`: where the site is, for sunrise and sunset in the drain's forecast.

use serde::Deserialize;

use super::ConfigError;

/// `[site]`: the site's position, degrees (north and east positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteConfig {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    latitude: f64,
    longitude: f64,
}

pub(super) fn build_site(raw: RawSite) -> Result<SiteConfig, ConfigError> {
    Ok(SiteConfig {
        latitude: degrees("site.latitude", raw.latitude, "latitude", 90.0, "south")?,
        longitude: degrees("site.longitude", raw.longitude, "longitude", 180.0, "west")?,
    })
}

/// A `what` in degrees, checked to lie within `-limit..=limit`; `negative` names that side.
fn degrees(
    key: &str,
    value: f64,
    what: &str,
    limit: f64,
    negative: &str,
) -> Result<f64, ConfigError> {
    if (-limit..=limit).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{value} is not a {what} -{limit} to {limit} ({negative} negative)"),
        ))
    }
}
