//! `[ev]`: the EV charger that `ev-kick` starts on surplus and stops before the battery is
//! drawn down.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use super::gx::MODBUS_TCP_PORT;

const DEFAULT_ENABLED: bool = true;
const DEFAULT_VIA: EvVia = EvVia::Gx;
/// The unit id of the GX's evcharger service.
const GX_EVCHARGER_UNIT: u8 = 40;
/// The unit id an EVCS's own Modbus-TCP server answers on.
const EVCS_UNIT: u8 = 1;
/// The least current IEC 61851 allows, A.
const DEFAULT_CURRENT_A: i64 = 6;
const DEFAULT_MIN_BATTERY_SOC: f64 = 10.0;
const DEFAULT_START_BELOW_W: u32 = 1000;
const DEFAULT_STOP_ABOVE_W: u32 = 2500;
const DEFAULT_PHASES: [i64; 3] = [1, 2, 3];
const DEFAULT_RESTORE_MODE: RestoreMode = RestoreMode::Previous;
const DEFAULT_STATE_FILE: &str = "/data/zcell-scheduler/ev-kick.json";

/// How the EV charger is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvVia {
    /// Through the GX's evcharger service (registers 38xx).
    Gx,
    /// The charger's own Modbus-TCP server (registers 50xx).
    Evcs,
}

/// Which charger mode to put back when a kick ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    Previous,
    Auto,
    Manual,
    Scheduled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvConfig {
    pub enabled: bool,
    pub via: EvVia,
    pub host: Option<String>,
    pub port: u16,
    pub unit: u8,
    pub current_a: u16,
    pub min_battery_soc: f64,
    pub start_below_w: u32,
    pub stop_above_w: u32,
    pub phases: Vec<u8>,
    pub restore_mode: RestoreMode,
    pub state_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEv {
    enabled: Option<bool>,
    via: Option<EvVia>,
    host: Option<String>,
    port: Option<u16>,
    unit: Option<u8>,
    current_a: Option<i64>,
    min_battery_soc: Option<f64>,
    start_below_w: Option<u32>,
    stop_above_w: Option<u32>,
    phases: Option<Vec<i64>>,
    restore_mode: Option<RestoreMode>,
    state_file: Option<PathBuf>,
}

/// `ev.phases`: each of 1, 2 and 3 at most once, at least one.
fn ev_phases(raw: Option<Vec<i64>>) -> Result<Vec<u8>, ConfigError> {
    let mut phases = Vec::new();
    for p in raw.unwrap_or_else(|| DEFAULT_PHASES.to_vec()) {
        match u8::try_from(p) {
            Ok(n @ 1..=3) if !phases.contains(&n) => phases.push(n),
            _ => {
                return Err(ConfigError::invalid(
                    "ev.phases",
                    format!("{p} is not a phase 1, 2 or 3 (each at most once)"),
                ));
            }
        }
    }
    if phases.is_empty() {
        return Err(ConfigError::invalid(
            "ev.phases",
            "needs at least one phase",
        ));
    }
    Ok(phases)
}

pub(super) fn build_ev(raw: RawEv) -> Result<EvConfig, ConfigError> {
    let via = raw.via.unwrap_or(DEFAULT_VIA);
    let current = raw.current_a.unwrap_or(DEFAULT_CURRENT_A);
    if !(6..=32).contains(&current) {
        return Err(ConfigError::invalid(
            "ev.current_a",
            format!("{current} A must be 6-32 (6 A is the least IEC 61851 allows)"),
        ));
    }
    let min_soc = raw.min_battery_soc.unwrap_or(DEFAULT_MIN_BATTERY_SOC);
    if !(0.0..=100.0).contains(&min_soc) {
        return Err(ConfigError::invalid(
            "ev.min_battery_soc",
            format!("{min_soc} is outside 0-100"),
        ));
    }
    let phases = ev_phases(raw.phases)?;
    let start_below_w = raw.start_below_w.unwrap_or(DEFAULT_START_BELOW_W);
    let stop_above_w = raw.stop_above_w.unwrap_or(DEFAULT_STOP_ABOVE_W);
    if stop_above_w < start_below_w {
        return Err(ConfigError::invalid(
            "ev.stop_above_w",
            format!("{stop_above_w} W is below ev.start_below_w ({start_below_w} W)"),
        ));
    }
    if via == EvVia::Evcs && raw.host.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(
            "ev.host",
            "is required with via = \"evcs\": the charger's own IP address",
        ));
    }
    Ok(EvConfig {
        enabled: raw.enabled.unwrap_or(DEFAULT_ENABLED),
        via,
        host: raw.host,
        port: raw.port.unwrap_or(MODBUS_TCP_PORT),
        unit: raw.unit.unwrap_or(match via {
            EvVia::Gx => GX_EVCHARGER_UNIT,
            EvVia::Evcs => EVCS_UNIT,
        }),
        current_a: current as u16,
        min_battery_soc: min_soc,
        start_below_w,
        stop_above_w,
        phases,
        restore_mode: raw.restore_mode.unwrap_or(DEFAULT_RESTORE_MODE),
        state_file: raw
            .state_file
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_FILE)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{MINIMAL, err_text, parse};

    #[test]
    fn ev_section() {
        let c = parse(&format!("{MINIMAL}[ev]\n")).unwrap();
        let ev = c.ev.unwrap();
        assert_eq!((ev.via, ev.unit, ev.current_a), (EvVia::Gx, 40, 6));
        assert!(err_text(&format!("{MINIMAL}[ev]\ncurrent_a = 5\n")).contains("ev.current_a"));
        assert!(err_text(&format!("{MINIMAL}[ev]\nvia = \"evcs\"\n")).contains("ev.host"));
        let evcs = parse(&format!(
            "{MINIMAL}[ev]\nvia = \"evcs\"\nhost = \"127.0.0.1\"\n"
        ))
        .unwrap()
        .ev
        .unwrap();
        assert_eq!(evcs.unit, 1);
    }
}
