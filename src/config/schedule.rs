//! `[[peak]]` and `[schedule]`: the peaks, the holidays and the charge windows, checked
//! together (no charge in a peak, every window fits the GX's slot on its clock).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;

use super::ConfigError;
use super::window::{
    MAX_WINDOW_MINUTES_OTHER_GX_ZONE, Preset, RawWindow, Window, overlap_date, soc_value, windows,
};

/// The original owner's peak tariff: weekday mornings and evenings.
const DEFAULT_PEAKS: [Preset; 2] = [
    Preset {
        days: "weekdays",
        start: "07:00",
        end: "10:00",
        soc: None,
    },
    Preset {
        days: "weekdays",
        start: "16:00",
        end: "21:00",
        soc: None,
    },
];
/// Keep the battery full between the peaks.
const DEFAULT_NORMAL: [Preset; 2] = [
    Preset {
        days: "all",
        start: "10:00",
        end: "16:00",
        soc: None,
    },
    Preset {
        days: "all",
        start: "21:00",
        end: "07:00",
        soc: None,
    },
];
/// Before a due maintenance: enough for the evening peak, and less left to drain.
const DEFAULT_MAINTENANCE: [Preset; 1] = [Preset {
    days: "all",
    start: "13:00",
    end: "16:00",
    soc: Some(50),
}];
/// Refill after a maintenance, before the morning peak.
const DEFAULT_AFTER_MAINTENANCE: [Preset; 1] = [Preset {
    days: "all",
    start: "03:00",
    end: "07:00",
    soc: None,
}];
const DEFAULT_ENABLED: bool = true;
const DEFAULT_BATTERY_CAPACITY_KWH: f64 = 10.0;
/// The ESS minimum in maintenance: 0, since the GX's own (10 %) would hold a maintenance up.
const DEFAULT_MAINTENANCE_MIN_SOC: i64 = 0;
const DEFAULT_MAINTENANCE_LEAD_HOURS: u32 = 24;
const DEFAULT_GRID_CHARGE: bool = true;

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `false` pauses the tool: the next `apply` or `ev-kick` hands the GX back (`release`),
    /// and every run after that does nothing until it is `true` again.
    pub enabled: bool,
    pub holidays: BTreeSet<NaiveDate>,
    pub battery_capacity_kwh: f64,
    pub reserve_soc: Option<u8>,
    pub maintenance_min_soc: u8,
    pub maintenance_lead_hours: u32,
    pub grid_charge: bool,
    pub normal: Vec<Window>,
    pub maintenance: Vec<Window>,
    pub after_maintenance: Vec<Window>,
}

impl Schedule {
    /// Every charge window: normal, maintenance, after-maintenance.
    pub fn charge_windows(&self) -> impl Iterator<Item = &Window> {
        self.normal
            .iter()
            .chain(&self.maintenance)
            .chain(&self.after_maintenance)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    enabled: Option<bool>,
    holidays: Option<Vec<String>>,
    battery_capacity_kwh: Option<f64>,
    reserve_soc: Option<i64>,
    maintenance_min_soc: Option<i64>,
    maintenance_lead_hours: Option<u32>,
    grid_charge: Option<bool>,
    normal: Option<Vec<RawWindow>>,
    maintenance: Option<Vec<RawWindow>>,
    after_maintenance: Option<Vec<RawWindow>>,
}

pub(super) fn build_peaks(raw: Option<Vec<RawWindow>>) -> Result<Vec<Window>, ConfigError> {
    windows("peak", raw, &DEFAULT_PEAKS, false)
}

fn build_holidays(raw: Option<Vec<String>>) -> Result<BTreeSet<NaiveDate>, ConfigError> {
    let mut holidays = BTreeSet::new();
    for (i, text) in raw.unwrap_or_default().iter().enumerate() {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ConfigError::invalid(
                format!("schedule.holidays[{i}]"),
                format!("`{text}` is not a date like \"2026-12-25\""),
            )
        })?;
        holidays.insert(date);
    }
    Ok(holidays)
}

