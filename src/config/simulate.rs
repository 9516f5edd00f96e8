//! `[simulate]`: the battery model, house load, solar and EV that `simulate` runs the rules on.

use serde::Deserialize;

use super::ConfigError;
use super::window::ClockTime;

/// `[simulate]`: the battery model `simulate` runs the rules on. Defaults suit one ZCell.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateConfig {
    /// Largest charge power, W.
    pub charge_w: f64,
    /// Largest discharge power, W.
    pub discharge_w: f64,
    /// How long the strip lasts after the battery is empty, hours.
    pub strip_hours: f64,
    /// Hours from one maintenance cycle's end to the next one's due.
    pub maintenance_interval_hours: f64,
    /// The GX's ESS minimum SoC when the tool does not manage it (no `reserve_soc`), %.
    pub ess_min_soc: f64,
    /// The SoC at which the model counts the maintenance discharge done and the strip starts,
    /// %: 1 by default, the lowest target the GX takes (a drain slot aims for it).
    pub empty_soc: f64,
    /// House load per local hour 0-23, W; `None`: a constant (`--load`, else 400 W).
    pub load_w: Option<[f64; 24]>,
    /// Solar energy on a day, kWh, on a daylight curve 06:00-18:00; `None`: no solar.
    pub solar_kwh_per_day: Option<f64>,
    /// When an EV is plugged in, local `[from, to)`, for `[ev]`'s kick.
    pub ev_connected: Option<(ClockTime, ClockTime)>,
}

/// The one place the section's defaults are written: a config without `[simulate]` gets
/// these, and each key the section leaves out takes its value from here.
impl Default for SimulateConfig {
    fn default() -> Self {
        SimulateConfig {
            charge_w: 3000.0,
            discharge_w: 3000.0,
            strip_hours: 2.0,
            maintenance_interval_hours: 72.0,
            ess_min_soc: 10.0,
            empty_soc: 1.0,
            load_w: None,
            solar_kwh_per_day: None,
            ev_connected: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSimulate {
    charge_w: Option<f64>,
    discharge_w: Option<f64>,
    strip_hours: Option<f64>,
    maintenance_interval_hours: Option<f64>,
    ess_min_soc: Option<f64>,
    empty_soc: Option<f64>,
    load_w: Option<Vec<f64>>,
    solar_kwh_per_day: Option<f64>,
    ev_connected: Option<String>,
}

/// `[simulate] load_w`: 24 hourly loads, W.
fn simulate_load(values: Option<Vec<f64>>) -> Result<Option<[f64; 24]>, ConfigError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let hourly: [f64; 24] = values.clone().try_into().map_err(|_| {
        ConfigError::invalid(
            "simulate.load_w",
            format!(
                "has {} values; give 24, one per hour from 00:00",
                values.len()
            ),
        )
    })?;
    if let Some(bad) = hourly.iter().find(|w| !(0.0..=100_000.0).contains(*w)) {
        return Err(ConfigError::invalid(
            "simulate.load_w",
            format!("{bad} W is outside 0-100000"),
        ));
    }
    Ok(Some(hourly))
}

/// `[simulate] ev_connected`: a span like `18:00-07:00`.
fn simulate_span(text: String) -> Result<(ClockTime, ClockTime), ConfigError> {
    text.split_once('-')
        .and_then(|(a, b)| Some((ClockTime::parse(a)?, ClockTime::parse(b)?)))
        .filter(|(a, b)| a != b)
        .ok_or_else(|| {
            ConfigError::invalid(
                "simulate.ev_connected",
                format!("`{text}` is not a span like \"18:00-07:00\""),
            )
        })
}

/// A number key's value, checked to lie in `lo..=hi`.
fn within(key: &str, v: f64, lo: f64, hi: f64) -> Result<f64, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{v} is outside {lo}-{hi}"),
        ))
    }
}

pub(super) fn build_simulate(raw: RawSimulate) -> Result<SimulateConfig, ConfigError> {
    let d = SimulateConfig::default();
    let load_w = simulate_load(raw.load_w)?;
    let ev_connected = raw.ev_connected.map(simulate_span).transpose()?;
    Ok(SimulateConfig {
        charge_w: within(
            "simulate.charge_w",
            raw.charge_w.unwrap_or(d.charge_w),
            1.0,
            1e6,
        )?,
        discharge_w: within(
            "simulate.discharge_w",
            raw.discharge_w.unwrap_or(d.discharge_w),
            1.0,
            1e6,
        )?,
        strip_hours: within(
            "simulate.strip_hours",
            raw.strip_hours.unwrap_or(d.strip_hours),
            0.0,
            48.0,
        )?,
        maintenance_interval_hours: within(
            "simulate.maintenance_interval_hours",
            raw.maintenance_interval_hours
                .unwrap_or(d.maintenance_interval_hours),
            1.0,
            24.0 * 31.0,
        )?,
        ess_min_soc: within(
            "simulate.ess_min_soc",
            raw.ess_min_soc.unwrap_or(d.ess_min_soc),
            0.0,
            100.0,
        )?,
        empty_soc: within(
            "simulate.empty_soc",
            raw.empty_soc.unwrap_or(d.empty_soc),
            0.0,
            5.0,
        )?,
        load_w,
        solar_kwh_per_day: raw
            .solar_kwh_per_day
            .map(|v| within("simulate.solar_kwh_per_day", v, 0.0, 1000.0))
            .transpose()?,
        ev_connected,
    })
}
