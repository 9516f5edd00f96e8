//! `[drain]`: what the maintenance drain's forecast assumes, and whether it may drain to the grid.

use serde::Deserialize;

use super::ConfigError;
use super::window::ClockTime;

/// `[drain]`: the maintenance drain's forecast, and the opt-in drain to the grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainConfig {
    /// The house's load during the drain, W; unset: the GX's AC loads when the tool runs.
    pub night_load_w: Option<u32>,
    /// The drain's deadline, wall-clock; unset: the start of the first after-maintenance window.
    pub by: Option<ClockTime>,
    /// Drain to the grid when the forecast says the drain will be late.
    pub export: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrain {
    night_load_w: Option<u32>,
    by: Option<String>,
    export: Option<bool>,
}

pub(super) fn build_drain(raw: RawDrain) -> Result<DrainConfig, ConfigError> {
    let by = raw
        .by
        .map(|text| {
            ClockTime::parse(&text).ok_or_else(|| {
                ConfigError::invalid(
                    "drain.by",
                    format!("`{text}` is not a time HH:MM between 00:00 and 23:59"),
                )
            })
        })
        .transpose()?;
    if raw.night_load_w == Some(0) {
        return Err(ConfigError::invalid(
            "drain.night_load_w",
            "0 W would never drain the battery: leave it unset to use the GX's loads",
        ));
    }
    // The section's defaults are those of a config without it.
    let d = DrainConfig::default();
    Ok(DrainConfig {
        night_load_w: raw.night_load_w,
        by,
        export: raw.export.unwrap_or(d.export),
    })
}
