//! Whether the GX follows slot 0: a pure verdict from the slot registers, the GX's clock zone,
//! the instant, and what Dynamic ESS reports (registers 5400 active, 5404 error, 5407 the
//! target in force).
//!
//! The GX takes `/Settings/DynamicEss/Schedule/0/TargetSoc` over slot 0's Soc (5427) whenever
//! that TargetSoc is above 0, and TargetSoc is not on Modbus: a site that ran VRM's Dynamic ESS
//! can keep a stale one and aim for it instead. Only a read of 5407 while the slot is in force
//! shows it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock;
use crate::victron::{DessMode, Line, SlotRegs};

/// What Dynamic ESS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DessState {
    pub mode: u16,
    pub active: u16,
    pub error: u16,
    pub target_soc: u16,
}

/// The verdict, for the report and for `status --check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotCheck {
    /// Whether slot 0 is in force now, by the GX's own wall-clock rule.
    pub in_force: bool,
    /// `null` when no slot is in force.
    pub follows: Option<bool>,
    /// One sentence: what the GX does, and what to do if it is wrong.
    pub message: String,
}

impl SlotCheck {
    /// True when a slot is in force and the GX does not follow it.
    pub fn failed(&self) -> bool {
        self.follows == Some(false)
    }
}

/// Checks slot 0 (as read) against what Dynamic ESS reports at `now`, on the GX's
/// firmware `line` (what can make it aim elsewhere differs by line).
pub fn check(
    gx_tz: Tz,
    now: DateTime<Utc>,
    slot: &SlotRegs,
    dess: DessState,
    line: Line,
) -> SlotCheck {
    let in_force = slot.span(gx_tz).is_some_and(|(start, _)| {
        clock::gx_in_force(gx_tz, start, i64::from(slot.duration_s), now)
    });
    if !in_force {
        return SlotCheck {
            in_force,
            follows: None,
            message: "no slot in force now: the GX runs plain ESS, nothing to check".to_string(),
        };
    }
    let mode = DessMode::from_raw(dess.mode);
    let problem = if !mode.runs() {
        Some(match mode {
            DessMode::Stopped(m) => format!(
                "Dynamic ESS is in mode {m}, which the GX's control code treats as off, so slot 0 is ignored: set Dynamic ESS to Off on the GX, then run `apply`, which switches it to external (4)"
            ),
            _ => format!(
                "Dynamic ESS is in mode {} (not on), so slot 0 is ignored: run `apply`, which switches it to external (4)",
                dess.mode
            ),
        })
    } else if dess.error != 0 {
        Some(error_advice(dess.error, gx_tz))
    } else if dess.active != 1 {
        Some("Dynamic ESS reports itself inactive (5400 = 0) while slot 0 is in force: check Settings → ESS on the GX".to_string())
    } else if dess.target_soc != slot.soc {
        Some(target_advice(slot, dess.target_soc, line))
    } else {
        None
    };
    let problem = problem.map(|p| match (slot.is_drain(), line.global_restrictions()) {
        (true, Some(true) | None) => format!(
            "{p}; on Venus OS v3.50-v3.67 a global Restrictions setting VRM may have left behind (/Settings/DynamicEss/Restrictions, not on Modbus) also blocks a drain: clear it on the GX over SSH with `dbus -y com.victronenergy.settings /Settings/DynamicEss/Restrictions SetValue 0`"
        ),
        _ => p,
    });
    match problem {
        Some(message) => SlotCheck {
            in_force,
            follows: Some(false),
            message: format!("the GX does not follow slot 0: {message}"),
        },
        None => SlotCheck {
            in_force,
            follows: Some(true),
            message: format!(
                "the GX follows slot 0: Dynamic ESS active, no error, target {} %",
                slot.soc
            ),
        },
    }
}

/// Why the target in force (5407) may differ from slot 0's Soc, by firmware line.
fn target_advice(slot: &SlotRegs, target: u16, line: Line) -> String {
    let soc = slot.soc;
    let aims = format!("the GX aims for {target} % (5407), not slot 0's {soc} %");
    if slot.strategy != 0 {
        return format!(
            "{aims}: slot 0's Strategy is {} (not target SoC), most likely left behind by VRM: run `apply`, which sets it to 0",
            slot.strategy
        );
    }
    let stale = "a TargetSoc left behind by VRM's Dynamic ESS (/Settings/DynamicEss/Schedule/0/TargetSoc), which the GX prefers to slot 0's Soc and which Modbus cannot reach; clear it on the GX over SSH with `dbus -y com.victronenergy.settings /Settings/DynamicEss/Schedule/0/TargetSoc SetValue 0`";
    match line.target_soc_overrides() {
        Some(true) if soc == 0 => format!(
            "{aims}: from Venus OS v3.70 a Soc of 0 % is no target, and the GX runs self-consumption instead"
        ),
        Some(true) => format!("{aims}: most likely {stale}"),
        Some(false) => format!(
            "{aims}: this firmware line takes 5427 as the target, so another controller (VRM, Node-RED) may be writing the schedule: check Settings → ESS → Dynamic ESS on the GX"
        ),
        None => format!(
            "{aims}: on Venus OS v3.70 and later most likely {stale}; on older firmware another controller (VRM, Node-RED) may be writing the schedule"
        ),
    }
}