pub(super) fn build_schedule(s: RawSchedule) -> Result<Schedule, ConfigError> {
    let capacity = s
        .battery_capacity_kwh
        .unwrap_or(DEFAULT_BATTERY_CAPACITY_KWH);
    if !(capacity >= 0.05 && capacity * 10.0 <= f64::from(u16::MAX)) {
        return Err(ConfigError::invalid(
            "schedule.battery_capacity_kwh",
            format!("{capacity} must be 0.1 to 6553.5 kWh (the GX stores tenths)"),
        ));
    }
    let lead_hours = s
        .maintenance_lead_hours
        .unwrap_or(DEFAULT_MAINTENANCE_LEAD_HOURS);
    if lead_hours > 24 * 14 {
        return Err(ConfigError::invalid(
            "schedule.maintenance_lead_hours",
            "must be at most 336 (two weeks)",
        ));
    }
    Ok(Schedule {
        enabled: s.enabled.unwrap_or(DEFAULT_ENABLED),
        holidays: build_holidays(s.holidays)?,
        battery_capacity_kwh: capacity,
        reserve_soc: s
            .reserve_soc
            .map(|v| soc_value("schedule.reserve_soc", v))
            .transpose()?,
        maintenance_min_soc: soc_value(
            "schedule.maintenance_min_soc",
            s.maintenance_min_soc.unwrap_or(DEFAULT_MAINTENANCE_MIN_SOC),
        )?,
        maintenance_lead_hours: lead_hours,
        grid_charge: s.grid_charge.unwrap_or(DEFAULT_GRID_CHARGE),
        normal: windows("schedule.normal", s.normal, &DEFAULT_NORMAL, true)?,
        maintenance: windows(
            "schedule.maintenance",
            s.maintenance,
            &DEFAULT_MAINTENANCE,
            true,
        )?,
        after_maintenance: windows(
            "schedule.after_maintenance",
            s.after_maintenance,
            &DEFAULT_AFTER_MAINTENANCE,
            true,
        )?,
    })
}

/// No charge window may overlap a peak on a day both apply: the battery must stay free to
/// discharge in peaks.
pub(super) fn check_no_charge_in_peaks(
    schedule: &Schedule,
    peaks: &[Window],
) -> Result<(), ConfigError> {
    for charge in schedule.charge_windows() {
        for peak in peaks {
            if let Some(date) = overlap_date(charge, peak, &schedule.holidays) {
                return Err(ConfigError::invalid(
                    charge.key.clone(),
                    format!(
                        "{}-{} overlaps {} ({}-{}) on days both apply (e.g. {}); \
                         the battery must stay free to discharge in peaks",
                        charge.start,
                        charge.end,
                        peak.key,
                        peak.start,
                        peak.end,
                        date.format("%a %Y-%m-%d")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// With the GX on another zone than the windows, a window's length on the GX's wall clock can
/// differ from its own by a daylight-saving hour: keep room for it.
pub(super) fn check_fits_the_gx_clock(
    schedule: &Schedule,
    timezone: Tz,
    gx: Tz,
) -> Result<(), ConfigError> {
    if gx == timezone {
        return Ok(());
    }
    for w in schedule.charge_windows() {
        if w.minutes() > MAX_WINDOW_MINUTES_OTHER_GX_ZONE {
            return Err(ConfigError::invalid(
                w.key.clone(),
                format!(
                    "{}-{} is {} h {:02} min; with gx.timezone ({}) other than timezone ({}), at most {} h {:02} min fits the GX slot (65 535 s) on a daylight-saving night",
                    w.start,
                    w.end,
                    w.minutes() / 60,
                    w.minutes() % 60,
                    gx.name(),
                    timezone.name(),
                    MAX_WINDOW_MINUTES_OTHER_GX_ZONE / 60,
                    MAX_WINDOW_MINUTES_OTHER_GX_ZONE % 60
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, err_text, parse};

    #[test]
    fn defaults_reproduce_the_original_schedule() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.timezone, chrono_tz::Australia::Hobart);
        assert_eq!(c.gx.port, 502);
        assert_eq!(c.gx.unit, 100);
        assert_eq!(c.peaks.len(), 2);
        assert_eq!(c.peaks[1].start.to_string(), "16:00");
        assert_eq!(c.schedule.normal.len(), 2);
        assert_eq!(c.schedule.normal[1].minutes(), 10 * 60);
        assert_eq!(c.schedule.maintenance[0].soc, 50);
        assert_eq!(c.schedule.after_maintenance[0].start.to_string(), "03:00");
        assert_eq!(c.schedule.reserve_soc, None);
        assert!(c.ev.is_none());
    }

    #[test]
    fn eighteen_hours_twelve_is_the_longest_window() {
        let ok = format!(
            "{MINIMAL}[[peak]]\ndays=['sun']\nstart='11:00'\nend='12:00'\n[[schedule.normal]]\nstart = \"12:48\"\nend = \"07:00\"\n"
        );
        assert!(parse(&ok).is_ok(), "{}", err_text(&ok));
        let long = ok.replace("12:48", "12:47");
        assert!(
            err_text(&long).contains("18 h 12 min"),
            "{}",
            err_text(&long)
        );
        // A GX on another zone needs an hour's room.
        let utc_gx = ok.replace(
            "host = \"127.0.0.1\"",
            "host = \"127.0.0.1\"\ntimezone = \"UTC\"",
        );
        assert!(
            err_text(&utc_gx).contains("gx.timezone"),
            "{}",
            err_text(&utc_gx)
        );
        let c = parse(&utc_gx.replace("12:48", "13:48")).unwrap();
        assert_eq!(c.gx.timezone, chrono_tz::UTC);
        assert_eq!(
            parse(MINIMAL).unwrap().gx.timezone,
            chrono_tz::Australia::Hobart
        );
    }
}
