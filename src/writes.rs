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
use crate::exit_codes::{Exit, HasExit};
use crate::plan::{Plan, Slot, WindowKind, local_span};
use crate::registers as reg;
use crate::registers::Write;
use crate::victron::GxSettings;
use crate::victron::{
    self, DessMode, RESTRICT_BATTERY_TO_GRID, RESTRICT_GRID_TO_BATTERY, STRATEGY_TARGET_SOC,
    SlotRegs,
};

/// The writes, plus anything the owner should know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WritePlan {
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
}

/// Why the GX, as read, cannot be scheduled, or a plan cannot be held by slot 0. The run
/// writes nothing and exits 4.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "GX {address}: Dynamic ESS mode (register 5423) is {mode}, which the GX's control code treats as off, and switching from it straight to external (4) leaves it off: set Settings → ESS → Dynamic ESS → Mode to Off on the GX (or write 0 to 5423), then run apply again, which switches it to external (4)"
    )]
    DessStopped { address: String, mode: u16 },
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
}

impl HasExit for Refusal {
    fn exit(&self) -> Exit {
        Exit::Device
    }
}

/// The part of the plan's slot the GX should hold now (see [`clock::gx_piece`]), and slot 0's
/// registers for it, or the cleared slot. A piece never crosses a daylight-saving transition
/// of `gx.timezone`, so it is right whether the GX compares slots on its wall clock (every
/// released line) or in elapsed time (as the v3.80 service may).
pub fn slot_regs(
    config: &Config,
    slot: Option<&Slot>,
    now: DateTime<Utc>,
) -> Result<(SlotRegs, Option<Piece>), Refusal> {
    let gx_tz = config.gx.timezone;
    let charge_restrictions = RESTRICT_BATTERY_TO_GRID
        | if config.schedule.grid_charge {
            0
        } else {
            RESTRICT_GRID_TO_BATTERY
        };
    let piece = slot.and_then(|s| {
        clock::gx_piece(gx_tz, config.timezone, s.start, s.end, now).map(|(start, end)| Piece {
            start,
            end,
            whole: start == s.start && end == s.end,
        })
    });
    let (Some(slot), Some(piece)) = (slot, piece) else {
        return Ok((SlotRegs::cleared(charge_restrictions), None));
    };
    let address = config.gx_address();
    // A drain slot: battery → grid allowed and fed in; grid → battery blocked.
    let (feed_in, restrictions) = match slot.kind {
        WindowKind::Drain => (1, RESTRICT_GRID_TO_BATTERY),
        _ => (0, charge_restrictions),
    };
    let start = piece.start.timestamp();
    i32::try_from(start).map_err(|_| Refusal::StartOutOfRange {
        address: address.clone(),
        start,
    })?;
    // The elapsed time: a piece crosses no transition, so the GX's wall clock counts the same
    // (a piece that ends where the clocks go back is replaced by the run at that moment).
    let wall = (piece.end - piece.start).num_seconds();
    let duration_s = u16::try_from(wall)
        .ok()
        .filter(|d| *d > 0)
        .ok_or(Refusal::SlotTooLong {
            address,
            seconds: wall,
        })?;
    let regs = SlotRegs {
        feed_in,
        duration_s,
        restrictions,
        soc: u16::from(slot.soc),
        start,
        strategy: STRATEGY_TARGET_SOC,
    };
    Ok((regs, Some(piece)))
}

/// The part of a window one slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether it is the whole window.
    pub whole: bool,
}

/// Describes a slot as read from the GX, in local time, as the GX will hold it.
pub fn describe_slot(slot: &SlotRegs, tz: Tz, gx_tz: Tz) -> String {
    match slot.span(gx_tz) {
        Some((start, end)) => format!("{} to {} %", local_span(tz, start, end), slot.soc),
        None => "empty".to_string(),
    }
}

