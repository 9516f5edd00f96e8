//! Wall-clock windows, the unit of `[[peak]]` and of `[schedule]`'s window lists: times of day,
//! day and month sets, one window's own checks, and when two windows overlap.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use serde::Deserialize;

use super::ConfigError;

/// A window may span at most this much wall-clock time: the GX counts slot 0's 16-bit
/// duration (at most 65 535 s) on its own wall clock, so with `gx.timezone` equal to
/// `timezone` a window's wall-clock length is the duration written, on every night.
pub const MAX_WINDOW_MINUTES: u32 = 65_535 / 60;
/// With a GX on another zone than the windows, a daylight-saving night can add an hour.
pub const MAX_WINDOW_MINUTES_OTHER_GX_ZONE: u32 = MAX_WINDOW_MINUTES - 60;

/// A maintenance window's `soc = "auto"`: the plan chooses the target from the forecast.
pub const AUTO_SOC: u8 = u8::MAX;

/// A charge window's target when it gives no `soc`: keep the battery full.
const DEFAULT_CHARGE_SOC: u8 = 100;

/// A wall-clock time of day with minute resolution, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| ClockTime {
            minutes: (hour * 60 + minute) as u16,
        })
    }

    /// Minutes since midnight, 0..1440.
    pub fn minutes(self) -> u32 {
        u32::from(self.minutes)
    }

    pub fn naive(self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.minutes() / 60, self.minutes() % 60, 0)
            .unwrap_or(NaiveTime::MIN)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let hour: u32 = h.parse().ok()?;
        let minute: u32 = m.parse().ok()?;
        ClockTime::new(hour, minute)
    }

    pub fn from_naive(time: NaiveTime) -> Self {
        ClockTime {
            minutes: (time.hour() * 60 + time.minute()) as u16,
        }
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes() / 60, self.minutes() % 60)
    }
}

/// Which days of the week a window applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaySet {
    All,
    /// Monday to Friday, except holidays.
    Weekdays,
    /// Saturday, Sunday and holidays.
    Weekends,
    /// Exactly these calendar days; holidays do not change them.
    Days(BTreeSet<u8>),
}

impl DaySet {
    /// Whether a window of this set applies on `date`.
    pub fn contains(&self, date: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> bool {
        let weekend =
            matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || holidays.contains(&date);
        match self {
            DaySet::All => true,
            DaySet::Weekdays => !weekend,
            DaySet::Weekends => weekend,
            DaySet::Days(days) => days.contains(&(date.weekday().num_days_from_monday() as u8)),
        }
    }
}

impl fmt::Display for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySet::All => f.write_str("every day"),
            DaySet::Weekdays => f.write_str("weekdays"),
            DaySet::Weekends => f.write_str("weekends"),
            DaySet::Days(days) => {
                let names: Vec<&str> = days.iter().map(|d| DAY_NAMES[usize::from(*d)]).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A wall-clock window, half-open: `[start, end)`. `end <= start` means it ends the next day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The key it came from, e.g. `schedule.normal[1]`, used in reasons and errors.
    pub key: String,
    pub start: ClockTime,
    pub end: ClockTime,
    pub days: DaySet,
    /// Months 1-12 in which it applies.
    pub months: BTreeSet<u8>,
    /// Target SoC, % (charge windows only; 0 for peaks); [`AUTO_SOC`] for `soc = "auto"`.
    pub soc: u8,
}

impl Window {
    /// Whether the plan chooses this window's target (`soc = "auto"`).
    pub fn is_auto(&self) -> bool {
        self.soc == AUTO_SOC
    }

    /// Wall-clock length in minutes (1..1440).
    pub fn minutes(&self) -> u32 {
        (self.end.minutes() + 1440 - self.start.minutes()) % 1440
    }

    /// Whether an instance starting on `date` exists (day and month allowed).
    pub fn applies_on(&self, date: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> bool {
        self.months.contains(&(date.month() as u8)) && self.days.contains(date, holidays)
    }
}

/// A window's `soc`: a number, or `"auto"` for a maintenance window.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawSoc {
    Number(i64),
    Word(String),
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawDays {
    Named(String),
    List(Vec<String>),
}

/// One window as the file writes it.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    days: Option<RawDays>,
    months: Option<Vec<i64>>,
    start: String,
    end: String,
    soc: Option<RawSoc>,
}

/// A built-in window, written as the file would write it, so it passes the same checks.
pub(super) struct Preset {
    pub days: &'static str,
    pub start: &'static str,
    pub end: &'static str,
    /// `None`: the default for its kind (none for a peak, [`DEFAULT_CHARGE_SOC`] to charge).
    pub soc: Option<i64>,
}

impl Preset {
    fn raw(&self) -> RawWindow {
        RawWindow {
            days: Some(RawDays::Named(self.days.to_string())),
            months: None,
            start: self.start.to_string(),
            end: self.end.to_string(),
            soc: self.soc.map(RawSoc::Number),
        }
    }
}

/// A list of windows under `list` (`peak`, `schedule.normal`, ...), numbered as the file
/// numbers them; the presets when the file gives none.
pub(super) fn windows(
    list: &str,
    raw: Option<Vec<RawWindow>>,
    presets: &[Preset],
    charge: bool,
) -> Result<Vec<Window>, ConfigError> {
    raw.unwrap_or_else(|| presets.iter().map(Preset::raw).collect())
        .iter()
        .enumerate()
        .map(|(i, w)| window(&format!("{list}[{i}]"), w, charge))
        .collect()
}

/// A SoC, %, checked to be 0-100.
pub(super) fn soc_value(key: &str, value: i64) -> Result<u8, ConfigError> {
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| ConfigError::invalid(key, format!("SoC {value} is outside 0-100")))
}