/// A Dynamic ESS error code (5404) while slot 0 is in force, with what to do.
fn error_advice(error: u16, gx_tz: Tz) -> String {
    match error {
        1 => "Dynamic ESS reports no ESS (error 1): set up ESS on the GX (Settings → ESS)".to_string(),
        2 => "Dynamic ESS cannot run in this ESS mode (error 2): set Settings → ESS → Mode to \"Optimized\"".to_string(),
        3 => format!(
            "Dynamic ESS finds no slot in force (error 3) although slot 0 covers now on a {} clock: check the GX's date and time (Settings → System → Date/Time), and that gx.timezone is its Settings → System → Time zone",
            gx_tz.name()
        ),
        4 => "Dynamic ESS reports the battery SoC low or unknown (error 4): check the battery's connection to the GX".to_string(),
        5 => "Dynamic ESS has no battery capacity (error 5): run `apply`, which writes it".to_string(),
        other => format!("Dynamic ESS reports error {other}: see the GX's Dynamic ESS page"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Australia::Hobart;

    fn slot(start: DateTime<Utc>, duration: u16, soc: u16) -> SlotRegs {
        SlotRegs {
            feed_in: 0,
            duration_s: duration,
            restrictions: 1,
            soc,
            start: start.timestamp(),
            strategy: 0,
        }
    }

    fn following(soc: u16) -> DessState {
        DessState {
            mode: 4,
            active: 1,
            error: 0,
            target_soc: soc,
        }
    }

    #[test]
    fn verdicts() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let hour = chrono::TimeDelta::hours(1);
        let s = slot(now - hour, 7200, 80);
        let c = check(Hobart, now, &s, following(80), Line::V370);
        assert_eq!((c.in_force, c.follows), (true, Some(true)), "{}", c.message);
        let c = check(Hobart, now, &s, following(100), Line::V370);
        assert!(
            c.failed() && c.message.contains("TargetSoc"),
            "{}",
            c.message
        );
        for (dess, needle) in [
            (
                DessState {
                    error: 5,
                    ..following(80)
                },
                "error 5",
            ),
            (
                DessState {
                    error: 3,
                    ..following(80)
                },
                "gx.timezone",
            ),
            (
                DessState {
                    mode: 0,
                    ..following(80)
                },
                "mode 0",
            ),
            (
                DessState {
                    active: 0,
                    ..following(80)
                },
                "inactive",
            ),
        ] {
            let c = check(Hobart, now, &s, dess, Line::V370);
            assert!(c.failed() && c.message.contains(needle), "{}", c.message);
        }
        // Not in force: before it, after it, or empty.
        for s in [
            slot(now + hour, 7200, 80),
            slot(now - hour * 3, 7200, 80),
            SlotRegs::default(),
        ] {
            let c = check(Hobart, now, &s, following(0), Line::V370);
            assert_eq!((c.in_force, c.follows), (false, None), "{s:?}");
            assert!(!c.failed());
        }
    }

    #[test]
    fn the_firmware_line_decides_what_is_named() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let s = slot(now - chrono::TimeDelta::hours(1), 7200, 80);
        // A stale TargetSoc overrides 5427 only from v3.70.
        let c = check(Hobart, now, &s, following(100), Line::V360);
        assert!(
            c.failed() && !c.message.contains("TargetSoc"),
            "{}",
            c.message
        );
        let c = check(Hobart, now, &s, following(100), Line::Unknown);
        assert!(c.message.contains("v3.70 and later"), "{}", c.message);
        // A Strategy VRM left behind is named on any line.
        let vrm = SlotRegs { strategy: 1, ..s };
        let c = check(Hobart, now, &vrm, following(0), Line::V360);
        assert!(c.message.contains("Strategy is 1"), "{}", c.message);
        // A drain slot not followed on v3.50-3.67: the global Restrictions VRM may leave.
        let drain = SlotRegs {
            feed_in: 1,
            restrictions: 2,
            soc: 1,
            ..s
        };
        let c = check(Hobart, now, &drain, following(10), Line::V350);
        assert!(
            c.message.contains("/Settings/DynamicEss/Restrictions"),
            "{}",
            c.message
        );
        let c = check(Hobart, now, &drain, following(10), Line::V370);
        assert!(
            !c.message.contains("/Settings/DynamicEss/Restrictions"),
            "{}",
            c.message
        );
        // Mode 3: off to the control code, with how to turn it on.
        let c = check(
            Hobart,
            now,
            &s,
            DessState {
                mode: 3,
                ..following(80)
            },
            Line::V370,
        );
        assert!(c.message.contains("treats as off"), "{}", c.message);
    }
}