/// Refuses a GX state Dynamic ESS cannot work in, before anything is written.
pub fn check(config: &Config, gx: &GxSettings) -> Result<(), Refusal> {
    let address = config.gx_address();
    if gx.ess_state.keep_charged() {
        return Err(Refusal::KeepCharged { address });
    }
    if gx.hub4_mode.external_control() {
        return Err(Refusal::ExternalControl { address });
    }
    match DessMode::from_raw(gx.dess_mode) {
        DessMode::Off | DessMode::External => Ok(()),
        DessMode::Auto if config.gx.take_over_dess => Ok(()),
        DessMode::Auto => Err(Refusal::DessDrivenByVrm { address }),
        DessMode::Stopped(mode) => Err(Refusal::DessStopped { address, mode }),
        DessMode::Unknown(mode) => Err(Refusal::DessUnknownMode { address, mode }),
    }
}

/// What the owner must change for maintenance to complete, whatever the plan: BatteryLife
/// holds the battery at its own limit.
pub fn battery_life_warning(gx: &GxSettings) -> Option<String> {
    gx.ess_state.battery_life().then(|| {
        format!(
            "ESS is in \"Optimized (with BatteryLife)\" (register 2900 = {}): BatteryLife keeps the battery above its own limit ({} now), so the ZCell can never empty for its maintenance; set Settings → ESS → Mode to \"Optimized (without BatteryLife)\" on the GX",
            gx.ess_state.0,
            reg::ESS_SOC_LIMIT.describe(i64::from(gx.soc_limit_raw))
        )
    })
}

/// The writes that make the GX hold `plan`, given what it holds now and the owner's own
/// minimum SoC to put back where the plan leaves 2901 to the owner (see `handback`).
pub fn plan_writes(
    config: &Config,
    plan: &Plan,
    gx: &GxSettings,
    owner_min_soc: Option<u16>,
) -> Result<WritePlan, Refusal> {
    check(config, gx)?;
    let mut out = WritePlan::default();
    out.warnings.extend(battery_life_warning(gx));
    capacity_write(config, gx, &mut out);
    slot_write(config, plan, gx, &mut out)?;
    min_soc_write(plan, gx, owner_min_soc, &mut out);
    mode_write(gx, &mut out);
    Ok(out)
}

/// Capacity first: Dynamic ESS refuses to run without it (error 5).
fn capacity_write(config: &Config, gx: &GxSettings, out: &mut WritePlan) {
    let r = reg::DESS_CAPACITY;
    let Some(capacity) = r.raw16(config.schedule.battery_capacity_kwh) else {
        return;
    };
    if gx.capacity_raw != capacity {
        out.writes.push(Write {
            address: r.address,
            values: vec![capacity],
            summary: format!(
                "Dynamic ESS battery capacity: {} → {}",
                r.describe(i64::from(gx.capacity_raw)),
                r.describe(i64::from(capacity))
            ),
        });
    }
}

fn slot_write(
    config: &Config,
    plan: &Plan,
    gx: &GxSettings,
    out: &mut WritePlan,
) -> Result<(), Refusal> {
    let (tz, gx_tz) = (config.timezone, config.gx.timezone);
    let (wanted, piece) = slot_regs(config, plan.slot.as_ref(), plan.now)?;
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
    if gx.slot.holds(&wanted) {
        return Ok(());
    }
    let what = match (&plan.slot, piece) {
        (Some(s), Some(p)) => {
            let kind = if s.kind == WindowKind::Drain {
                format!("drain to {} %, exporting ([drain] export)", s.soc)
            } else {
                format!(
                    "charge to {} % ({}{})",
                    s.soc,
                    s.window,
                    if config.schedule.grid_charge {
                        ""
                    } else {
                        ", solar only"
                    }
                )
            };
            let part = if p.whole {
                String::new()
            } else {
                format!(
                    "; this slot holds {} of it, up to a daylight-saving change or the longest one slot holds, and a later run writes the rest",
                    local_span(tz, p.start, p.end)
                )
            };
            format!("{} {kind}{part}", local_span(tz, s.start, s.end))
        }
        _ => "cleared".to_string(),
    };
    let summary = format!("slot 0: {} → {what}", describe_slot(&gx.slot, tz, gx_tz));
    out.writes
        .extend(victron::slot_writes(gx.map, &gx.slot, &wanted, summary));
    Ok(())
}

