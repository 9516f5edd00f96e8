//! The Redflow BMS codec: its status document (`/rest/1.0/status`), decoded strictly into a
//! reading. It alone knows the document's fields and their plausible ranges; the HTTP client
//! in `bms` fetches the bytes.
//!
//! The answer decides whether the battery may be held charged, so anything doubtful is an
//! error: a missing `list`, a battery without its state of charge, stripping flag or the two
//! maintenance timers, or a value of the wrong type or outside a plausible range. Unknown
//! fields are ignored.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

/// Timers above this (a year, in seconds) are taken as garbage, not as a far-off maintenance.
pub const MAX_TIMER_S: f64 = 365.0 * 86_400.0;

/// One battery's reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Battery {
    pub state_of_charge: f64,
    pub is_stripping: bool,
    pub strip_pump_run_target: i64,
    pub strip_pump_run_timer: i64,
}

impl Battery {
    /// Seconds until maintenance is due; negative when overdue.
    pub fn due_in_s(&self) -> i64 {
        self.strip_pump_run_target - self.strip_pump_run_timer
    }

    /// When maintenance is due, seen at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + TimeDelta::seconds(self.due_in_s())
    }
}

/// The whole site as the BMS reports it; never empty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BmsReading {
    pub batteries: Vec<Battery>,
}

impl BmsReading {
    /// The site's maintenance deadline: the earliest over all batteries.
    pub fn due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.batteries
            .iter()
            .map(|b| b.due(now))
            .min()
            .unwrap_or(now)
    }

    pub fn any_stripping(&self) -> bool {
        self.batteries.iter().any(|b| b.is_stripping)
    }
}

/// Parses a status document. `Err` carries the problem in words.
pub fn parse(body: &[u8]) -> Result<BmsReading, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let list = doc
        .get("list")
        .ok_or("no `list` in the document")?
        .as_array()
        .ok_or("`list` is not an array")?;
    if list.is_empty() {
        return Err("`list` is empty: the BMS reports no battery".to_string());
    }
    let batteries = list
        .iter()
        .enumerate()
        .map(|(i, item)| battery(i + 1, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BmsReading { batteries })
}

fn battery(n: usize, item: &Value) -> Result<Battery, String> {
    let field = |name: &str| {
        item.get(name)
            .ok_or_else(|| format!("battery {n} has no `{name}`"))
    };
    let number = |name: &str, max: f64| -> Result<f64, String> {
        let v = field(name)?;
        let x = v
            .as_f64()
            .ok_or_else(|| format!("battery {n}: `{name}` is {v}, not a number"))?;
        if (0.0..=max).contains(&x) {
            Ok(x)
        } else {
            Err(format!("battery {n}: `{name}` = {x} is outside 0-{max}"))
        }
    };
    let stripping = field("is_stripping")?;
    Ok(Battery {
        state_of_charge: number("state_of_charge", 100.0)?,
        is_stripping: stripping
            .as_bool()
            .ok_or_else(|| format!("battery {n}: `is_stripping` is {stripping}, not true/false"))?,
        strip_pump_run_target: number("strip_pump_run_target", MAX_TIMER_S)?.round() as i64,
        strip_pump_run_timer: number("strip_pump_run_timer", MAX_TIMER_S)?.round() as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"list":[{"state_of_charge":63.4,"is_stripping":false,
        "strip_pump_run_target":259200,"strip_pump_run_timer":201600,"voltage":52.3}]}"#;

    #[test]
    fn parses_the_documented_example() {
        let r = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(r.batteries.len(), 1);
        assert_eq!(r.batteries[0].due_in_s(), 57_600);
        assert!(!r.any_stripping());
    }

    #[test]
    fn overdue_is_negative() {
        let body = GOOD.replace("201600", "270000");
        assert_eq!(
            parse(body.as_bytes()).unwrap().batteries[0].due_in_s(),
            -10_800
        );
    }

    #[test]
    fn earliest_due_wins() {
        let body = r#"{"list":[
            {"state_of_charge":50,"is_stripping":false,"strip_pump_run_target":259200,"strip_pump_run_timer":0},
            {"state_of_charge":50,"is_stripping":true,"strip_pump_run_target":259200,"strip_pump_run_timer":259000}]}"#;
        let r = parse(body.as_bytes()).unwrap();
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(r.due(now), now + TimeDelta::seconds(200));
        assert!(r.any_stripping());
    }

    #[test]
    fn bad_documents_are_named() {
        let cases = [
            ("not json", "not JSON"),
            ("{}", "no `list`"),
            (r#"{"list":{}}"#, "not an array"),
            (r#"{"list":[]}"#, "empty"),
            (
                r#"{"list":[{"is_stripping":false,"strip_pump_run_target":1,"strip_pump_run_timer":1}]}"#,
                "state_of_charge",
            ),
            (
                &GOOD.replace("\"is_stripping\":false", "\"is_stripping\":\"no\""),
                "is_stripping",
            ),
            (&GOOD.replace("201600", "\"201600\""), "not a number"),
            (&GOOD.replace("201600", "-5"), "outside"),
            (&GOOD.replace("259200", "1e12"), "outside"),
            (&GOOD.replace("63.4", "163.4"), "state_of_charge"),
        ];
        for (body, expect) in cases {
            let e = parse(body.as_bytes()).unwrap_err();
            assert!(e.contains(expect), "{body}: {e}");
        }
    }
}
