//! The Victron GX codec: the one place that knows how slot 0 is laid out on each register
//! map, what the GX's device codes mean, and which firmware line a GX runs. Pure: words in,
//! typed values out, and typed values to register writes.
//!
//! Two maps serve slot 0 (see the README's "Which GX firmware"): the **old** one
//! (`dbus_modbustcp` up to v1.0.95: Venus OS v3.50 to at least v3.70) addresses Strategy with a
//! request that *starts* at 5429, where Start's low word otherwise sits, and has no 5430; the
//! **new** one (v1.0.96 and later) has Strategy at 5430.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock;
use crate::registers::{self as reg, Register};
use crate::registers::{Mismatch, Write};

/// Which register map serves slot 0's Strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotMap {
    /// Strategy at 5429 (a request starting there); 5430 does not exist.
    Old,
    /// Strategy at 5430.
    New,
}

impl SlotMap {
    /// In words, for `status`.
    pub fn describe(self) -> &'static str {
        match self {
            SlotMap::Old => "old slot map (Strategy at 5429, dbus_modbustcp up to v1.0.95)",
            SlotMap::New => "new slot map (Strategy at 5430, dbus_modbustcp v1.0.96 and later)",
        }
    }
}

/// Slot 0 of the Dynamic ESS schedule, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotRegs {
    /// 1: battery energy may be exported.
    pub feed_in: u16,
    /// Seconds on the GX's clock.
    pub duration_s: u16,
    /// Bit 1: battery → grid blocked; bit 2: grid → battery blocked.
    pub restrictions: u16,
    /// Target SoC, %.
    pub soc: u16,
    /// Unix seconds.
    pub start: i64,
    /// 0 target SoC, 1 self-consumption, 2 pro battery, 3 pro grid.
    pub strategy: u16,
}

/// Restriction bit: battery → grid blocked.
pub const RESTRICT_BATTERY_TO_GRID: u16 = 1;
/// Restriction bit: grid → battery blocked.
pub const RESTRICT_GRID_TO_BATTERY: u16 = 2;
/// Strategy 0: aim for the slot's Soc.
pub const STRATEGY_TARGET_SOC: u16 = 0;

impl SlotRegs {
    /// An empty slot: start 0 and duration 0.
    pub fn cleared(restrictions: u16) -> SlotRegs {
        SlotRegs {
            restrictions,
            ..SlotRegs::default()
        }
    }

    /// A slot with no window: the GX never holds it in force.
    pub fn is_empty(&self) -> bool {
        self.start <= 0 || self.duration_s == 0
    }

    /// Whether this slot, as read, already holds `wanted`: an empty slot's other registers do
    /// not matter.
    pub fn holds(&self, wanted: &SlotRegs) -> bool {
        if wanted.is_empty() {
            self.is_empty()
        } else {
            self == wanted
        }
    }

    /// The drain shape: feed-in on, grid → battery blocked, battery → grid allowed.
    pub fn is_drain(&self) -> bool {
        self.feed_in == 1 && self.restrictions == RESTRICT_GRID_TO_BATTERY
    }

    /// The seven values in the new map's order (5424-5430), as `status --json` shows them.
    pub fn words(&self) -> [u16; 7] {
        let [hi, lo] = start_words(self.start);
        [
            self.feed_in,
            self.duration_s,
            self.restrictions,
            self.soc,
            hi,
            lo,
            self.strategy,
        ]
    }

    /// Where the GX holds the slot: from its start to where its clock in `gx_tz` stops it.
    /// `None` for an empty slot.
    pub fn span(&self, gx_tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.is_empty() {
            return None;
        }
        let t = DateTime::<Utc>::from_timestamp(self.start, 0)?;
        Some((t, clock::gx_stop(gx_tz, t, i64::from(self.duration_s))))
    }
}

/// Start as two registers, high word first (the GX's word order). Starts are checked to fit
/// an i32 before they get here; anything else is cut to its low 32 bits.
pub fn start_words(start: i64) -> [u16; 2] {
    let bits = start as i32 as u32;
    [(bits >> 16) as u16, (bits & 0xFFFF) as u16]
}

/// Slot 0 from the words of 5424-5429 (6) and its Strategy, wherever the map keeps it.
pub fn decode_slot(words: &[u16], strategy: u16) -> Option<SlotRegs> {
    let [feed_in, duration_s, restrictions, soc, hi, lo] = *words.get(..6)? else {
        return None;
    };
    Some(SlotRegs {
        feed_in,
        duration_s,
        restrictions,
        soc,
        start: reg::i32_from_words(hi, lo),
        strategy,
    })
}

