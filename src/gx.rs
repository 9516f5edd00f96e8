//! The Victron GX: connecting, reading its ESS and Dynamic ESS settings, writing and reading
//! back, and decoding what it reports.
//!
//! The GX acknowledges a write before its settings store applies it, and silently drops a
//! value it does not accept, so every write is read back until it sticks or a deadline
//! passes. Slot 0 is read on whichever register map the GX has (see `victron`).

use std::time::Duration;

use thiserror::Error;

use crate::config::GxConfig;
use crate::exit_codes::{Exit, HasExit};
use crate::modbus::{Device, Endpoint, ModbusError};
use crate::registers::{self as reg, Register};
use crate::registers::{Mismatch, Snapshot, Write};
use crate::victron::{EssState, Firmware, GxSettings, Hub4Mode, SlotMap};

/// Shown when the GX refuses a connection: the Modbus TCP server is off by default.
pub const REFUSED_HINT: &str =
    "enable Settings → Integrations → Modbus TCP server on the GX (it is off by default)";

/// The GX could not be read or written, or refuses to be scheduled. All exit with code 4.
#[derive(Debug, Error)]
pub enum GxError {
    #[error(transparent)]
    Modbus(#[from] ModbusError),
    #[error(
        "GX {address} has no Dynamic ESS registers (exception 02 reading 5400-5429): Venus OS v3.50 or later needed; update the GX firmware"
    )]
    OldFirmware { address: String },
    #[error(transparent)]
    Refused(#[from] crate::writes::Refusal),
}

/// Writes that did not read back as written within the read-back's time (exit code 5).
#[derive(Debug, Error)]
#[error(
    "{device} {address} did not keep what was written ({list}, still after {waited_ms} ms): the GX silently drops values it does not accept; check the value is allowed (ESS mode, firmware, charger limits) and run again"
)]
pub struct ReadBackError {
    pub device: &'static str,
    pub address: String,
    pub mismatches: Vec<Mismatch>,
    /// `; `-joined [`crate::victron::describe_mismatch`] of every register that differs.
    pub list: String,
    pub waited_ms: u128,
}

/// How long a read-back may wait for the GX's settings store: it applies a write 2-30 ms after
/// acknowledging it on a fast host, later on a Cerbo, and each poll is a request.
pub const READ_BACK_WITHIN: Duration = Duration::from_secs(2);

/// Registers `apply` reads before deciding (with slot 0 read by [`read_settings`], per map).
pub const SETTINGS: [Register; 4] = [
    reg::ESS_STATE,
    reg::ESS_MIN_SOC,
    reg::HUB4_MODE,
    reg::ESS_SOC_LIMIT,
];

/// Live values `status` reads besides the settings.
pub const LIVE: [Register; 8] = [
    reg::AC_CONSUMPTION_L1,
    reg::AC_CONSUMPTION_L2,
    reg::AC_CONSUMPTION_L3,
    reg::BATTERY_POWER,
    reg::BATTERY_SOC,
    reg::DESS_ACTIVE,
    reg::DESS_ERROR,
    reg::DESS_TARGET_SOC,
];

/// What the drain forecast needs from the GX.
pub const DRAIN: [Register; 4] = [
    reg::AC_CONSUMPTION_L1,
    reg::AC_CONSUMPTION_L2,
    reg::AC_CONSUMPTION_L3,
    reg::BATTERY_SOC,
];

/// The drain forecast's readings from a snapshot holding [`DRAIN`], and the charger's
/// (power, status) when it was read.
pub fn drain_readings(snap: &Snapshot, charger: Option<(u16, u16)>) -> crate::drain::Readings {
    let value = |r: Register| snap.value(r).unwrap_or(0.0);
    crate::drain::Readings {
        battery_soc: value(reg::BATTERY_SOC),
        ac_loads_w: reg::AC_CONSUMPTION.map(|r| snap.word(r.address).unwrap_or(0)),
        charger,
        pv_w: crate::drain::pv_estimate(
            reg::AC_CONSUMPTION.map(|r| snap.word(r.address)),
            crate::drain::GRID_POWER.map(|a| snap.word(a)),
            snap.value(reg::BATTERY_POWER),
        ),
    }
}

/// A connection to the GX's system/settings unit.
pub fn connect(config: &GxConfig) -> Result<Device, ModbusError> {
    Device::connect(&Endpoint {
        label: "GX",
        host: config.host.clone(),
        port: config.port,
        unit: config.unit,
        timeout_s: config.timeout_s,
        refused_hint: REFUSED_HINT,
    })
}

/// Maps exception 02 on the Dynamic ESS blocks to "firmware too old".
fn dess_exception(device: &Device, e: ModbusError) -> GxError {
    match e.exception() {
        Some((register, 0x02)) if (reg::DESS_ACTIVE.address..=5430).contains(&register) => {
            GxError::OldFirmware {
                address: device.address.clone(),
            }
        }
        _ => GxError::Modbus(e),
    }
}

/// Reads `registers` and turns exception 02 on the Dynamic ESS block into [`GxError::OldFirmware`].
pub fn read(device: &mut Device, registers: &[Register]) -> Result<Snapshot, GxError> {
    device
        .read(registers)
        .map_err(|e| dess_exception(device, e))
}