/// A window's `days`: all when absent, a name, or a non-empty list of day names.
fn window_days(key: &str, days: Option<&RawDays>) -> Result<DaySet, ConfigError> {
    let days = match days {
        None => DaySet::All,
        Some(RawDays::Named(name)) => match name.as_str() {
            "all" => DaySet::All,
            "weekdays" => DaySet::Weekdays,
            "weekends" => DaySet::Weekends,
            other => {
                return Err(ConfigError::invalid(
                    format!("{key}.days"),
                    format!(
                        "`{other}` is not \"all\", \"weekdays\", \"weekends\" or a list like [\"mon\", \"tue\"]"
                    ),
                ));
            }
        },
        Some(RawDays::List(names)) => {
            let mut set = BTreeSet::new();
            for name in names {
                let day: Weekday = name.to_ascii_lowercase().parse().map_err(|_| {
                    ConfigError::invalid(
                        format!("{key}.days"),
                        format!("`{name}` is not a day name (mon, tue, wed, thu, fri, sat, sun)"),
                    )
                })?;
                let index = day.num_days_from_monday();
                set.insert(index as u8);
            }
            if set.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.days"),
                    "an empty list never applies; remove the window instead",
                ));
            }
            DaySet::Days(set)
        }
    };
    Ok(days)
}

/// A window's `months`: all twelve when absent, never an empty list.
fn window_months(key: &str, months: Option<&[i64]>) -> Result<BTreeSet<u8>, ConfigError> {
    let months = match months {
        None => (1..=12).collect(),
        Some(list) => {
            let mut set = BTreeSet::new();
            for m in list {
                match u8::try_from(*m) {
                    Ok(n @ 1..=12) => {
                        set.insert(n);
                    }
                    _ => {
                        return Err(ConfigError::invalid(
                            format!("{key}.months"),
                            format!("{m} is not a month 1-12"),
                        ));
                    }
                }
            }
            if set.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.months"),
                    "an empty list never applies; remove the window instead",
                ));
            }
            set
        }
    };
    Ok(months)
}

/// A window's `soc`: a charge window's target (`"auto"` only in `schedule.maintenance`); a
/// peak has none.
fn window_soc(key: &str, soc: Option<RawSoc>, charge: bool) -> Result<u8, ConfigError> {
    match (charge, soc) {
        (true, Some(RawSoc::Number(v))) => soc_value(&format!("{key}.soc"), v),
        (true, Some(RawSoc::Word(w)))
            if w == "auto" && key.starts_with("schedule.maintenance[") =>
        {
            Ok(AUTO_SOC)
        }
        (true, Some(RawSoc::Word(w))) => Err(ConfigError::invalid(
            format!("{key}.soc"),
            format!("`{w}` is not a SoC 0-100 (\"auto\" is for schedule.maintenance windows only)"),
        )),
        (true, None) => Ok(DEFAULT_CHARGE_SOC),
        (false, Some(_)) => Err(ConfigError::invalid(
            format!("{key}.soc"),
            "a peak window has no SoC",
        )),
        (false, None) => Ok(0),
    }
}

fn window(key: &str, raw: &RawWindow, charge: bool) -> Result<Window, ConfigError> {
    let time = |name: &str, text: &str| {
        ClockTime::parse(text).ok_or_else(|| {
            ConfigError::invalid(
                format!("{key}.{name}"),
                format!("`{text}` is not a time HH:MM between 00:00 and 23:59"),
            )
        })
    };
    let start = time("start", &raw.start)?;
    let end = time("end", &raw.end)?;
    if start == end {
        return Err(ConfigError::invalid(
            format!("{key}.end"),
            format!("equals start ({start}): a window needs a length"),
        ));
    }
    let days = window_days(key, raw.days.as_ref())?;
    let months = window_months(key, raw.months.as_deref())?;
    let soc = window_soc(key, raw.soc.clone(), charge)?;
    let w = Window {
        key: key.to_string(),
        start,
        end,
        days,
        months,
        soc,
    };
    if charge && w.minutes() > MAX_WINDOW_MINUTES {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{start}-{end} is {} h {:02} min; at most {} h {:02} min fits the GX slot (65 535 s)",
                w.minutes() / 60,
                w.minutes() % 60,
                MAX_WINDOW_MINUTES / 60,
                MAX_WINDOW_MINUTES % 60
            ),
        ));
    }
    Ok(w)
}

