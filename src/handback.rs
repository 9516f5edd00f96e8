//! Hand-back: what the GX held before this tool first changed each of its settings, and the
//! writes that give them back. Pure: the record is read and written by `handback_file`.
//!
//! The ESS minimum SoC (2901) lives in the GX's flash and never expires, so the tool remembers
//! the owner's value before its first write and puts it back when maintenance is over (unless
//! `reserve_soc` manages it), on `release`, and on uninstall. When the owner changes 2901 on
//! the GX themselves (it no longer holds what the tool last wrote), that becomes the owner's
//! value from then on.

use serde::{Deserialize, Serialize};

use crate::registers as reg;
use crate::registers::Write;
use crate::victron::GxSettings;
use crate::victron::{self, DessMode, SlotRegs};

/// What the GX held before this tool first wrote each setting (raw register values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Found {
    /// 2901 as the owner has it (percent × 10).
    #[serde(default)]
    pub min_soc_raw: Option<u16>,
    /// What this tool last wrote to 2901: a different value on the GX is the owner's change.
    #[serde(default)]
    pub min_soc_written: Option<u16>,
    /// 5420 (kWh × 10).
    #[serde(default)]
    pub capacity_raw: Option<u16>,
    /// 5423.
    #[serde(default)]
    pub dess_mode: Option<u16>,
    /// Slot 0 as found, 5424-5430 in the new map's order.
    #[serde(default)]
    pub slot: Option<[u16; 7]>,
}

impl Found {
    /// Whether the tool has changed anything there is to give back.
    pub fn is_empty(&self) -> bool {
        self == &Found::default()
    }
}

fn percent(raw: u16) -> String {
    let v = reg::ESS_MIN_SOC.physical(i64::from(raw));
    if v.fract() == 0.0 {
        format!("{v} %")
    } else {
        format!("{v:.1} %")
    }
}

/// Takes an owner's change of 2901 as their new value: `Some(message)`, once, when the GX no
/// longer holds what this tool last wrote there.
pub fn adopt_owner_change(found: &mut Found, gx: &GxSettings) -> Option<String> {
    let written = found.min_soc_written?;
    if gx.min_soc_raw == written {
        return None;
    }
    found.min_soc_raw = Some(gx.min_soc_raw);
    found.min_soc_written = None;
    Some(format!(
        "the GX's ESS minimum SoC is {} now, not the {} this tool last wrote: taken as your own value, which the tool puts back whenever it is not lowering it for maintenance",
        percent(gx.min_soc_raw),
        percent(written)
    ))
}

/// The owner's 2901 to put back now (when the plan leaves 2901 to the owner), if the tool
/// changed it and the GX still holds what the tool wrote.
pub fn owner_min_soc(found: &Found, gx: &GxSettings) -> Option<u16> {
    let (owner, written) = (found.min_soc_raw?, found.min_soc_written?);
    (gx.min_soc_raw == written && owner != written).then_some(owner)
}

/// Records what the GX holds for every setting `writes` is about to change that the tool has
/// not changed before, and what it writes to 2901. Call before writing.
pub fn remember(found: &mut Found, gx: &GxSettings, writes: &[Write]) {
    for w in writes {
        match w.address {
            2901 => {
                found.min_soc_raw.get_or_insert(gx.min_soc_raw);
                found.min_soc_written = w.values.first().copied();
            }
            5420 => {
                found.capacity_raw.get_or_insert(gx.capacity_raw);
            }
            5423 => {
                found.dess_mode.get_or_insert(gx.dess_mode);
            }
            5424 | 5429 => {
                found.slot.get_or_insert(gx.slot.words());
            }
            _ => {}
        }
    }
}

/// One value given back, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    pub setting: &'static str,
    pub from: String,
    pub to: String,
}

