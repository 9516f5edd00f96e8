//! The 48-hour timeline `plan` prints: one column per hour.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::clock;
use crate::commands::forecast::DrainDoc;
use crate::config::Config;
use crate::output::parts::SlotDoc;
use crate::plan::short_local;

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Hour columns over 48 h: peaks `#`, candidate windows `-`, the slot `=`, due `v` (then the
/// forecast drain `>` to where it is empty, `e`), now `^`.
pub fn timeline(
    config: &Config,
    now: DateTime<Utc>,
    candidates: &[SlotDoc],
    slot: Option<&SlotDoc>,
    due: Option<DateTime<Utc>>,
    drain: Option<&DrainDoc>,
) -> String {
    let tz = config.timezone;
    const HOURS: i64 = 48;
    let origin = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let cells: Vec<Span> = (0..HOURS)
        .map(|h| {
            let s = origin + TimeDelta::hours(h);
            (s, s + TimeDelta::hours(1))
        })
        .collect();
    let end = origin + TimeDelta::hours(HOURS);
    let peaks: Vec<Span> = config
        .peaks
        .iter()
        .flat_map(|p| clock::instances(p, tz, &config.schedule.holidays, now, 1, 3))
        .filter(|i| i.start < end && i.end > origin)
        .map(|i| (i.start, i.end))
        .collect();
    let row = |intervals: &[Span], mark: char| -> String {
        cells
            .iter()
            .map(|(s, e)| {
                if intervals.iter().any(|(a, b)| a < e && s < b) {
                    mark
                } else {
                    '.'
                }
            })
            .collect()
    };
    let windows: Vec<Span> = candidates
        .iter()
        .map(|c| (c.span.start, c.span.end))
        .collect();
    let slot: Vec<Span> = slot.iter().map(|c| (c.span.start, c.span.end)).collect();
    let marker = |at: Option<DateTime<Utc>>, mark: char| -> String {
        cells
            .iter()
            .map(|(s, e)| match at {
                Some(t) if *s <= t && t < *e => mark,
                _ => ' ',
            })
            .collect()
    };
    let (days, hours) = timeline_heading(tz, &cells);
    let mut t = String::new();
    t += &format!("  {:<9}{}\n", "", days.trim_end());
    t += &format!("  {:<9}{}\n", "", hours.trim_end());
    t += &format!("  {:<9}{}\n", "peak", row(&peaks, '#'));
    t += &format!("  {:<9}{}\n", "windows", row(&windows, '-'));
    t += &format!("  {:<9}{}\n", "slot", row(&slot, '='));
    let due_row = due_row(&cells, due, drain);
    if due_row.trim().is_empty() {
        let note = match due {
            Some(d) if d < origin => format!("(maintenance due {}: passed)", short_local(tz, d)),
            Some(d) => format!("(maintenance due {}: beyond 48 h)", short_local(tz, d)),
            None => "(maintenance due: unknown)".to_string(),
        };
        t += &format!("  {:<9}{note}\n", "due");
    } else {
        t += &format!("  {:<9}{}\n", "due", due_row.trim_end());
    }
    t += &format!("  {:<9}{}\n", "now", marker(Some(now), '^').trim_end());
    t += if drain.is_some() {
        "  # peak  - candidate window  = slot 0  v maintenance due  > draining  e empty  ^ now\n"
    } else {
        "  # peak  - candidate window  = slot 0  v maintenance due  ^ now\n"
    };
    t
}

/// The `due` row: `v` at due, then with a forecast `>` while the drain runs and `e` where it
/// is empty.
fn due_row(cells: &[Span], due: Option<DateTime<Utc>>, drain: Option<&DrainDoc>) -> String {
    let within = |t: DateTime<Utc>, (s, e): &Span| *s <= t && t < *e;
    cells
        .iter()
        .map(|cell| match (due, drain) {
            (Some(d), _) if within(d, cell) => 'v',
            (_, Some(f)) if f.finish.is_some_and(|t| within(t, cell)) => 'e',
            (_, Some(f)) if f.start < cell.1 && f.finish.is_none_or(|t| cell.0 < t) => '>',
            _ => ' ',
        })
        .collect()
}

/// The day names (at each local midnight) and the hours (every 6 columns) above the rows.
fn timeline_heading(tz: Tz, cells: &[Span]) -> (String, String) {
    let is_midnight = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%H").to_string() == "00";
    let first_midnight = cells
        .iter()
        .position(|(c, _)| is_midnight(c))
        .unwrap_or(cells.len());
    let mut hours = String::new();
    let mut days = String::new();
    for (i, (s, _)) in cells.iter().enumerate() {
        let local = s.with_timezone(&tz);
        if i % 6 == 0 {
            hours += &format!("{:<6}", local.format("%H"));
        }
        // A day's name at its midnight column; today's at the start if it fits before that.
        let midnight = is_midnight(s);
        if (midnight || (i == 0 && first_midnight >= 12)) && days.chars().count() <= i {
            while days.chars().count() < i {
                days.push(' ');
            }
            days += &local.format("%a %d %b ").to_string();
        }
    }
    (days, hours)
}
