//! The Modbus register map, as data: what a register is ([`Register`]), the blocks a device
//! really serves, and (in `map`) every register the tool touches; `words` holds register
//! values as the core passes them around.
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

mod map;
mod words;

pub use map::*;
pub use words::{Mismatch, Snapshot, Write};

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
