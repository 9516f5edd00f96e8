//! The Modbus register map, as data.
//!
//! Each register the tool touches is one [`Register`] constant: address, D-Bus path, type,
//! scale, unit and access, as in Victron's published list (see the reference notes in the
//! README). [`BLOCKS`] lists the ranges the GX really serves, because a read that spans an
//! address the GX lacks fails whole; reads are coalesced only inside one block.

/// How a register's raw words are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    U16,
    I16,
    /// Two registers, high word first.
    I32,
    /// Two registers, high word first.
    U32,
}

impl Kind {
    pub fn words(self) -> u16 {
        match self {
            Kind::I32 | Kind::U32 => 2,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One register (or register pair) of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    pub address: u16,
    pub name: &'static str,
    pub path: &'static str,
    pub kind: Kind,
    /// The raw value is the physical value times this.
    pub scale: u16,
    pub unit: &'static str,
    pub access: Access,
}

impl Register {
    /// The addresses this register occupies, end exclusive.
    pub fn span(&self) -> std::ops::Range<u16> {
        self.address..self.address + self.kind.words()
    }

    /// The physical value of a raw one, in [`Register::unit`].
    pub fn physical(&self, raw: i64) -> f64 {
        raw as f64 / f64::from(self.scale)
    }

    /// The raw value for a physical one, rounded; `None` when a 16-bit register cannot hold it.
    pub fn raw16(&self, physical: f64) -> Option<u16> {
        let raw = (physical * f64::from(self.scale)).round();
        (0.0..=f64::from(u16::MAX))
            .contains(&raw)
            .then_some(raw as u16)
    }

    /// A raw value in the owner's units: `10.0 %`, `2026-11-30T04:00:00Z` for a unix time.
    pub fn describe(&self, raw: i64) -> String {
        match self.unit {
            "unix s" => chrono::DateTime::<chrono::Utc>::from_timestamp(raw, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| format!("{raw} (unix s)")),
            "" => format!("{raw}"),
            unit if self.scale == 1 => format!("{raw} {unit}"),
            unit => format!("{:.1} {unit}", self.physical(raw)),
        }
    }
}

macro_rules! register {
    ($const:ident, $addr:expr, $name:expr, $path:expr, $kind:ident, $scale:expr, $unit:expr, $access:ident) => {
        pub const $const: Register = Register {
            address: $addr,
            name: $name,
            path: $path,
            kind: Kind::$kind,
            scale: $scale,
            unit: $unit,
            access: Access::$access,
        };
    };
}

// com.victronenergy.system and .settings, unit 100.
register!(
    AC_CONSUMPTION_L1,
    817,
    "AC loads L1",
    "/Ac/Consumption/L1/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    AC_CONSUMPTION_L2,
    818,
    "AC loads L2",
    "/Ac/Consumption/L2/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    AC_CONSUMPTION_L3,
    819,
    "AC loads L3",
    "/Ac/Consumption/L3/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    BATTERY_POWER,
    842,
    "battery power",
    "/Dc/Battery/Power",
    I16,
    1,
    "W",
    Read
);
register!(
    BATTERY_SOC,
    843,
    "battery SoC",
    "/Dc/Battery/Soc",
    U16,
    1,
    "%",
    Read
);
register!(
    ESS_STATE,
    2900,
    "ESS state",
    "/Settings/CGwacs/BatteryLife/State",
    U16,
    1,
    "",
    Write
);
register!(
    ESS_MIN_SOC,
    2901,
    "ESS minimum SoC",
    "/Settings/CGwacs/BatteryLife/MinimumSocLimit",
    U16,
    10,
    "%",
    Write
);
register!(
    HUB4_MODE,
    2902,
    "ESS mode (Hub4Mode)",
    "/Settings/CGwacs/Hub4Mode",
    U16,
    1,
    "",
    Write
);
register!(
    DESS_ACTIVE,
    5400,
    "Dynamic ESS active",
    "/DynamicEss/Active",
    U16,
    1,
    "",
    Read
);
register!(
    DESS_ERROR,
    5404,
    "Dynamic ESS error",
    "/DynamicEss/ErrorCode",
    U16,
    1,
    "",
    Read
);
register!(
    DESS_TARGET_SOC,
    5407,
    "Dynamic ESS target SoC",
    "/DynamicEss/TargetSoc",
    U16,
    1,
    "%",
    Read
);
register!(
    DESS_CAPACITY,
    5420,
    "Dynamic ESS battery capacity",
    "/Settings/DynamicEss/BatteryCapacity",
    U16,
    10,
    "kWh",
    Write
);
register!(
    DESS_MODE,
    5423,
    "Dynamic ESS mode",
    "/Settings/DynamicEss/Mode",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_FEED_IN,
    5424,
    "slot 0 AllowGridFeedIn",
    "/Settings/DynamicEss/Schedule/0/AllowGridFeedIn",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_DURATION,
    5425,
    "slot 0 Duration",
    "/Settings/DynamicEss/Schedule/0/Duration",
    U16,
    1,
    "s",
    Write
);
register!(
    SLOT_RESTRICTIONS,
    5426,
    "slot 0 Restrictions",
    "/Settings/DynamicEss/Schedule/0/Restrictions",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_SOC,
    5427,
    "slot 0 Soc",
    "/Settings/DynamicEss/Schedule/0/Soc",
    U16,
    1,
    "%",
    Write
);
register!(
    SLOT_START,
    5428,
    "slot 0 Start",
    "/Settings/DynamicEss/Schedule/0/Start",
    I32,
    1,
    "unix s",
    Write
);
register!(
    SLOT_STRATEGY,
    5430,
    "slot 0 Strategy",
    "/Settings/DynamicEss/Schedule/0/Strategy",
    U16,
    1,
    "",
    Write
);
// The old map (dbus_modbustcp up to v1.0.95, Venus OS v3.50 to at least v3.70): Strategy is
// addressed by a request that starts at 5429, where Start's low word otherwise sits.
register!(
    SLOT_STRATEGY_OLD_MAP,
    5429,
    "slot 0 Strategy",
    "/Settings/DynamicEss/Schedule/0/Strategy",
    U16,
    1,
    "",
    Write
);
register!(
    ESS_SOC_LIMIT,
    2903,
    "ESS active SoC limit",
    "/Settings/CGwacs/BatteryLife/SocLimit",
    U16,
    10,
    "%",
    Read
);
// Served by dbus_modbustcp v1.0.82 and later; older servers answer exception 02.
register!(
    FIRMWARE_VERSION,
    834,
    "GX firmware version",
    "/FirmwareVersion",
    U32,
    1,
    "",
    Read
);

// The EV charging station through the GX's evcharger service (unit 40 by default).
register!(
    GX_EV_MAX_CURRENT,
    3814,
    "EVCS max current",
    "/MaxCurrent",
    U16,
    1,
    "A",
    Write
);
register!(GX_EV_MODE, 3815, "EVCS mode", "/Mode", U16, 1, "", Write);
register!(
    GX_EV_POWER,
    3821,
    "EVCS power",
    "/Ac/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    GX_EV_STATUS,
    3824,
    "EVCS status",
    "/Status",
    U16,
    1,
    "",
    Read
);
register!(
    GX_EV_SET_CURRENT,
    3825,
    "EVCS set current",
    "/SetCurrent",
    U16,
    1,
    "A",
    Write
);
register!(
    GX_EV_START_STOP,
    3826,
    "EVCS start/stop",
    "/StartStop",
    U16,
    1,
    "",
    Write
);

// The EV charging station's own Modbus-TCP server (unit 1).
register!(
    EVCS_MODE,
    5009,
    "EVCS mode",
    "charger mode",
    U16,
    1,
    "",
    Write
);
register!(
    EVCS_START_STOP,
    5010,
    "EVCS start/stop",
    "charger start/stop",
    U16,
    1,
    "",
    Write
);
register!(
    EVCS_POWER,
    5014,
    "EVCS power",
    "charger power",
    U16,
    1,
    "W",
    Read
);
register!(
    EVCS_STATUS,
    5015,
    "EVCS status",
    "charger status",
    U16,
    1,
    "",
    Read
);
register!(
    EVCS_SET_CURRENT,
    5016,
    "EVCS set current",
    "charger set current",
    U16,
    1,
    "A",
    Write
);
register!(
    EVCS_MAX_CURRENT,
    5017,
    "EVCS max current",
    "charger max current",
    U16,
    1,
    "A",
    Write
);

/// One EV charger's controls, wherever they are served: the same six meanings live at 38xx
/// on the GX's evcharger service and at 50xx on the charger's own server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargerMap {
    /// 0 manual, 1 auto, 2 scheduled.
    pub mode: Register,
    /// 0 stop, 1 start.
    pub start_stop: Register,
    pub status: Register,
    /// Applies in manual mode only.
    pub set_current: Register,
    pub max_current: Register,
    pub power: Register,
}

impl ChargerMap {
    pub fn all(&self) -> [Register; 6] {
        [
            self.mode,
            self.start_stop,
            self.status,
            self.set_current,
            self.max_current,
            self.power,
        ]
    }
}

/// The charger through the GX's evcharger service.
pub const GX_CHARGER: ChargerMap = ChargerMap {
    mode: GX_EV_MODE,
    start_stop: GX_EV_START_STOP,
    status: GX_EV_STATUS,
    set_current: GX_EV_SET_CURRENT,
    max_current: GX_EV_MAX_CURRENT,
    power: GX_EV_POWER,
};

/// The charger's own Modbus-TCP server.
pub const EVCS_CHARGER: ChargerMap = ChargerMap {
    mode: EVCS_MODE,
    start_stop: EVCS_START_STOP,
    status: EVCS_STATUS,
    set_current: EVCS_SET_CURRENT,
    max_current: EVCS_MAX_CURRENT,
    power: EVCS_POWER,
};

/// The AC consumption phases 1-3, indexed by phase number − 1.
pub const AC_CONSUMPTION: [Register; 3] = [AC_CONSUMPTION_L1, AC_CONSUMPTION_L2, AC_CONSUMPTION_L3];

/// Every register in the map, for naming an address in a message.
pub const ALL: [Register; 34] = [
    AC_CONSUMPTION_L1,
    AC_CONSUMPTION_L2,
    AC_CONSUMPTION_L3,
    BATTERY_POWER,
    BATTERY_SOC,
    ESS_STATE,
    ESS_MIN_SOC,
    HUB4_MODE,
    DESS_ACTIVE,
    DESS_ERROR,
    DESS_TARGET_SOC,
    DESS_CAPACITY,
    DESS_MODE,
    SLOT_FEED_IN,
    SLOT_DURATION,
    SLOT_RESTRICTIONS,
    SLOT_SOC,
    SLOT_START,
    SLOT_STRATEGY,
    SLOT_STRATEGY_OLD_MAP,
    ESS_SOC_LIMIT,
    FIRMWARE_VERSION,
    GX_EV_MAX_CURRENT,
    GX_EV_MODE,
    GX_EV_POWER,
    GX_EV_STATUS,
    GX_EV_SET_CURRENT,
    GX_EV_START_STOP,
    EVCS_MODE,
    EVCS_START_STOP,
    EVCS_POWER,
    EVCS_STATUS,
    EVCS_SET_CURRENT,
    EVCS_MAX_CURRENT,
];

/// The register a request starting at `first` reaches at `address`, as the GX maps it: by
/// each register's first address, so a request that starts at 5429 addresses the old map's
/// Strategy, and one that starts below it reaches Start's low word there. `None` for an
/// address outside the map.
pub fn in_request(first: u16, address: u16) -> Option<Register> {
    if first == address && address == SLOT_STRATEGY_OLD_MAP.address {
        return Some(SLOT_STRATEGY_OLD_MAP);
    }
    ALL.iter()
        .filter(|r| *r != &SLOT_STRATEGY_OLD_MAP)
        .find(|r| r.span().contains(&address))
        .copied()
}

/// A register's raw value from the words of a read that started at `first`.
pub fn raw_at(words: &[u16], first: u16, r: Register) -> Option<i64> {
    let at = usize::from(r.address.checked_sub(first)?);
    let hi = *words.get(at)?;
    Some(match r.kind {
        Kind::U16 => i64::from(hi),
        Kind::I16 => i64::from(hi as i16),
        Kind::I32 => i32_from_words(hi, *words.get(at + 1)?),
        Kind::U32 => i64::from((u32::from(hi) << 16) | u32::from(*words.get(at + 1)?)),
    })
}

/// A signed 32-bit value from two registers, high word first (the GX's word order).
pub fn i32_from_words(hi: u16, lo: u16) -> i64 {
    i64::from(((u32::from(hi) << 16) | u32::from(lo)) as i32)
}

/// The slot's registers on the new map, written together in one FC16 request (5424-5430).
pub const SLOT: [Register; 6] = [
    SLOT_FEED_IN,
    SLOT_DURATION,
    SLOT_RESTRICTIONS,
    SLOT_SOC,
    SLOT_START,
    SLOT_STRATEGY,
];
/// First address of the slot, and its word count on the old map (5424-5429, without
/// Strategy) and on the new one (5424-5430).
pub const SLOT_BASE: u16 = 5424;
pub const SLOT_WORDS_OLD_MAP: u16 = 6;
pub const SLOT_WORDS: u16 = 7;

/// Ranges a device serves, inclusive; a read must not cross an address outside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub first: u16,
    pub last: u16,
}