/// The writes that make the GX hold `wanted` where it holds `current`: one FC16 of the whole
/// slot on the new map; on the old map an FC16 of 5424-5429 and, only when the GX holds
/// another Strategy (one VRM left behind defeats the target), an FC06 to 5429. Never an FC06
/// to 5429 on the new map, where it would overwrite Start's low word.
pub fn slot_writes(
    map: SlotMap,
    current: &SlotRegs,
    wanted: &SlotRegs,
    summary: String,
) -> Vec<Write> {
    let words = wanted.words();
    match map {
        SlotMap::New => vec![Write {
            address: reg::SLOT_BASE,
            values: words.to_vec(),
            summary,
        }],
        SlotMap::Old => {
            let mut out = vec![Write {
                address: reg::SLOT_BASE,
                values: words[..usize::from(reg::SLOT_WORDS_OLD_MAP)].to_vec(),
                summary,
            }];
            if current.strategy != wanted.strategy {
                out.push(Write {
                    address: reg::SLOT_STRATEGY_OLD_MAP.address,
                    values: vec![wanted.strategy],
                    summary: format!(
                        "slot 0 Strategy (5429 on this GX's map): {} → {} ({})",
                        current.strategy,
                        wanted.strategy,
                        strategy_name(wanted.strategy)
                    ),
                });
            }
            out
        }
    }
}

/// Slot Strategy in words.
pub fn strategy_name(v: u16) -> &'static str {
    match v {
        0 => "target SoC",
        1 => "self-consumption",
        2 => "pro battery",
        3 => "pro grid",
        _ => "unknown",
    }
}

/// ESS state (2900).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EssState(pub u16);

impl EssState {
    pub const KEEP_CHARGED: u16 = 9;

    /// "Optimized (with BatteryLife)": BatteryLife's own SoC limit holds the battery up, so a
    /// ZCell cannot empty for maintenance.
    pub fn battery_life(self) -> bool {
        (1..=8).contains(&self.0)
    }

    pub fn keep_charged(self) -> bool {
        self.0 == Self::KEEP_CHARGED
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            1..=8 => "optimized with BatteryLife",
            9 => "keep batteries charged",
            10 => "optimized without BatteryLife",
            11 => "optimized without BatteryLife (at minimum SoC)",
            12 => "optimized without BatteryLife (recharging)",
            _ => "unknown",
        }
    }
}

/// Hub4Mode (2902).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hub4Mode(pub u16);

impl Hub4Mode {
    pub fn external_control(self) -> bool {
        self.0 == 3
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "ESS with phase compensation",
            2 => "ESS without phase compensation",
            3 => "external control",
            _ => "unknown",
        }
    }
}

/// Dynamic ESS mode (5423).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DessMode {
    Off,
    /// VRM writes the schedule.
    Auto,
    /// 2 or 3: the GX's control code stops its loop on them, and going from them straight to
    /// 4 leaves it stopped.
    Stopped(u16),
    /// Someone else (this tool, Node-RED) writes the schedule.
    External,
    Unknown(u16),
}

impl DessMode {
    pub const OFF: u16 = 0;
    pub const AUTO: u16 = 1;
    pub const EXTERNAL: u16 = 4;

    pub fn from_raw(v: u16) -> DessMode {
        match v {
            0 => DessMode::Off,
            1 => DessMode::Auto,
            2 | 3 => DessMode::Stopped(v),
            4 => DessMode::External,
            _ => DessMode::Unknown(v),
        }
    }

    /// Whether the GX's control code runs slot 0 in this mode.
    pub fn runs(self) -> bool {
        matches!(self, DessMode::Auto | DessMode::External)
    }

    pub fn name(self) -> &'static str {
        match self {
            DessMode::Off => "off",
            DessMode::Auto => "auto (VRM)",
            DessMode::Stopped(_) => "off to the GX's control code",
            DessMode::External => "external (this tool or Node-RED)",
            DessMode::Unknown(_) => "unknown",
        }
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
        6 => "Dynamic ESS disabled",
        _ => "unknown",
    }
}

/// The GX's firmware as registers 834-835 report it: Victron's hex-digit form, high word the
/// major version, then a byte of minor version and a byte of beta build (`0x0003_7012` is
/// v3.70~12, `0x0003_6000` v3.60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware(pub u32);

/// The firmware lines whose Dynamic ESS control code differs (README, "Which GX firmware").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// Before v3.50: no Dynamic ESS registers on Modbus.
    TooOld,
    /// v3.50-3.5x: Strategy 0-1; a global Restrictions VRM may leave adds to the slot's.
    V350,
    /// v3.60-3.67: Strategy 0-3; global Restrictions still add.
    V360,
    /// v3.70-3.7x: the slot's Restrictions only; Soc 0 is no target; TargetSoc overrides 5427.
    V370,
    /// v3.80 and later: Dynamic ESS in its own service, which may compare slots on UTC.
    V380,
    /// The server does not say (before `dbus_modbustcp` v1.0.82).
    Unknown,
}

