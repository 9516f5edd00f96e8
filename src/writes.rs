//! From a plan and what the GX holds now to the exact register writes: a pure function.
//!
//! Settings writes go to the GX's flash, so only what differs is written; a second `apply`
//! at the same instant therefore writes nothing. The state checks that make the GX
//! unschedulable are here too, so they are decided before the first write.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock;
use crate::config::Config;
use crate::gx::{GxError, GxSettings};
use crate::modbus::Write;
use crate::plan::{Plan, Slot, WindowKind, local_span};
use crate::registers::{self as reg, RESTRICT_BATTERY_TO_GRID, RESTRICT_GRID_TO_BATTERY};

/// Dynamic ESS mode values.
pub const DESS_OFF: u16 = 0;
pub const DESS_AUTO: u16 = 1;
pub const DESS_EXTERNAL: u16 = 4;

/// The writes, plus anything the owner should know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WritePlan {
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
}

/// The slot's seven registers for a window, or the cleared slot (start 0, duration 0). The
/// duration is counted on the GX's wall clock in `gx_tz`, as the GX counts it.
pub fn slot_words(
    slot: Option<&Slot>,
    grid_charge: bool,
    gx_tz: Tz,
    gx: &str,
) -> Result<[u16; 7], GxError> {
    let charge_restrictions = RESTRICT_BATTERY_TO_GRID
        | if grid_charge {
            0
        } else {
            RESTRICT_GRID_TO_BATTERY
        };
    let Some(slot) = slot else {
        return Ok([0, 0, charge_restrictions, 0, 0, 0, 0]);
    };
    // A drain slot: battery → grid allowed and fed in; grid → battery blocked.
    let (feed_in, restrictions) = match slot.kind {
        WindowKind::Drain => (1, RESTRICT_GRID_TO_BATTERY),
        _ => (0, charge_restrictions),
    };
    let start = slot.start.timestamp();
    let start32 = i32::try_from(start).map_err(|_| GxError::StartOutOfRange {
        address: gx.to_string(),
        start,
    })?;
    let wall = clock::gx_wall_seconds(gx_tz, slot.start, slot.end);
    // Validation keeps windows within 65 535 s on the GX's clock; an exotic zone (a two-hour
    // daylight-saving shift) could still pass it, and a clamped or wrapped value would be a
    // wrong window: refuse.
    let duration =
        u16::try_from(wall)
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| GxError::SlotTooLong {
                address: gx.to_string(),
                seconds: wall,
            })?;
    let start_bits = start32 as u32;
    Ok([
        feed_in,
        duration,
        restrictions,
        u16::from(slot.soc),
        (start_bits >> 16) as u16,
        (start_bits & 0xFFFF) as u16,
        0,
    ])
}

/// Whether the slot as read already holds `wanted`. A cleared slot is start 0 and duration 0;
/// its other registers do not matter.
fn slot_matches(current: &[u16; 7], wanted: &[u16; 7]) -> bool {
    let cleared = |w: &[u16; 7]| w[1] == 0 && w[4] == 0 && w[5] == 0;
    if cleared(wanted) {
        cleared(current)
    } else {
        current == wanted
    }
}

/// Where the GX holds a slot as read: from its start to where its wall clock in `gx_tz` stops
/// it. `None` for an empty slot.
pub fn slot_span(words: &[u16; 7], gx_tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = reg::i32_from_words(words[4], words[5]);
    if start <= 0 || words[1] == 0 {
        return None;
    }
    let t = DateTime::<Utc>::from_timestamp(start, 0)?;
    Some((t, clock::gx_stop(gx_tz, t, i64::from(words[1]))))
}

/// Describes a slot as read from the GX, in local time, as the GX will hold it.
pub fn describe_slot_words(words: &[u16; 7], tz: Tz, gx_tz: Tz) -> String {
    match slot_span(words, gx_tz) {
        Some((start, end)) => format!("{} to {} %", local_span(tz, start, end), words[3]),
        None => "empty".to_string(),
    }
}

/// Refuses a GX state Dynamic ESS cannot work in, before anything is written.
pub fn check(config: &Config, gx: &GxSettings) -> Result<(), GxError> {
    let address = config.gx_address();
    if gx.ess_state == 9 {
        return Err(GxError::KeepCharged { address });
    }
    if gx.hub4_mode == 3 {
        return Err(GxError::ExternalControl { address });
    }
    match gx.dess_mode {
        DESS_OFF | DESS_EXTERNAL => Ok(()),
        DESS_AUTO if config.gx.take_over_dess => Ok(()),
        DESS_AUTO => Err(GxError::DessDrivenByVrm { address }),
        mode => Err(GxError::DessUnknownMode { address, mode }),
    }
}