fn min_soc_write(plan: &Plan, gx: &GxSettings, owner: Option<u16>, out: &mut WritePlan) {
    let r = reg::ESS_MIN_SOC;
    let (raw, whose) = match plan.min_soc.and_then(|min| r.raw16(f64::from(min))) {
        Some(raw) => (raw, ""),
        None => match owner {
            Some(raw) => (raw, " (yours, put back)"),
            None => return,
        },
    };
    if gx.min_soc_raw != raw {
        out.writes.push(Write {
            address: r.address,
            values: vec![raw],
            summary: format!(
                "ESS minimum SoC: {} % → {} %{whose}",
                format_tenths(gx.min_soc_raw),
                format_tenths(raw)
            ),
        });
    }
}

/// Mode last, so Dynamic ESS starts with the slot already in place.
fn mode_write(gx: &GxSettings, out: &mut WritePlan) {
    let mode = DessMode::from_raw(gx.dess_mode);
    if mode == DessMode::External {
        return;
    }
    out.writes.push(Write {
        address: reg::DESS_MODE.address,
        values: vec![DessMode::EXTERNAL],
        summary: format!(
            "Dynamic ESS mode: {} ({}) → 4 (external)",
            gx.dess_mode,
            mode.name()
        ),
    });
    if mode == DessMode::Auto {
        out.warnings.push(
            "taking Dynamic ESS over from VRM (gx.take_over_dess = true): VRM's own schedule stops, but the GX may still hold VRM's other slots (1 and up) and a TargetSoc that it prefers to slot 0's Soc, none of which Modbus can reach; check with `zcell-scheduler status --check` while the next window runs".to_string(),
        );
    }
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
    use crate::victron::{EssState, Hub4Mode, SlotMap};
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
        crate::testing::gx_settings()
    }

    fn hobart_config(extra: &str) -> Config {
        config(extra)
    }

    #[test]
    fn slot_registers_are_restricted_by_grid_charge() {
        let c = config("");
        let (r, piece) = slot_regs(&c, Some(&slot()), plan(None, None, Phase::Normal).now).unwrap();
        assert_eq!(
            (r.duration_s, r.restrictions, r.start),
            (21_600, 1, 1_795_000_000)
        );
        assert!(piece.unwrap().whole);
        let solar = Config {
            schedule: crate::config::Schedule {
                grid_charge: false,
                ..c.schedule.clone()
            },
            ..c.clone()
        };
        let now = plan(None, None, Phase::Normal).now;
        assert_eq!(
            slot_regs(&solar, Some(&slot()), now)
                .unwrap()
                .0
                .restrictions,
            3
        );
        assert_eq!(
            slot_regs(&c, None, now).unwrap(),
            (SlotRegs::cleared(1), None)
        );
    }

    #[test]
    fn writes_only_what_differs() {
        let c = config("");
        let p = plan(Some(slot()), Some(30), Phase::Normal);
        let first = plan_writes(&c, &p, &settings(), None).unwrap();
        let addresses: Vec<u16> = first.writes.iter().map(|w| w.address).collect();
        assert_eq!(addresses, vec![5424, 2901]);
        assert_eq!(first.writes[0].values.len(), 7);
        assert_eq!(first.writes[1].values, vec![300]);
        assert!(first.writes[1].summary.contains("10 % → 30 %"));

        let mut after = settings();
        let v = &first.writes[0].values;
        after.slot = crate::victron::decode_slot(&v[..6], v[6]).unwrap();
        after.min_soc_raw = 300;
        assert_eq!(plan_writes(&c, &p, &after, None).unwrap().writes, vec![]);
    }

    #[test]
    fn clearing_an_empty_slot_writes_nothing() {
        let c = config("");
        let p = plan(None, Some(10), Phase::Normal);
        let mut s = settings();
        s.slot = SlotRegs {
            restrictions: 3,
            soc: 50,
            ..SlotRegs::default()
        };
        assert_eq!(plan_writes(&c, &p, &s, None).unwrap().writes, vec![]);
    }

    #[test]
    fn capacity_and_mode_are_set() {
        let c = config("");
        let mut s = settings();
        s.capacity_raw = 0;
        s.dess_mode = 0;
        let w = plan_writes(&c, &plan(None, Some(10), Phase::Normal), &s, None).unwrap();
        let addresses: Vec<u16> = w.writes.iter().map(|w| w.address).collect();
        assert_eq!(addresses, vec![5420, 5423]);
        assert_eq!(w.writes[1].values, vec![4]);
    }

    #[test]
    fn refuses_states_dynamic_ess_cannot_use() {
        let c = config("");
        let p = plan(None, None, Phase::Normal);
        let mut s = settings();
        s.ess_state = EssState(9);
        assert!(matches!(
            plan_writes(&c, &p, &s, None),
            Err(Refusal::KeepCharged { .. })
        ));
        let mut s = settings();
        s.hub4_mode = Hub4Mode(3);
        assert!(matches!(
            plan_writes(&c, &p, &s, None),
            Err(Refusal::ExternalControl { .. })
        ));
        let mut s = settings();
        s.dess_mode = 1;
        assert!(matches!(
            plan_writes(&c, &p, &s, None),
            Err(Refusal::DessDrivenByVrm { .. })
        ));
        let taking = config("take_over_dess = true");
        let w = plan_writes(&taking, &p, &s, None).unwrap();
        assert_eq!(w.writes.last().unwrap().values, vec![4]);
        assert!(w.warnings[0].contains("TargetSoc"), "{:?}", w.warnings);
        assert!(w.warnings[0].contains("status --check"), "{:?}", w.warnings);
        // Modes 2 and 3: off to the GX's control code, and 3 → 4 would leave it off.
        for mode in [2, 3] {
            let mut s = settings();
            s.dess_mode = mode;
            let e = plan_writes(&c, &p, &s, None).unwrap_err();
            assert!(matches!(e, Refusal::DessStopped { .. }), "{e}");
            assert!(e.to_string().contains("Mode to Off"), "{e}");
        }
    }

    #[test]
    fn the_old_map_writes_six_registers_and_strategy_only_when_it_differs() {
        let c = config("");
        let p = plan(Some(slot()), Some(10), Phase::Normal);
        let mut s = settings();
        s.map = SlotMap::Old;
        let w = plan_writes(&c, &p, &s, None).unwrap();
        assert_eq!(w.writes.len(), 1);
        assert_eq!((w.writes[0].address, w.writes[0].values.len()), (5424, 6));
        s.slot.strategy = 1;
        let w = plan_writes(&c, &p, &s, None).unwrap();
        let sent: Vec<(u16, usize)> = w
            .writes
            .iter()
            .map(|w| (w.address, w.values.len()))
            .collect();
        assert_eq!(sent, vec![(5424, 6), (5429, 1)]);
        assert_eq!(w.writes[1].values, vec![0]);
        // On the new map a VRM Strategy is rewritten with the slot, never by an FC06 to 5429.
        s.map = SlotMap::New;
        let w = plan_writes(&c, &p, &s, None).unwrap();
        assert!(w.writes.iter().all(|w| w.address != 5429), "{:?}", w.writes);
    }

    #[test]
    fn battery_life_is_named_with_its_fix() {
        let c = config("");
        let mut s = settings();
        s.ess_state = EssState(2);
        s.soc_limit_raw = 100;
        let w = plan_writes(&c, &plan(None, Some(10), Phase::Normal), &s, None).unwrap();
        assert!(
            w.warnings.iter().any(|w| w.contains("2900 = 2")
                && w.contains("10.0 %")
                && w.contains("without BatteryLife")),
            "{:?}",
            w.warnings
        );
        assert!(battery_life_warning(&settings()).is_none());
    }

    /// The piece of a window written at `now` (Hobart wall clock), as local start and end.
    fn piece_at(window: (DateTime<Utc>, DateTime<Utc>), now: DateTime<Utc>) -> (String, String) {
        let c = hobart_config("");
        let s = Slot {
            kind: WindowKind::Normal,
            window: "w".into(),
            start: window.0,
            end: window.1,
            soc: 100,
        };
        let (regs, piece) = slot_regs(&c, Some(&s), now).unwrap();
        let p = piece.unwrap();
        assert_eq!(i64::from(regs.duration_s), (p.end - p.start).num_seconds());
        let f = |t: DateTime<Utc>| t.with_timezone(&Hobart).format("%d %H:%M %:z").to_string();
        (f(p.start), f(p.end))
    }

    #[test]
    fn a_slot_never_crosses_a_daylight_saving_change() {
        use crate::testing::hobart;
        // Clocks go back 03:00 → 02:00 on Sun 5 Apr 2026.
        let back = (hobart(2026, 4, 4, 21, 0), hobart(2026, 4, 5, 7, 0));
        let first = piece_at(back, hobart(2026, 4, 4, 7, 0));
        assert_eq!(first, ("04 21:00 +11:00".into(), "05 02:00 +10:00".into()));
        // The run after the change writes the rest.
        let after = hobart(2026, 4, 4, 21, 0) + chrono::TimeDelta::hours(6);
        assert_eq!(
            piece_at(back, after),
            ("05 02:00 +10:00".into(), "05 07:00 +10:00".into())
        );
        // Clocks go forward 02:00 → 03:00 on Sun 4 Oct 2026.
        let forward = (hobart(2026, 10, 3, 21, 0), hobart(2026, 10, 4, 7, 0));
        let first = piece_at(forward, hobart(2026, 10, 3, 7, 0));
        assert_eq!(first, ("03 21:00 +10:00".into(), "04 03:00 +11:00".into()));
        let after = hobart(2026, 10, 4, 3, 0);
        assert_eq!(
            piece_at(forward, after),
            ("04 03:00 +11:00".into(), "04 07:00 +11:00".into())
        );
    }

    #[test]
    fn a_window_longer_than_one_slot_is_written_in_parts_that_end_on_the_hour() {
        use crate::testing::hobart;
        let long = (hobart(2026, 6, 1, 21, 30), hobart(2026, 6, 3, 7, 0));
        let first = piece_at(long, hobart(2026, 6, 1, 21, 0));
        // 65 535 s from 21:30 is 15:42:15 the next day: cut at 15:00.
        assert_eq!(first, ("01 21:30 +10:00".into(), "02 15:00 +10:00".into()));
        let second = piece_at(long, hobart(2026, 6, 2, 15, 0));
        assert_eq!(second, ("02 15:00 +10:00".into(), "03 07:00 +10:00".into()));
    }

    #[test]
    fn the_owners_minimum_is_put_back_where_the_plan_leaves_it_to_them() {
        let c = config("");
        let mut now = settings();
        now.min_soc_raw = 0;
        let w = plan_writes(&c, &plan(None, None, Phase::Normal), &now, Some(100)).unwrap();
        assert_eq!(w.writes.len(), 1);
        assert_eq!(w.writes[0].values, vec![100]);
        assert!(
            w.writes[0].summary.contains("(yours, put back)"),
            "{:?}",
            w.writes
        );
        // Nothing to put back: 2901 untouched.
        let w = plan_writes(&c, &plan(None, None, Phase::Normal), &now, None).unwrap();
        assert_eq!(w.writes, vec![]);
        // The plan's own minimum wins over the owner's.
        let w = plan_writes(
            &c,
            &plan(None, Some(0), Phase::Maintenance),
            &now,
            Some(100),
        )
        .unwrap();
        assert_eq!(w.writes, vec![]);
    }
}