/// The writes that give the GX back as it was found: slot 0 cleared (when this tool wrote it),
/// the owner's minimum SoC,
/// the battery capacity and the Dynamic ESS mode (last, so Dynamic ESS does not run a slot
/// of this tool's on the way), each only where the tool changed it and the GX still differs.
/// A minimum SoC the owner has changed since is theirs and left alone.
pub fn release_writes(found: &Found, gx: &GxSettings) -> (Vec<Write>, Vec<Restored>) {
    let mut writes = Vec::new();
    let mut restored = Vec::new();
    // Slot 0 only if this tool wrote it: another controller's slot is not ours to clear.
    if found.slot.is_some() && !gx.slot.is_empty() {
        let cleared = SlotRegs::cleared(gx.slot.restrictions);
        writes.extend(victron::slot_writes(
            gx.map,
            &gx.slot,
            &cleared,
            "slot 0: cleared".to_string(),
        ));
        restored.push(Restored {
            setting: "slot 0",
            from: "this tool's window".to_string(),
            to: "empty".to_string(),
        });
    }
    if let Some(owner) = owner_min_soc(found, gx) {
        let (from, to) = (percent(gx.min_soc_raw), percent(owner));
        writes.push(Write {
            address: reg::ESS_MIN_SOC.address,
            values: vec![owner],
            summary: format!("ESS minimum SoC: {from} → {to} (yours)"),
        });
        restored.push(Restored {
            setting: "ESS minimum SoC",
            from,
            to,
        });
    }
    // A capacity of 0 (never set) is below what the settings store accepts; with Dynamic ESS
    // back in the mode it was found in (off, most often) the value is not used.
    if let Some(capacity) = found
        .capacity_raw
        .filter(|c| *c != gx.capacity_raw && *c > 0)
    {
        let r = reg::DESS_CAPACITY;
        let (from, to) = (
            r.describe(i64::from(gx.capacity_raw)),
            r.describe(i64::from(capacity)),
        );
        writes.push(Write {
            address: r.address,
            values: vec![capacity],
            summary: format!("Dynamic ESS battery capacity: {from} → {to}"),
        });
        restored.push(Restored {
            setting: "Dynamic ESS battery capacity",
            from,
            to,
        });
    }
    if let Some(mode) = found.dess_mode.filter(|m| *m != gx.dess_mode) {
        let name = |m: u16| format!("{m} ({})", DessMode::from_raw(m).name());
        writes.push(Write {
            address: reg::DESS_MODE.address,
            values: vec![mode],
            summary: format!("Dynamic ESS mode: {} → {}", name(gx.dess_mode), name(mode)),
        });
        restored.push(Restored {
            setting: "Dynamic ESS mode",
            from: name(gx.dess_mode),
            to: name(mode),
        });
    }
    (writes, restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GX as shipped: no capacity, Dynamic ESS off.
    fn gx() -> GxSettings {
        GxSettings {
            capacity_raw: 0,
            dess_mode: 0,
            ..crate::testing::gx_settings()
        }
    }

    fn write(address: u16, value: u16) -> Write {
        Write {
            address,
            values: vec![value],
            summary: String::new(),
        }
    }

    #[test]
    fn remembers_each_setting_once_before_the_first_write() {
        let mut found = Found::default();
        remember(
            &mut found,
            &gx(),
            &[write(2901, 0), write(5420, 100), write(5423, 4)],
        );
        assert_eq!(found.min_soc_raw, Some(100));
        assert_eq!(found.min_soc_written, Some(0));
        assert_eq!((found.capacity_raw, found.dess_mode), (Some(0), Some(0)));
        // A later write keeps what was first found, and tracks what the tool wrote last.
        let mut now = gx();
        now.min_soc_raw = 0;
        remember(&mut found, &now, &[write(2901, 300)]);
        assert_eq!(found.min_soc_raw, Some(100));
        assert_eq!(found.min_soc_written, Some(300));
    }

    #[test]
    fn the_owners_minimum_comes_back_unless_they_changed_it() {
        let found = Found {
            min_soc_raw: Some(100),
            min_soc_written: Some(0),
            ..Found::default()
        };
        let mut now = gx();
        now.min_soc_raw = 0;
        assert_eq!(owner_min_soc(&found, &now), Some(100));
        // The owner set 20 % on the GX: theirs from now on, said once.
        now.min_soc_raw = 200;
        let mut adopted = found.clone();
        let said = adopt_owner_change(&mut adopted, &now).unwrap();
        assert!(said.contains("20 %") && said.contains("0 %"), "{said}");
        assert_eq!(adopted.min_soc_raw, Some(200));
        assert_eq!(adopt_owner_change(&mut adopted, &now), None);
        assert_eq!(owner_min_soc(&adopted, &now), None);
    }

    #[test]
    fn release_clears_the_slot_and_gives_back_what_was_found() {
        let found = Found {
            min_soc_raw: Some(100),
            min_soc_written: Some(0),
            capacity_raw: Some(50),
            dess_mode: Some(0),
            slot: Some([0; 7]),
        };
        let mut now = gx();
        now.min_soc_raw = 0;
        now.capacity_raw = 100;
        now.dess_mode = 4;
        now.slot = SlotRegs {
            duration_s: 3600,
            restrictions: 1,
            soc: 100,
            start: 1_795_000_000,
            ..SlotRegs::default()
        };
        let (writes, restored) = release_writes(&found, &now);
        let sent: Vec<(u16, Vec<u16>)> = writes
            .iter()
            .map(|w| (w.address, w.values.clone()))
            .collect();
        assert_eq!(
            sent,
            vec![
                (5424, vec![0, 0, 1, 0, 0, 0, 0]),
                (2901, vec![100]),
                (5420, vec![50]),
                (5423, vec![0]),
            ]
        );
        assert_eq!(restored.len(), 4);
        assert_eq!(restored[1].to, "10 %");
        // A capacity that was never set (0) is not written back: the store refuses 0.
        let unset = Found {
            capacity_raw: Some(0),
            ..found.clone()
        };
        assert!(
            release_writes(&unset, &now)
                .0
                .iter()
                .all(|w| w.address != 5420)
        );
        // Nothing changed by the tool: nothing to give back, not even a slot someone else
        // (VRM, Node-RED) holds.
        assert_eq!(release_writes(&Found::default(), &now).0, vec![]);
    }
}