/// The writes that make the GX hold `plan`, given what it holds now.
pub fn plan_writes(config: &Config, plan: &Plan, gx: &GxSettings) -> Result<WritePlan, GxError> {
    check(config, gx)?;
    let tz = config.timezone;
    let address = config.gx_address();
    let mut out = WritePlan::default();

    // Capacity first: Dynamic ESS refuses to run without it (error 5).
    let capacity = (config.schedule.battery_capacity_kwh * 10.0).round() as u16;
    if gx.capacity_raw != capacity {
        out.writes.push(Write {
            address: reg::DESS_CAPACITY.address,
            values: vec![capacity],
            summary: format!(
                "Dynamic ESS battery capacity: {:.1} kWh → {:.1} kWh",
                f64::from(gx.capacity_raw) / 10.0,
                f64::from(capacity) / 10.0
            ),
        });
    }

    let gx_tz = config.gx.timezone;
    let wanted = slot_words(
        plan.slot.as_ref(),
        config.schedule.grid_charge,
        gx_tz,
        &address,
    )?;
    if let Some(s) = plan
        .slot
        .as_ref()
        .filter(|s| clock::gx_inexact(gx_tz, s.start, s.end))
    {
        out.warnings.push(format!(
            "the slot {} starts or ends inside the hour the GX's clock ({}) passes twice when the clocks go back: the GX will hold it, pause for part of that hour, and hold it again; move the window's start or end out of that hour",
            local_span(tz, s.start, s.end),
            gx_tz.name()
        ));
    }
    if !slot_matches(&gx.slot, &wanted) {
        let what = match &plan.slot {
            Some(s) if s.kind == WindowKind::Drain => format!(
                "{} drain to {} %, exporting ([drain] export)",
                local_span(tz, s.start, s.end),
                s.soc
            ),
            Some(s) => format!(
                "{} charge to {} % ({}{})",
                local_span(tz, s.start, s.end),
                s.soc,
                s.window,
                if config.schedule.grid_charge {
                    ""
                } else {
                    ", solar only"
                }
            ),
            None => "cleared".to_string(),
        };
        out.writes.push(Write {
            address: reg::SLOT_BASE,
            values: wanted.to_vec(),
            summary: format!(
                "slot 0: {} → {what}",
                describe_slot_words(&gx.slot, tz, gx_tz)
            ),
        });
    }

    match plan.min_soc {
        Some(min) => {
            let raw = u16::from(min) * reg::ESS_MIN_SOC.scale;
            if gx.min_soc_raw != raw {
                out.writes.push(Write {
                    address: reg::ESS_MIN_SOC.address,
                    values: vec![raw],
                    summary: format!(
                        "ESS minimum SoC: {} % → {min} %",
                        format_tenths(gx.min_soc_raw)
                    ),
                });
            }
        }
        None => {
            let held = f64::from(gx.min_soc_raw) / 10.0;
            let floor = f64::from(config.schedule.maintenance_min_soc);
            if plan.phase == crate::plan::Phase::Maintenance && held > floor {
                out.warnings.push(format!(
                    "the GX's ESS minimum SoC is {held} % and schedule.reserve_soc is not set, so this tool leaves it alone: the GX will hold the battery above {held} % during maintenance, not the {floor} % of schedule.maintenance_min_soc; set reserve_soc to let the tool manage it, or lower it on the GX",
                    held = format_tenths(gx.min_soc_raw),
                    floor = config.schedule.maintenance_min_soc
                ));
            }
        }
    }

    // Mode last, so Dynamic ESS starts with the slot already in place.
    if gx.dess_mode != DESS_EXTERNAL {
        out.writes.push(Write {
            address: reg::DESS_MODE.address,
            values: vec![DESS_EXTERNAL],
            summary: format!(
                "Dynamic ESS mode: {} ({}) → 4 (external)",
                gx.dess_mode,
                crate::gx::dess_mode_name(gx.dess_mode)
            ),
        });
        if gx.dess_mode == DESS_AUTO {
            out.warnings.push(
                "taking Dynamic ESS over from VRM (gx.take_over_dess = true): VRM's own schedule stops, but the GX may still hold VRM's other slots (1 and up) and a TargetSoc that it prefers to slot 0's Soc, none of which Modbus can reach; check with `zcell-scheduler status --check` while the next window runs".to_string(),
            );
        }
    }
    Ok(out)
}