/// The first date on which an instance of `charge` and an instance of `peak` overlap in
/// wall-clock time, if any.
///
/// Whether a window applies depends only on the weekday, the month and whether the date is a
/// holiday, so checking every date of eight consecutive years (every weekday in every month,
/// leap years included) plus each holiday covers every case.
pub(super) fn overlap_date(
    charge: &Window,
    peak: &Window,
    holidays: &BTreeSet<NaiveDate>,
) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1)?;
    let years = (0..8 * 366).filter_map(|n| first.checked_add_days(chrono::Days::new(n)));
    let holiday_days = holidays
        .iter()
        .flat_map(|h| h.pred_opt().into_iter().chain([*h]));
    years.chain(holiday_days).find(|&day| {
        // Instances starting on `day` and on the day before (which may run into `day`).
        let intervals = |w: &Window| -> Vec<(i64, i64)> {
            [(day.pred_opt(), -1440i64), (Some(day), 0)]
                .into_iter()
                .filter_map(|(d, offset)| {
                    let d = d?;
                    w.applies_on(d, holidays).then(|| {
                        let start = offset + i64::from(w.start.minutes());
                        (start, start + i64::from(w.minutes()))
                    })
                })
                .collect()
        };
        let peaks = intervals(peak);
        intervals(charge)
            .iter()
            .any(|c| peaks.iter().any(|p| c.0 < p.1 && p.0 < c.1))
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, err_text, parse};

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let cases = [
            ("timezone = \"Mars/Olympus\"", "timezone"),
            ("[schedule]\nreserve_soc = 101", "schedule.reserve_soc"),
            ("[schedule]\nbogus = 1", "bogus"),
            (
                "[[schedule.normal]]\nstart = \"24:00\"\nend = \"07:00\"",
                "schedule.normal[0].start",
            ),
            (
                "[[schedule.normal]]\nstart = \"11:00\"\nend = \"11:00\"",
                "schedule.normal[0].end",
            ),
            (
                "[[schedule.normal]]\nstart = \"21:00\"\nend = \"15:00\"",
                "schedule.normal[0]",
            ),
            (
                "[[schedule.normal]]\nstart = \"09:00\"\nend = \"11:00\"",
                "overlaps peak[0]",
            ),
            (
                "[[schedule.maintenance]]\nstart = \"10:00\"\nend = \"12:00\"\nsoc = -1",
                "schedule.maintenance[0].soc",
            ),
            (
                "[[peak]]\ndays = \"someday\"\nstart = \"07:00\"\nend = \"09:00\"",
                "peak[0].days",
            ),
            (
                "[[peak]]\nmonths = [13]\nstart = \"07:00\"\nend = \"09:00\"",
                "peak[0].months",
            ),
        ];
        for (extra, key) in cases {
            let text = if extra.starts_with("timezone") {
                MINIMAL.replace("timezone = \"Australia/Hobart\"", extra)
            } else {
                format!("{MINIMAL}\n{extra}\n")
            };
            let e = err_text(&text);
            assert!(e.contains(key), "{extra:?}: expected {key:?} in {e:?}");
        }
    }

    #[test]
    fn touching_windows_do_not_overlap() {
        let text = format!(
            "{MINIMAL}[[schedule.normal]]\nstart = \"10:00\"\nend = \"16:00\"\n[[schedule.normal]]\nstart = \"21:00\"\nend = \"07:00\"\n"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn overlap_only_matters_on_days_both_apply() {
        // A weekend-only morning charge does not clash with weekday peaks...
        let weekend = format!(
            "{MINIMAL}[[schedule.normal]]\ndays = \"weekends\"\nstart = \"06:00\"\nend = \"12:00\"\n"
        );
        assert!(parse(&weekend).is_ok(), "{}", err_text(&weekend));
        // ...but an explicit Wednesday peak on a holiday Wednesday does.
        let holiday = format!(
            "{MINIMAL}[[peak]]\ndays = [\"wed\"]\nstart = \"07:00\"\nend = \"09:00\"\n[schedule]\nholidays = [\"2026-12-23\"]\n[[schedule.normal]]\ndays = \"weekends\"\nstart = \"06:00\"\nend = \"12:00\"\n"
        );
        assert!(
            err_text(&holiday).contains("2026-12-23"),
            "{}",
            err_text(&holiday)
        );
        // A Friday-night charge that runs into a Saturday peak clashes on Saturday.
        let overnight = format!(
            "{MINIMAL}[[peak]]\ndays = [\"sat\"]\nstart = \"05:00\"\nend = \"06:00\"\n[[schedule.normal]]\ndays = [\"fri\"]\nstart = \"22:00\"\nend = \"07:00\"\n"
        );
        assert!(err_text(&overnight).contains("overlaps peak[0]"));
        // Months: a winter-only charge does not clash with a summer-only peak.
        let months = format!(
            "{MINIMAL}[[peak]]\nmonths = [12, 1, 2]\nstart = \"11:00\"\nend = \"12:00\"\n[[schedule.normal]]\nmonths = [6, 7, 8]\nstart = \"10:00\"\nend = \"15:00\"\n"
        );
        assert!(parse(&months).is_ok(), "{}", err_text(&months));
    }
}
