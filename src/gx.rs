//! The Victron GX: connecting, reading its ESS and Dynamic ESS settings, writing and reading
//! back, and decoding what it reports.
//!
//! The GX acknowledges out-of-range writes and then silently drops them, so every write is
//! read back; the read-back is coalesced the same way as the first read.

use thiserror::Error;

use crate::config::GxConfig;
use crate::modbus::{Device, Endpoint, ModbusError, Snapshot, Write};
use crate::registers::{self as reg, Register};

/// Shown when the GX refuses a connection: the Modbus TCP server is off by default.
pub const REFUSED_HINT: &str =
    "enable Settings → Integrations → Modbus TCP server on the GX (it is off by default)";

/// Why the GX cannot be scheduled. All exit with code 4.
#[derive(Debug, Error)]
pub enum GxError {
    #[error(transparent)]
    Modbus(#[from] ModbusError),
    #[error(
        "GX {address} has no Dynamic ESS registers (exception 02 reading 5420-5430): Venus OS v3.50 or later needed; update the GX firmware"
    )]
    OldFirmware { address: String },
    #[error(
        "GX {address}: ESS is in \"Keep batteries charged\" (register 2900 = 9), which Dynamic ESS cannot schedule: set Settings → ESS → Mode to \"Optimized\" (with or without BatteryLife)"
    )]
    KeepCharged { address: String },
    #[error(
        "GX {address}: ESS mode is \"External control\" (register 2902 = 3), which Dynamic ESS cannot schedule: set Settings → ESS → Mode to \"Optimized\""
    )]
    ExternalControl { address: String },
    #[error(
        "GX {address}: Dynamic ESS is in mode 1 (auto: VRM writes the schedule), so this tool would fight VRM: turn Dynamic ESS off in VRM, or set gx.take_over_dess = true to switch it to external (4)"
    )]
    DessDrivenByVrm { address: String },
    #[error(
        "GX {address}: Dynamic ESS mode (register 5423) is {mode}, which this tool does not know: set it to 0 (off) or 4 (external) on the GX"
    )]
    DessUnknownMode { address: String, mode: u16 },
    #[error("GX {address}: the slot start {start} cannot be written as a 32-bit unix time")]
    StartOutOfRange { address: String, start: i64 },
    #[error(
        "GX {address}: the slot would last {seconds} s on the GX's wall clock, outside 1-65 535 s: shorten the window, or set gx.timezone to the GX's own zone"
    )]
    SlotTooLong { address: String, seconds: i64 },
    #[error(
        "refusing to write the GX: the clock says {now}, before 2024 — the GX has not synchronised its time (check its internet connection or set the date), and a schedule built on it would be wrong"
    )]
    ClockNotSet { now: String },
}

/// A write that did not read back as written (exit code 5).
#[derive(Debug, Error)]
#[error(
    "{device} {address} register {register} ({name}) reads back {read} after writing {written}: the GX silently drops out-of-range values; check the value is allowed (e.g. ESS mode, firmware, charger limits) and run again"
)]
pub struct ReadBackError {
    pub device: &'static str,
    pub address: String,
    pub register: u16,
    pub name: String,
    pub written: u16,
    pub read: u16,
}

/// Registers `apply` reads before deciding: the ESS block and the Dynamic ESS settings block.
pub const SETTINGS: [Register; 11] = [
    reg::ESS_STATE,
    reg::ESS_MIN_SOC,
    reg::HUB4_MODE,
    reg::DESS_CAPACITY,
    reg::DESS_MODE,
    reg::SLOT_FEED_IN,
    reg::SLOT_DURATION,
    reg::SLOT_RESTRICTIONS,
    reg::SLOT_SOC,
    reg::SLOT_START,
    reg::SLOT_STRATEGY,
];

/// Live values `status` reads besides [`SETTINGS`].
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

/// What the drain forecast needs from the GX (one request, block 800-919).
pub const DRAIN: [Register; 4] = [
    reg::AC_CONSUMPTION_L1,
    reg::AC_CONSUMPTION_L2,
    reg::AC_CONSUMPTION_L3,
    reg::BATTERY_SOC,
];

/// The drain forecast's readings from a snapshot holding [`DRAIN`], and the charger's
/// (power, status) when it was read.
pub fn drain_readings(snap: &Snapshot, charger: Option<(u16, u16)>) -> crate::drain::Readings {
    let word = |r: Register| snap.word(r.address).unwrap_or(0);
    crate::drain::Readings {
        battery_soc: f64::from(word(reg::BATTERY_SOC)),
        ac_loads_w: reg::AC_CONSUMPTION.map(word),
        charger,
    }
}