fn format_tenths(raw: u16) -> String {
    if raw % 10 == 0 {
        format!("{}", raw / 10)
    } else {
        format!("{:.1}", f64::from(raw) / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use crate::plan::{Phase, Stage};
    use chrono_tz::Australia::Hobart;

    fn config(extra: &str) -> Config {
        Config::parse(
            &format!(
                "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:1\"\n[gx]\nhost = \"127.0.0.1\"\n{extra}\n[schedule]\nreserve_soc = 30\n"
            ),
            &Overrides::default(),
        )
        .unwrap()
    }

    fn slot() -> Slot {
        let start = DateTime::<Utc>::from_timestamp(1_795_000_000, 0).unwrap();
        Slot {
            kind: WindowKind::Normal,
            window: "schedule.normal[0]".into(),
            start,
            end: start + chrono::TimeDelta::hours(6),
            soc: 100,
        }
    }

    fn plan(slot: Option<Slot>, min_soc: Option<u8>, phase: Phase) -> Plan {
        Plan {
            now: DateTime::<Utc>::from_timestamp(1_794_990_000, 0).unwrap(),
            stage: if phase == Phase::Normal {
                Stage::Normal
            } else {
                Stage::Approaching
            },
            phase,
            due: None,
            active: false,
            candidates: vec![],
            slot,
            min_soc,
            reasons: vec![],
        }
    }

    fn settings() -> GxSettings {
        GxSettings {
            ess_state: 10,
            min_soc_raw: 100,
            hub4_mode: 1,
            capacity_raw: 100,
            dess_mode: 4,
            slot: [0; 7],
        }
    }

    #[test]
    fn slot_words_are_big_endian_and_restricted() {
        let w = slot_words(Some(&slot()), true, Hobart, "gx").unwrap();
        assert_eq!(w[1], 21_600);
        assert_eq!(w[2], 1);
        assert_eq!(
            ((u32::from(w[4]) << 16) | u32::from(w[5])) as i64,
            1_795_000_000
        );
        assert_eq!(
            slot_words(Some(&slot()), false, Hobart, "gx").unwrap()[2],
            3
        );
        assert_eq!(
            slot_words(None, true, Hobart, "gx").unwrap(),
            [0, 0, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn writes_only_what_differs() {
        let c = config("");
        let p = plan(Some(slot()), Some(30), Phase::Normal);
        let first = plan_writes(&c, &p, &settings()).unwrap();
        let addresses: Vec<u16> = first.writes.iter().map(|w| w.address).collect();
        assert_eq!(addresses, vec![5424, 2901]);
        assert_eq!(first.writes[0].values.len(), 7);
        assert_eq!(first.writes[1].values, vec![300]);
        assert!(first.writes[1].summary.contains("10 % → 30 %"));

        let mut after = settings();
        after.slot.copy_from_slice(&first.writes[0].values);
        after.min_soc_raw = 300;
        assert_eq!(plan_writes(&c, &p, &after).unwrap().writes, vec![]);
    }

    #[test]
    fn clearing_an_empty_slot_writes_nothing() {
        let c = config("");
        let p = plan(None, Some(10), Phase::Normal);
        let mut s = settings();
        s.slot = [0, 0, 3, 50, 0, 0, 0];
        assert_eq!(plan_writes(&c, &p, &s).unwrap().writes, vec![]);
    }

    #[test]
    fn capacity_and_mode_are_set() {
        let c = config("");
        let mut s = settings();
        s.capacity_raw = 0;
        s.dess_mode = 0;
        let w = plan_writes(&c, &plan(None, Some(10), Phase::Normal), &s).unwrap();
        let addresses: Vec<u16> = w.writes.iter().map(|w| w.address).collect();
        assert_eq!(addresses, vec![5420, 5423]);
        assert_eq!(w.writes[1].values, vec![4]);
    }

    #[test]
    fn refuses_states_dynamic_ess_cannot_use() {
        let c = config("");
        let p = plan(None, None, Phase::Normal);
        let mut s = settings();
        s.ess_state = 9;
        assert!(matches!(
            plan_writes(&c, &p, &s),
            Err(GxError::KeepCharged { .. })
        ));
        let mut s = settings();
        s.hub4_mode = 3;
        assert!(matches!(
            plan_writes(&c, &p, &s),
            Err(GxError::ExternalControl { .. })
        ));
        let mut s = settings();
        s.dess_mode = 1;
        assert!(matches!(
            plan_writes(&c, &p, &s),
            Err(GxError::DessDrivenByVrm { .. })
        ));
        let taking = config("take_over_dess = true");
        let w = plan_writes(&taking, &p, &s).unwrap();
        assert_eq!(w.writes.last().unwrap().values, vec![4]);
        assert!(w.warnings[0].contains("TargetSoc"), "{:?}", w.warnings);
        assert!(w.warnings[0].contains("status --check"), "{:?}", w.warnings);
    }

    #[test]
    fn warns_when_an_unmanaged_minimum_would_block_maintenance() {
        let c = Config {
            schedule: crate::config::Schedule {
                reserve_soc: None,
                ..config("").schedule
            },
            ..config("")
        };
        let w = plan_writes(&c, &plan(None, None, Phase::Maintenance), &settings()).unwrap();
        assert_eq!(w.writes, vec![]);
        assert!(w.warnings[0].contains("reserve_soc"), "{:?}", w.warnings);
        // The value it is about: the GX's 10 %, not maintenance_min_soc's 0 %.
        assert!(
            w.warnings[0]
                .contains("will hold the battery above 10 % during maintenance, not the 0 %"),
            "{:?}",
            w.warnings
        );
        let w = plan_writes(&c, &plan(None, None, Phase::Normal), &settings()).unwrap();
        assert!(w.warnings.is_empty());
    }
}
