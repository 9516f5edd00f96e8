//! The charger and the ev-kick record as `status` and `ev-kick` both show them.

use chrono_tz::Tz;
use serde::Serialize;

use crate::ev::codec;
use crate::ev::codec::Charger;
use crate::ev::rules::{self, Record};
use crate::ev::state::Loaded;
use crate::output::long_local;

/// The charger's registers, decoded.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChargerDoc {
    #[serde(flatten)]
    pub registers: Charger,
    pub mode_name: &'static str,
    pub status_name: &'static str,
}

/// The charger, where it was reached, or why it was not read.
#[derive(Debug, Clone, Serialize)]
pub struct ChargerPart {
    pub ok: bool,
    pub error: Option<String>,
    pub at: String,
    #[serde(flatten)]
    pub charger: Option<ChargerDoc>,
}

impl ChargerPart {
    /// `reading` is `None` when the charger was not read because the GX connection failed.
    pub fn new<E: ToString>(at: &str, reading: Option<Result<Charger, &E>>) -> ChargerPart {
        let (charger, error) = match reading {
            Some(Ok(c)) => (
                Some(ChargerDoc {
                    registers: c,
                    mode_name: codec::mode_name(c.mode),
                    status_name: codec::status_name(c.status),
                }),
                None,
            ),
            Some(Err(e)) => (None, Some(e.to_string())),
            None => (None, Some("not read: the GX connection failed".to_string())),
        };
        ChargerPart {
            ok: charger.is_some(),
            error,
            at: at.to_string(),
            charger,
        }
    }
}

/// The charger and the ev-kick record, in `status` when `[ev]` is enabled.
#[derive(Debug, Clone, Serialize)]
pub struct EvStatus {
    #[serde(flatten)]
    pub charger: ChargerPart,
    pub ev_kick: Option<Record>,
    pub ev_kick_problem: Option<String>,
}

impl EvStatus {
    pub fn new(charger: ChargerPart, loaded: &Loaded) -> EvStatus {
        EvStatus {
            charger,
            ev_kick: loaded.record().cloned(),
            ev_kick_problem: match loaded {
                Loaded::Corrupt(p) => Some(p.clone()),
                _ => None,
            },
        }
    }
}

/// The charger in one line: `auto mode, stopped, status 1 (connected), set current 16 A …`.
pub fn charger_text(c: &Charger) -> String {
    format!(
        "{} mode, {}, status {} ({}), set current {} A (max {} A), {} W",
        codec::mode_name(c.mode),
        if c.start_stop == codec::START {
            "started"
        } else {
            "stopped"
        },
        c.status,
        codec::status_name(c.status),
        c.set_current_a,
        c.max_current_a,
        c.power_w
    )
}

pub fn charger_part_text(part: &ChargerPart) -> String {
    match (&part.charger, &part.error) {
        (Some(c), _) => charger_text(&c.registers),
        (None, Some(e)) if e.starts_with("not read") => e.clone(),
        (None, e) => format!(
            "unreachable or refusing: {}",
            e.as_deref().unwrap_or_default()
        ),
    }
}

pub fn record_text(tz: Tz, r: Option<&Record>) -> String {
    match r {
        None => "no kick recorded".to_string(),
        Some(Record::Kicking {
            started_at,
            previous_mode,
            previous_current_a,
            current_a,
            previous_start_stop,
        }) => format!(
            "kicking at {current_a} A since {} (before: {} mode, {previous_current_a} A{})",
            long_local(tz, *started_at),
            codec::mode_name(*previous_mode),
            match previous_start_stop {
                Some(codec::STOP) => ", stopped",
                Some(_) => ", started",
                None => "",
            }
        ),
        Some(Record::Unsettled {
            since,
            previous_mode,
            previous_current_a,
            ..
        }) => format!(
            "a start at {} did not read back: the next run puts the charger back ({} mode, {previous_current_a} A)",
            long_local(tz, *since),
            codec::mode_name(*previous_mode)
        ),
        Some(Record::StoodDown { since, reason }) => {
            format!("standing down since {} ({reason})", long_local(tz, *since))
        }
        Some(Record::BackedOff { since, reason }) => format!(
            "kick stopped at {} ({reason}); no new kick before {}",
            long_local(tz, *since),
            long_local(tz, *since + rules::RETRY_AFTER)
        ),
    }
}
