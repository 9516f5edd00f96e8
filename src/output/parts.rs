//! The report parts more than one command shows, each with its text: the BMS's batteries,
//! dated slots, slot 0 and the GX settings as read, the drain forecast, and a register write.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms::BmsError;
use crate::output::long_local;
use crate::plan::{Slot, WindowKind, span};
use crate::redflow::BmsReading;
use crate::registers::Write;
use crate::serial::{rfc3339, rfc3339_opt};
use crate::victron::GxSettings;
use crate::victron::{SlotMap, SlotRegs};
use crate::writes::{Piece, describe_slot};

// ---------------------------------------------------------------- the BMS

#[derive(Debug, Clone, Serialize)]
pub struct BatteryDoc {
    pub battery: usize,
    pub state_of_charge: f64,
    pub is_stripping: bool,
    pub due_in_s: i64,
    #[serde(serialize_with = "rfc3339")]
    pub due: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub due_local: DateTime<Tz>,
}

/// The BMS as a run found it: `batteries` is empty when it failed.
#[derive(Debug, Clone, Serialize)]
pub struct BmsPart {
    pub ok: bool,
    pub error: Option<String>,
    pub batteries: Vec<BatteryDoc>,
}

impl BmsPart {
    pub fn new(tz: Tz, now: DateTime<Utc>, bms: &Result<BmsReading, BmsError>) -> BmsPart {
        match bms {
            Ok(r) => BmsPart {
                ok: true,
                error: None,
                batteries: r
                    .batteries
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let due = b.due(now);
                        BatteryDoc {
                            battery: i + 1,
                            state_of_charge: b.state_of_charge,
                            is_stripping: b.is_stripping,
                            due_in_s: b.due_in_s(),
                            due,
                            due_local: due.with_timezone(&tz),
                        }
                    })
                    .collect(),
            },
            Err(e) => BmsPart {
                ok: false,
                error: Some(e.to_string()),
                batteries: Vec::new(),
            },
        }
    }
}

/// A span of time in UTC and in the configured zone.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LocalSpan {
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub end: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub start_local: DateTime<Tz>,
    #[serde(serialize_with = "rfc3339")]
    pub end_local: DateTime<Tz>,
}