impl Firmware {
    /// Two hex digits as the decimal number they spell (`0x70` → 70).
    fn digits(byte: u32) -> u32 {
        (byte >> 4) * 10 + (byte & 0xF)
    }

    pub fn major(self) -> u32 {
        Firmware::digits(self.0 >> 16 & 0xFF)
    }

    pub fn minor(self) -> u32 {
        Firmware::digits(self.0 >> 8 & 0xFF)
    }

    /// `v3.70`, or `v3.70~12` for a beta.
    pub fn text(self) -> String {
        match Firmware::digits(self.0 & 0xFF) {
            0 => format!("v{}.{:02}", self.major(), self.minor()),
            beta => format!("v{}.{:02}~{beta}", self.major(), self.minor()),
        }
    }

    pub fn line(self) -> Line {
        match (self.major(), self.minor()) {
            (0..=2, _) | (3, 0..=49) => Line::TooOld,
            (3, 50..=59) => Line::V350,
            (3, 60..=69) => Line::V360,
            (3, 70..=79) => Line::V370,
            _ => Line::V380,
        }
    }
}

impl Line {
    /// Whether a `/Settings/DynamicEss/Schedule/0/TargetSoc` above 0 overrides 5427 (from
    /// v3.70); `None` when the line is not known.
    pub fn target_soc_overrides(self) -> Option<bool> {
        match self {
            Line::V370 | Line::V380 => Some(true),
            Line::V350 | Line::V360 | Line::TooOld => Some(false),
            Line::Unknown => None,
        }
    }

    /// Whether a global `/Settings/DynamicEss/Restrictions` (not on Modbus) adds to the
    /// slot's (up to v3.67); `None` when the line is not known.
    pub fn global_restrictions(self) -> Option<bool> {
        match self {
            Line::V350 | Line::V360 | Line::TooOld => Some(true),
            Line::V370 | Line::V380 => Some(false),
            Line::Unknown => None,
        }
    }

    /// The highest slot Strategy the line accepts.
    pub fn max_strategy(self) -> u16 {
        match self {
            Line::V350 | Line::TooOld => 1,
            _ => 3,
        }
    }
}

/// EV charging station mode (3815 on the GX, 5009 on the station) in words.
pub fn charger_mode_name(v: u16) -> &'static str {
    match v {
        0 => "manual",
        1 => "auto",
        2 => "scheduled",
        _ => "unknown",
    }
}

/// A coded register's value in words (`auto`, `external (this tool or Node-RED)`), or `None`
/// for a register that holds a quantity.
pub fn code_name(r: Register, v: i64) -> Option<&'static str> {
    let v = u16::try_from(v).ok()?;
    Some(match r.address {
        2900 => EssState(v).name(),
        2902 => Hub4Mode(v).name(),
        5423 => DessMode::from_raw(v).name(),
        5429 | 5430 if r.name == "slot 0 Strategy" => strategy_name(v),
        3815 | 5009 => charger_mode_name(v),
        3826 | 5010 => match v {
            0 => "stop",
            1 => "start",
            _ => "unknown",
        },
        _ => return None,
    })
}

/// `ESS minimum SoC (2901) reads 10.0 % after writing 0.0 %`, a coded value with its name:
/// `EVCS mode (3815) reads 1 (auto) after writing 0 (manual)`.
pub fn describe_mismatch(m: &Mismatch) -> String {
    let value = |v: i64| match m.register {
        Some(r) => match code_name(r, v) {
            Some(code) => format!("{v} ({code})"),
            None => r.describe(v),
        },
        None => v.to_string(),
    };
    let name = m
        .register
        .map_or_else(|| format!("register {}", m.address), |r| r.name.to_string());
    let read = m.read.map_or("nothing".to_string(), value);
    format!(
        "{name} ({}) reads {read} after writing {}",
        m.address,
        value(m.written)
    )
}

/// The settings `apply` decides on, as the GX holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GxSettings {
    /// Which register map serves slot 0 on this GX.
    pub map: SlotMap,
    pub ess_state: EssState,
    /// Raw (percent × 10): compared with what would be written, so nothing is rewritten.
    pub min_soc_raw: u16,
    pub hub4_mode: Hub4Mode,
    /// The active SoC limit (2903), raw (percent × 10): BatteryLife's own, or 2901.
    pub soc_limit_raw: u16,
    /// Raw (kWh × 10).
    pub capacity_raw: u16,
    /// Raw, as the GX holds it.
    pub dess_mode: u16,
    pub slot: SlotRegs,
}

impl GxSettings {
    pub fn min_soc_percent(&self) -> f64 {
        crate::registers::ESS_MIN_SOC.physical(i64::from(self.min_soc_raw))
    }