/// Which map serves slot 0: the new map has 5430, the old one answers 02 for it.
pub fn detect_map(device: &mut Device) -> Result<SlotMap, GxError> {
    match device.read_range(reg::SLOT_STRATEGY.address, 1) {
        Ok(_) => Ok(SlotMap::New),
        Err(e) if e.exception().is_some_and(|(_, code)| code == 0x02) => Ok(SlotMap::Old),
        Err(e) => Err(e.into()),
    }
}

/// Reads what `apply` needs to decide, on whichever map the GX has.
pub fn read_settings(device: &mut Device) -> Result<GxSettings, GxError> {
    let map = detect_map(device)?;
    let ess = read(device, &SETTINGS)?;
    let words = match map {
        SlotMap::New => 11,
        SlotMap::Old => 10,
    };
    let first = reg::DESS_CAPACITY.address;
    let dess = device
        .read_range(first, words)
        .map_err(|e| dess_exception(device, e))?;
    let strategy = match map {
        SlotMap::New => dess.get(10).copied(),
        SlotMap::Old => device
            .read_range(reg::SLOT_STRATEGY_OLD_MAP.address, 1)
            .map_err(|e| dess_exception(device, e))?
            .first()
            .copied(),
    };
    let incomplete = || GxError::Modbus(ModbusError::NotInMap(first));
    let at = |r: Register| reg::raw_at(&dess, first, r).map(|v| v as u16);
    let ess_word = |r: Register| ess.word(r.address).ok_or_else(incomplete);
    Ok(GxSettings {
        map,
        ess_state: EssState(ess_word(reg::ESS_STATE)?),
        min_soc_raw: ess_word(reg::ESS_MIN_SOC)?,
        hub4_mode: Hub4Mode(ess_word(reg::HUB4_MODE)?),
        soc_limit_raw: ess_word(reg::ESS_SOC_LIMIT)?,
        capacity_raw: at(reg::DESS_CAPACITY).ok_or_else(incomplete)?,
        dess_mode: at(reg::DESS_MODE).ok_or_else(incomplete)?,
        slot: crate::victron::decode_slot(
            dess.get(usize::from(reg::SLOT_BASE - first)..)
                .unwrap_or_default(),
            strategy.ok_or_else(incomplete)?,
        )
        .ok_or_else(incomplete)?,
    })
}

/// The GX's system values (loads, battery) and, where its server publishes it (v1.0.82 and
/// later), its firmware version.
pub struct System {
    pub snapshot: Snapshot,
    pub firmware: Option<Firmware>,
}

/// Reads the system values in `registers` (all within 817-846): in one request across the
/// firmware version where the server has it, else in the blocks every server has.
pub fn read_system(device: &mut Device, registers: &[Register]) -> Result<System, GxError> {
    let (first, count) = (reg::AC_CONSUMPTION_L1.address, 30);
    match device.read_range(first, count) {
        Ok(words) => {
            let mut snapshot = Snapshot::default();
            snapshot.insert(first, &words);
            let firmware =
                reg::raw_at(&words, first, reg::FIRMWARE_VERSION).map(|v| Firmware(v as u32));
            Ok(System { snapshot, firmware })
        }
        Err(e) if e.exception().is_some_and(|(_, code)| code == 0x02) => Ok(System {
            snapshot: read(device, registers)?,
            firmware: None,
        }),
        Err(e) => Err(e.into()),
    }
}

/// What Dynamic ESS reports, from a snapshot of 5400-5407 and the mode (5423) as read.
pub fn dess_state(mode: u16, dess: &Snapshot) -> crate::follow::DessState {
    let word = |r: Register| dess.word(r.address).unwrap_or(0);
    crate::follow::DessState {
        mode,
        active: word(reg::DESS_ACTIVE),
        error: word(reg::DESS_ERROR),
        target_soc: word(reg::DESS_TARGET_SOC),
    }
}

/// Sends `writes` in order and reads them back until they stick or [`READ_BACK_WITHIN`]
/// (at most the device's timeout) has passed; what did not stick is a [`ReadBackError`].
pub fn write_and_verify(device: &mut Device, writes: &[Write]) -> Result<(), WriteError> {
    let within = READ_BACK_WITHIN.min(device.timeout());
    let started = std::time::Instant::now();
    let mismatches = device
        .write_and_read_back(writes, within)
        .map_err(GxError::from)?;
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(WriteError::ReadBack(ReadBackError {
        device: device.label,
        address: device.address.clone(),
        list: mismatches
            .iter()
            .map(crate::victron::describe_mismatch)
            .collect::<Vec<_>>()
            .join("; "),
        mismatches,
        waited_ms: started.elapsed().as_millis(),
    }))
}

/// A failed write: the device failed (exit 4) or the value did not stick (exit 5).
#[derive(Debug, Error)]
pub enum WriteError {
    #[error(transparent)]
    Gx(#[from] GxError),
    #[error(transparent)]
    ReadBack(ReadBackError),
}

impl HasExit for WriteError {
    fn exit(&self) -> Exit {
        match self {
            WriteError::ReadBack(_) => Exit::ReadBack,
            WriteError::Gx(_) => Exit::Device,
        }
    }
}

/// The GX (or the charger behind it) unreachable, refusing, or not schedulable.
impl HasExit for GxError {
    fn exit(&self) -> Exit {
        Exit::Device
    }
}