impl LocalSpan {
    pub fn new(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> LocalSpan {
        LocalSpan {
            start,
            end,
            start_local: start.with_timezone(&tz),
            end_local: end.with_timezone(&tz),
        }
    }
}

/// A dated charge window, as the slot or as a candidate.
#[derive(Debug, Clone, Serialize)]
pub struct SlotDoc {
    pub kind: WindowKind,
    pub window: String,
    #[serde(flatten)]
    pub span: LocalSpan,
    /// The window's length on the GX's wall clock (what slot 0 holds is `slot_part`).
    pub duration_s: i64,
    /// The seconds that really elapse (an hour more or less on a daylight-saving night).
    pub elapsed_s: i64,
    pub soc: u8,
}

impl SlotDoc {
    pub fn new(tz: Tz, gx_tz: Tz, s: &Slot) -> SlotDoc {
        SlotDoc {
            kind: s.kind,
            window: s.window.clone(),
            span: LocalSpan::new(tz, s.start, s.end),
            duration_s: crate::clock::gx_wall_seconds(gx_tz, s.start, s.end),
            elapsed_s: s.duration_s(),
            soc: s.soc,
        }
    }
}

/// The part of the plan's slot that slot 0 holds now.
#[derive(Debug, Clone, Serialize)]
pub struct SlotPartDoc {
    #[serde(flatten)]
    pub span: LocalSpan,
    /// What slot 0's Duration holds.
    pub duration_s: i64,
    /// Whether it is the whole window.
    pub whole: bool,
}

impl SlotPartDoc {
    pub fn new(tz: Tz, p: &Piece) -> SlotPartDoc {
        SlotPartDoc {
            span: LocalSpan::new(tz, p.start, p.end),
            duration_s: (p.end - p.start).num_seconds(),
            whole: p.whole,
        }
    }
}

/// Slot 0 as the GX holds it, decoded on the GX's wall clock: where it starts and where the
/// GX will stop it, in local time.
#[derive(Debug, Clone, Serialize)]
pub struct SlotRegisters {
    /// 5424-5430 in the new map's order (Strategy last), whichever map the GX has.
    pub registers: [u16; 7],
    /// RFC 3339 UTC; `null` for an empty slot.
    #[serde(serialize_with = "rfc3339_opt")]
    pub start: Option<DateTime<Utc>>,
    /// The Start register as unix seconds.
    pub start_unix: i64,
    #[serde(serialize_with = "rfc3339_opt")]
    pub start_local: Option<DateTime<Tz>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub end_local: Option<DateTime<Tz>>,
    pub duration_s: u16,
    pub soc: u16,
    pub restrictions: u16,
    pub strategy: u16,
    pub text: String,
}

impl SlotRegisters {
    pub fn new(tz: Tz, gx_tz: Tz, slot: &SlotRegs) -> SlotRegisters {
        let span = slot.span(gx_tz);
        SlotRegisters {
            registers: slot.words(),
            start: span.map(|(s, _)| s),
            start_unix: slot.start,
            start_local: span.map(|(s, _)| s.with_timezone(&tz)),
            end_local: span.map(|(_, e)| e.with_timezone(&tz)),
            duration_s: slot.duration_s,
            soc: slot.soc,
            restrictions: slot.restrictions,
            strategy: slot.strategy,
            text: describe_slot(slot, tz, gx_tz),
        }
    }
}

/// What `apply` decides on, as the GX held it before the run.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsDoc {
    /// Which register map serves slot 0 on this GX.
    pub slot_map: SlotMap,
    pub ess_state: u16,
    pub ess_min_soc: f64,
    pub hub4_mode: u16,
    pub battery_capacity_kwh: f64,
    pub dess_mode: u16,
    pub slot: SlotRegisters,
}

impl SettingsDoc {
    pub fn new(tz: Tz, gx_tz: Tz, s: &GxSettings) -> SettingsDoc {
        SettingsDoc {
            slot_map: s.map,
            ess_state: s.ess_state.0,
            ess_min_soc: s.min_soc_percent(),
            hub4_mode: s.hub4_mode.0,
            battery_capacity_kwh: s.capacity_kwh(),
            dess_mode: s.dess_mode,
            slot: SlotRegisters::new(tz, gx_tz, &s.slot),
        }
    }
}

pub fn bms_text(tz: Tz, now: DateTime<Utc>, bms: &BmsPart, failed: &str) -> String {
    match &bms.error {
        Some(e) => format!("  {failed}: {e}\n"),
        None => bms
            .batteries
            .iter()
            .map(|b| battery_text(tz, now, b))
            .collect(),
    }
}

pub fn battery_text(tz: Tz, now: DateTime<Utc>, b: &BatteryDoc) -> String {
    let when = if b.due_in_s >= 0 {
        format!("due {} (in {})", long_local(tz, b.due), span(b.due - now))
    } else {
        format!(
            "overdue since {} ({})",
            long_local(tz, b.due),
            span(now - b.due)
        )
    };
    format!(
        "  battery {}: SoC {:.1} %, {}, maintenance {when}\n",
        b.battery,
        b.state_of_charge,
        if b.is_stripping {
            "maintenance cycle running"
        } else {
            "not stripping"
        }
    )
}

/// `FC06 2901 = 300` or `FC16 5424-5430 = [...]`.
pub fn write_text(w: &Write) -> String {
    if w.values.len() == 1 {
        format!("FC06 {} = {}", w.address, w.values[0])
    } else {
        let values: Vec<String> = w.values.iter().map(u16::to_string).collect();
        format!(
            "FC16 {}-{} = [{}]",
            w.address,
            w.address + w.values.len() as u16 - 1,
            values.join(", ")
        )
    }
}
