//! The EV charging station's codec: its mode, start/stop and status codes, the charger as
//! read, and the writes that start and stop it (mode before current before start) on either
//! register map (through the GX's evcharger service, or the station's own server).

use serde::Serialize;

use crate::config::EvConfig;
use crate::registers::{ChargerMap, Write};

pub const MODE_MANUAL: u16 = 0;
pub const MODE_AUTO: u16 = 1;
pub const MODE_SCHEDULED: u16 = 2;
pub const STOP: u16 = 0;
pub const START: u16 = 1;
pub const STATUS_DISCONNECTED: u16 = 0;
pub const STATUS_CHARGING: u16 = 2;
/// Connected, waiting for sun, waiting for start: an EV that a start would charge.
pub const STATUS_READY: [u16; 3] = [1, 4, 6];
/// Nominal phase voltage, for showing what a current means in watts.
pub const NOMINAL_VOLTS: u16 = 230;

/// The charger's mode in words.
pub fn mode_name(mode: u16) -> &'static str {
    match mode {
        MODE_MANUAL => "manual",
        MODE_AUTO => "auto",
        MODE_SCHEDULED => "scheduled",
        _ => "unknown",
    }
}

/// The charger's status in words.
pub fn status_name(status: u16) -> &'static str {
    match status {
        0 => "disconnected",
        1 => "connected",
        2 => "charging",
        3 => "charged",
        4 => "waiting for sun",
        5 => "waiting for RFID",
        6 => "waiting for start",
        7 => "low SoC",
        8 => "ground test error",
        9 => "welded contacts",
        10 => "CP input test error (shorted)",
        11 => "residual current detected",
        12 => "undervoltage",
        13 => "overvoltage",
        14 => "overheating",
        20 => "charging limit",
        21 => "start charging",
        22 | 23 => "switching phases",
        24 => "stop charging",
        _ => "unknown",
    }
}

/// The charger's registers, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Charger {
    pub mode: u16,
    pub start_stop: u16,
    pub status: u16,
    pub set_current_a: u16,
    pub max_current_a: u16,
    pub power_w: u16,
}

fn one(register: crate::registers::Register, value: u16, summary: String) -> Write {
    Write {
        address: register.address,
        values: vec![value],
        summary,
    }
}

/// The charger writes a decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Nothing to write.
    Nothing,
    /// Manual mode, the configured current, start.
    Start,
    /// Stop, put back `mode` and `current_a`, and start again when `restart` (the charger was
    /// found started, so it is left started, e.g. in auto mode to charge from solar).
    Stop {
        mode: u16,
        current_a: u16,
        restart: bool,
    },
}

/// The writes that carry out `action` on a charger read as `charger`, in the order the charger
/// needs them (mode before current before start).
pub fn writes(
    action: &Action,
    config: &EvConfig,
    map: &ChargerMap,
    charger: &Charger,
) -> Vec<Write> {
    match *action {
        Action::Nothing => Vec::new(),
        Action::Start => start_writes(config, map, charger),
        Action::Stop {
            mode,
            current_a,
            restart,
        } => stop_writes(map, charger, mode, current_a, restart),
    }
}

/// Manual mode, the configured current, start.
fn start_writes(config: &EvConfig, map: &ChargerMap, charger: &Charger) -> Vec<Write> {
    vec![
        one(
            map.mode,
            MODE_MANUAL,
            format!(
                "EV charger mode ({}): {} → manual",
                map.mode.address,
                mode_name(charger.mode)
            ),
        ),
        one(
            map.set_current,
            config.current_a,
            format!(
                "EV charger set current ({}): {} A → {} A",
                map.set_current.address, charger.set_current_a, config.current_a
            ),
        ),
        one(
            map.start_stop,
            START,
            format!("EV charger ({}): start", map.start_stop.address),
        ),
    ]
}

/// Stop, the mode and current put back where they differ, and start again when `restart`.
fn stop_writes(
    map: &ChargerMap,
    charger: &Charger,
    mode: u16,
    current_a: u16,
    restart: bool,
) -> Vec<Write> {
    let mut out = vec![one(
        map.start_stop,
        STOP,
        format!("EV charger ({}): stop", map.start_stop.address),
    )];
    if mode != charger.mode {
        out.push(one(
            map.mode,
            mode,
            format!(
                "EV charger mode ({}): {} → {}",
                map.mode.address,
                mode_name(charger.mode),
                mode_name(mode)
            ),
        ));
    }
    if current_a != charger.set_current_a {
        out.push(one(
            map.set_current,
            current_a,
            format!(
                "EV charger set current ({}): {} A → {current_a} A",
                map.set_current.address, charger.set_current_a
            ),
        ));
    }
    if restart {
        let why = if mode == MODE_AUTO {
            "so auto mode can charge from solar"
        } else {
            "as it was before the kick"
        };
        out.push(one(
            map.start_stop,
            START,
            format!(
                "EV charger ({}): start again, {why}",
                map.start_stop.address
            ),
        ));
    }
    out
}