/// The ranges the tool reads that every GX line serves whole (checked against Victron's own
/// register lists in `tests/registers.rs`), and the charger's. 830-839 (the GX clock and
/// firmware version, v1.0.82 and later) and 5430 (the new map's Strategy) are read on their
/// own terms by `gx`, never coalesced into these.
pub const BLOCKS: [Block; 7] = [
    Block {
        first: 817,
        last: 829,
    },
    Block {
        first: 840,
        last: 846,
    },
    Block {
        first: 2900,
        last: 2903,
    },
    Block {
        first: 5400,
        last: 5407,
    },
    Block {
        first: 5420,
        last: 5429,
    },
    Block {
        first: 3814,
        last: 3827,
    },
    Block {
        first: 5009,
        last: 5018,
    },
];

/// One read request: `count` registers from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRange {
    pub first: u16,
    pub count: u16,
}

/// The fewest read requests that cover `registers`: one per block touched, from the lowest to
/// the highest address needed in it. A register outside every block is an error naming it.
pub fn coalesce(registers: &[Register]) -> Result<Vec<ReadRange>, u16> {
    coalesce_spans(registers.iter().map(Register::span))
}

/// As [`coalesce`], for address ranges (end exclusive).
fn coalesce_spans(
    spans: impl IntoIterator<Item = std::ops::Range<u16>>,
) -> Result<Vec<ReadRange>, u16> {
    let mut ranges: Vec<(Block, u16, u16)> = Vec::new();
    for span in spans {
        if span.is_empty() {
            continue;
        }
        let block = BLOCKS
            .iter()
            .find(|b| b.first <= span.start && span.end - 1 <= b.last)
            .ok_or(span.start)?;
        match ranges.iter_mut().find(|(b, _, _)| b == block) {
            Some((_, lo, hi)) => {
                *lo = (*lo).min(span.start);
                *hi = (*hi).max(span.end);
            }
            None => ranges.push((*block, span.start, span.end)),
        }
    }
    let mut out: Vec<ReadRange> = ranges
        .into_iter()
        .map(|(_, lo, hi)| ReadRange {
            first: lo,
            count: hi - lo,
        })
        .collect();
    out.sort_by_key(|r| r.first);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_is_contiguous() {
        let mut next = SLOT_BASE;
        for r in SLOT {
            assert_eq!(r.address, next, "{}", r.name);
            next += r.kind.words();
        }
        assert_eq!(next - SLOT_BASE, SLOT_WORDS);
        assert_eq!(
            SLOT_STRATEGY_OLD_MAP.address,
            SLOT_BASE + SLOT_WORDS_OLD_MAP - 1
        );
    }

    #[test]
    fn coalesces_within_blocks_only() {
        let ranges =
            coalesce(&[ESS_MIN_SOC, ESS_STATE, DESS_CAPACITY, SLOT_START, HUB4_MODE]).unwrap();
        assert_eq!(
            ranges,
            vec![
                ReadRange {
                    first: 2900,
                    count: 3
                },
                ReadRange {
                    first: 5420,
                    count: 10
                }
            ]
        );
        // 5407 and 5420 are in different blocks: two requests, never one across 5408-5419.
        let ranges = coalesce(&[DESS_TARGET_SOC, DESS_CAPACITY]).unwrap();
        assert_eq!(ranges.len(), 2);
        // 5430 (new map only) and the firmware version (newer servers only) never coalesce.
        assert_eq!(coalesce(&[SLOT_STRATEGY]), Err(5430));
        assert_eq!(coalesce(&[FIRMWARE_VERSION]), Err(834));
        // The loads and the battery: two requests, never one across 830-839.
        assert_eq!(
            coalesce(&[AC_CONSUMPTION_L1, BATTERY_SOC]).unwrap().len(),
            2
        );
    }

    #[test]
    fn charger_maps_read_in_one_request_each() {
        for map in [GX_CHARGER, EVCS_CHARGER] {
            assert_eq!(coalesce(&map.all()).unwrap().len(), 1);
        }
        let name = |first, a| in_request(first, a).map(|r| r.name);
        assert_eq!(name(3826, 3826), Some("EVCS start/stop"));
        assert_eq!(name(5424, 5429), Some("slot 0 Start"));
        assert_eq!(name(5429, 5429), Some("slot 0 Strategy"));
        assert_eq!(name(5424, 5430), Some("slot 0 Strategy"));
        assert_eq!(name(4000, 4000), None);
    }

    #[test]
    fn values_in_the_owners_units() {
        assert_eq!(ESS_MIN_SOC.describe(100), "10.0 %");
        assert_eq!(ESS_MIN_SOC.raw16(12.5), Some(125));
        assert_eq!(ESS_MIN_SOC.raw16(7000.0), None);
        assert_eq!(DESS_CAPACITY.physical(100), 10.0);
        assert_eq!(SLOT_SOC.describe(80), "80 %");
        assert_eq!(SLOT_START.describe(0), "1970-01-01T00:00:00Z");
        assert_eq!(DESS_MODE.describe(4), "4");
    }

    #[test]
    fn unknown_addresses_are_refused() {
        let bogus = Register {
            address: 5410,
            ..DESS_MODE
        };
        assert_eq!(coalesce(&[bogus]), Err(5410));
    }
}