/// Everything `status` reads: the live values and the settings.
pub fn status_registers() -> Vec<Register> {
    LIVE.iter().chain(SETTINGS.iter()).copied().collect()
}

/// The settings `apply` decides on, as raw register values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GxSettings {
    pub ess_state: u16,
    /// Percent × 10.
    pub min_soc_raw: u16,
    pub hub4_mode: u16,
    /// kWh × 10.
    pub capacity_raw: u16,
    pub dess_mode: u16,
    /// 5424-5430 as read.
    pub slot: [u16; 7],
}

impl GxSettings {
    pub fn from_snapshot(s: &Snapshot) -> Option<GxSettings> {
        let w = |r: Register| s.word(r.address);
        let slot_words = s.words(reg::SLOT_BASE, reg::SLOT_WORDS)?;
        let mut slot = [0u16; 7];
        slot.copy_from_slice(&slot_words);
        Some(GxSettings {
            ess_state: w(reg::ESS_STATE)?,
            min_soc_raw: w(reg::ESS_MIN_SOC)?,
            hub4_mode: w(reg::HUB4_MODE)?,
            capacity_raw: w(reg::DESS_CAPACITY)?,
            dess_mode: w(reg::DESS_MODE)?,
            slot,
        })
    }

    /// Slot start as unix seconds and duration in seconds.
    pub fn slot_start_duration(&self) -> (i64, u16) {
        (
            reg::i32_from_words(self.slot[4], self.slot[5]),
            self.slot[1],
        )
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

/// Maps exception 02 on the Dynamic ESS block to "firmware too old".
fn dess_exception(device: &Device, e: ModbusError) -> GxError {
    match e.exception() {
        Some((register, 0x02)) if (reg::DESS_CAPACITY.address..=5430).contains(&register) => {
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

/// Reads what `apply` needs to decide.
pub fn read_settings(device: &mut Device) -> Result<GxSettings, GxError> {
    let snapshot = read(device, &SETTINGS)?;
    GxSettings::from_snapshot(&snapshot)
        .ok_or(GxError::Modbus(ModbusError::NotInMap(reg::SLOT_BASE)))
}

/// Sends `writes` in order and reads every one back; a value that did not stick is a
/// [`ReadBackError`].
pub fn write_and_verify(device: &mut Device, writes: &[Write]) -> Result<(), WriteError> {
    match device.write_and_read_back(writes).map_err(GxError::from)? {
        None => Ok(()),
        Some((register, written, read)) => Err(WriteError::ReadBack(ReadBackError {
            device: device.label,
            address: device.address.clone(),
            register,
            name: reg::name_of(register),
            written,
            read,
        })),
    }
}

/// A failed write: the device failed (exit 4) or the value did not stick (exit 5).
#[derive(Debug, Error)]
pub enum WriteError {
    #[error(transparent)]
    Gx(#[from] GxError),
    #[error(transparent)]
    ReadBack(ReadBackError),
}

impl WriteError {
    /// The exit code this failure stands for.
    pub fn exit(&self) -> crate::error::Exit {
        match self {
            WriteError::ReadBack(_) => crate::error::Exit::ReadBack,
            WriteError::Gx(_) => crate::error::Exit::Device,
        }
    }
}

/// ESS state (2900) in words.
pub fn ess_state_name(v: u16) -> &'static str {
    match v {
        1..=8 => "optimized with BatteryLife",
        9 => "keep batteries charged",
        10 => "optimized without BatteryLife",
        11 => "optimized without BatteryLife (at minimum SoC)",
        12 => "optimized without BatteryLife (recharging)",
        _ => "unknown",
    }
}

/// Hub4Mode (2902) in words.
pub fn hub4_mode_name(v: u16) -> &'static str {
    match v {
        1 => "ESS with phase compensation",
        2 => "ESS without phase compensation",
        3 => "external control",
        _ => "unknown",
    }
}

/// Dynamic ESS mode (5423) in words.
pub fn dess_mode_name(v: u16) -> &'static str {
    match v {
        0 => "off",
        1 => "auto (VRM)",
        4 => "external (this tool or Node-RED)",
        _ => "unknown",
    }
}

/// Dynamic ESS error code (5404) in words.
pub fn dess_error_name(v: u16) -> &'static str {
    match v {
        0 => "ok",
        1 => "no ESS",
        2 => "ESS mode (keep charged or external control)",
        3 => "no matching schedule (plain ESS runs)",
        4 => "SoC low or unknown",
        5 => "battery capacity not set",
        _ => "unknown",
    }
}