    pub fn capacity_kwh(&self) -> f64 {
        crate::registers::DESS_CAPACITY.physical(i64::from(self.capacity_raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotRegs {
        SlotRegs {
            feed_in: 0,
            duration_s: 21_600,
            restrictions: 1,
            soc: 100,
            start: 1_795_000_000,
            strategy: 0,
        }
    }

    #[test]
    fn the_slot_round_trips_through_its_words() {
        let w = slot().words();
        assert_eq!(w[1], 21_600);
        assert_eq!(
            ((u32::from(w[4]) << 16) | u32::from(w[5])) as i64,
            1_795_000_000
        );
        assert_eq!(decode_slot(&w[..6], w[6]), Some(slot()));
        assert_eq!(decode_slot(&w[..5], 0), None);
    }

    #[test]
    fn each_map_gets_its_own_writes() {
        let s = slot();
        let new = slot_writes(SlotMap::New, &SlotRegs::default(), &s, "x".into());
        assert_eq!(new.len(), 1);
        assert_eq!((new[0].address, new[0].values.len()), (5424, 7));
        // Old map: 6 registers, and Strategy only when the GX holds another one.
        let same = slot_writes(SlotMap::Old, &SlotRegs::default(), &s, "x".into());
        assert_eq!(same.len(), 1);
        assert_eq!((same[0].address, same[0].values.len()), (5424, 6));
        let vrm = SlotRegs {
            strategy: 1,
            ..SlotRegs::default()
        };
        let both = slot_writes(SlotMap::Old, &vrm, &s, "x".into());
        assert_eq!(both.len(), 2);
        assert_eq!((both[1].address, &both[1].values), (5429, &vec![0]));
        // Never an FC06 to 5429 on the new map.
        let new = slot_writes(SlotMap::New, &vrm, &s, "x".into());
        assert!(new.iter().all(|w| w.address != 5429));
    }

    #[test]
    fn an_empty_slot_holds_any_cleared_one() {
        let cleared = SlotRegs::cleared(3);
        assert!(SlotRegs::cleared(1).holds(&cleared));
        assert!(!slot().holds(&cleared));
        assert!(!cleared.holds(&slot()));
        assert!(slot().holds(&slot()));
    }

    #[test]
    fn firmware_versions_and_lines() {
        assert_eq!(Firmware(0x0003_7000).text(), "v3.70");
        assert_eq!(Firmware(0x0003_6712).text(), "v3.67~12");
        assert_eq!(Firmware(0x0003_5500).line(), Line::V350);
        assert_eq!(Firmware(0x0003_6700).line(), Line::V360);
        assert_eq!(Firmware(0x0003_7700).line(), Line::V370);
        assert_eq!(Firmware(0x0003_8000).line(), Line::V380);
        assert_eq!(Firmware(0x0003_4000).line(), Line::TooOld);
        assert_eq!(Line::V360.target_soc_overrides(), Some(false));
        assert_eq!(Line::V370.global_restrictions(), Some(false));
        assert_eq!(Line::Unknown.global_restrictions(), None);
        assert_eq!(Line::V350.max_strategy(), 1);
    }

    fn mismatch(register: Register, written: i64, read: Option<i64>) -> Mismatch {
        Mismatch {
            register: Some(register),
            address: register.address,
            written,
            read,
        }
    }

    #[test]
    fn mismatches_in_the_owners_units() {
        let text = |m: &Mismatch| describe_mismatch(m);
        assert_eq!(
            text(&mismatch(reg::ESS_MIN_SOC, 0, Some(100))),
            "ESS minimum SoC (2901) reads 10.0 % after writing 0.0 %"
        );
        assert_eq!(
            text(&mismatch(reg::SLOT_SOC, 80, Some(70))),
            "slot 0 Soc (5427) reads 70 % after writing 80 %"
        );
        assert_eq!(
            text(&mismatch(reg::SLOT_STRATEGY_OLD_MAP, 0, Some(1))),
            "slot 0 Strategy (5429) reads 1 (self-consumption) after writing 0 (target SoC)"
        );
        assert_eq!(
            text(&mismatch(reg::GX_EV_MODE, 0, Some(1))),
            "EVCS mode (3815) reads 1 (auto) after writing 0 (manual)"
        );
        assert!(text(&mismatch(reg::SLOT_SOC, 80, None)).contains("reads nothing"));
    }

    #[test]
    fn device_codes() {
        assert!(EssState(3).battery_life());
        assert!(!EssState(10).battery_life());
        assert!(EssState(9).keep_charged());
        assert_eq!(DessMode::from_raw(3), DessMode::Stopped(3));
        assert!(!DessMode::from_raw(2).runs());
        assert!(DessMode::from_raw(4).runs());
    }
}
