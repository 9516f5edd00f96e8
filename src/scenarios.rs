//! The month table: `simulate` over a set of 28-day scenarios (winter and summer, three houses,
//! five times of day at which maintenance is first due, and both daylight-saving changes in
//! Hobart), counting what the owner cares about. The README's month table is this module's
//! output, and a test recomputes it.
//!
//! Four figures, each over every scenario of a policy:
//! - **normal-day reserve**: of the hours in the normal part of the cycle (the BMS idle and
//!   maintenance due more than 24 h away), the share with the battery at 30 % or more;
//! - **maintenance on time**: of the cycles due in the period whose 07:00 deadline also falls
//!   in it, those whose strip was done by the first 07:00 after `due`;
//! - **peak import**: the energy the peak windows took from the grid, kWh;
//! - **blocked charge**: hours a charge slot was in force while the battery was in its
//!   maintenance cycle (discharge or strip), when it takes no charge.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::clock;
use crate::config::{Config, ConfigError, Overrides};
use crate::simulate::{self, Policy, Simulation, Start};

/// The example config as it ships, its device placeholders replaced.
pub const EXAMPLE: &str = include_str!("../scripts/config.example.toml");

/// How long each scenario runs, days.
pub const DAYS: u32 = 28;
/// The hours of day at which maintenance is first due.
pub const FIRST_DUE_HOURS: [u32; 5] = [3, 9, 13, 18, 22];
/// The site the scenarios' sun follows (Hobart).
pub const SITE: &str = "[site]\nlatitude = -42.88\nlongitude = 147.33\n";

/// The time of year a scenario runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    Winter,
    Summer,
    /// Across the night the clocks go back (Hobart, Sun 5 Apr 2026).
    DstEnd,
    /// Across the night the clocks go forward (Hobart, Sun 4 Oct 2026).
    DstStart,
}

impl Season {
    pub const ALL: [Season; 4] = [
        Season::Winter,
        Season::Summer,
        Season::DstEnd,
        Season::DstStart,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Season::Winter => "winter (June)",
            Season::Summer => "summer (December)",
            Season::DstEnd => "clocks back (April)",
            Season::DstStart => "clocks forward (October)",
        }
    }

    /// The first day, at noon local, of the 28 days.
    fn first_day(self) -> NaiveDate {
        let (m, d) = match self {
            Season::Winter => (6, 1),
            Season::Summer => (12, 1),
            Season::DstEnd => (3, 22),
            Season::DstStart => (9, 20),
        };
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    /// Solar energy on a fair day, kWh.
    fn solar_kwh(self) -> f64 {
        match self {
            Season::Winter => 5.0,
            Season::Summer => 20.0,
            Season::DstEnd | Season::DstStart => 12.0,
        }
    }

    /// The houses a season runs with: all three in winter and summer, the flat 400 W one
    /// across the clock changes.
    fn houses(self) -> &'static [House] {
        match self {
            Season::Winter | Season::Summer => &House::ALL,
            Season::DstEnd | Season::DstStart => &House::ALL[..1],
        }
    }
}

/// The house's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum House {
    Flat400,
    Flat1000,
    /// 300 W at night, 500 W in the morning, 1.2 kW from 16:00 to 21:00.
    EveningHeavy,
}

impl House {
    pub const ALL: [House; 3] = [House::Flat400, House::Flat1000, House::EveningHeavy];

    pub fn name(self) -> &'static str {
        match self {
            House::Flat400 => "flat 400 W",
            House::Flat1000 => "flat 1 kW",
            House::EveningHeavy => "evening-heavy",
        }
    }

    /// Hourly loads from 00:00, W.
    pub fn hourly_w(self) -> [f64; 24] {
        match self {
            House::Flat400 => [400.0; 24],
            House::Flat1000 => [1000.0; 24],
            House::EveningHeavy => std::array::from_fn(|h| match h {
                0..=5 => 300.0,
                6..=8 => 500.0,
                9..=15 => 300.0,
                16..=20 => 1200.0,
                _ => 600.0,
            }),
        }
    }
}

/// One 28-day run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    pub season: Season,
    pub house: House,
    /// The local hour on the second day at which maintenance is first due.
    pub first_due_hour: u32,
}

/// Every scenario: 2 seasons × 3 houses × 5 due times, and 2 clock changes × 5 due times.
pub fn all() -> Vec<Scenario> {
    Season::ALL
        .iter()
        .flat_map(|&season| {
            season.houses().iter().flat_map(move |&house| {
                FIRST_DUE_HOURS.iter().map(move |&first_due_hour| Scenario {
                    season,
                    house,
                    first_due_hour,
                })
            })
        })
        .collect()
}

/// The figures of the table, summed over scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub normal_hours: u32,
    pub reserve_hours: u32,
    pub cycles: u32,
    pub on_time: u32,
    pub peak_import_kwh: f64,
    pub blocked_charge_h: f64,
}

impl Totals {
    /// The share of normal hours at 30 % or more, %.
    pub fn reserve_pct(&self) -> f64 {
        if self.normal_hours == 0 {
            return 100.0;
        }
        f64::from(self.reserve_hours) * 100.0 / f64::from(self.normal_hours)
    }

    /// The share of cycles done by 07:00, %.
    pub fn on_time_pct(&self) -> f64 {
        if self.cycles == 0 {
            return 100.0;
        }
        f64::from(self.on_time) * 100.0 / f64::from(self.cycles)
    }

    fn add(&mut self, o: &Totals) {
        self.normal_hours += o.normal_hours;
        self.reserve_hours += o.reserve_hours;
        self.cycles += o.cycles;
        self.on_time += o.on_time;
        self.peak_import_kwh += o.peak_import_kwh;
        self.blocked_charge_h += o.blocked_charge_h;
    }

    /// The table's row: `| 91.2 % | 120/125 (96 %) | 85 kWh | 0 h |`.
    pub fn cells(&self) -> String {
        format!(
            "{:.1} % | {}/{} ({:.0} %) | {:.0} kWh | {:.0} h",
            self.reserve_pct(),
            self.on_time,
            self.cycles,
            self.on_time_pct(),
            self.peak_import_kwh,
            self.blocked_charge_h
        )
    }
}

/// `base` (a whole config file) with the example's placeholders replaced, the scenario's house
/// and sun in `[simulate]`, and the site.
pub fn config_text(base: &str, scenario: &Scenario) -> String {
    let loads: Vec<String> = scenario
        .house
        .hourly_w()
        .iter()
        .map(|w| format!("{w:.0}"))
        .collect();
    format!(
        "{}\n{SITE}[simulate]\nload_w = [{}]\nsolar_kwh_per_day = {:.1}\n",
        base.replace("BMS-ADDRESS", "127.0.0.1")
            .replace("GX-ADDRESS", "127.0.0.1"),
        loads.join(", "),
        scenario.season.solar_kwh()
    )
}

/// Runs one scenario.
pub fn run_one(
    base: &str,
    scenario: &Scenario,
    policy: Policy,
) -> Result<(Simulation, Totals), ConfigError> {
    let config = Config::parse(&config_text(base, scenario), &Overrides::default())?;
    let tz = config.timezone;
    let first_day = scenario.season.first_day();
    let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default();
    let from = clock::to_instant(tz, first_day.and_time(noon));
    let due_day = first_day
        .checked_add_days(Days::new(1))
        .unwrap_or(first_day);
    let due_time = NaiveTime::from_hms_opt(scenario.first_due_hour, 0, 0).unwrap_or(noon);
    let due = clock::to_instant(tz, due_day.and_time(due_time));
    let start = Start {
        from,
        days: DAYS,
        soc: 80.0,
        due_in: due - from,
        stripping: false,
        load_w: None,
    };
    let sim = simulate::run_policy(&config, &start, policy);
    let end = from + TimeDelta::days(i64::from(DAYS));
    let totals = totals(&config, &sim, from, end);
    Ok((sim, totals))
}

/// The first local 07:00 after `t`.
pub fn seven_after(config: &Config, t: DateTime<Utc>) -> DateTime<Utc> {
    let tz = config.timezone;
    let seven = NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default();
    let day = clock::local(tz, t).date();
    (0..3)
        .filter_map(|d| day.checked_add_days(Days::new(d)))
        .map(|d| clock::to_instant(tz, d.and_time(seven)))
        .find(|s| *s > t)
        .unwrap_or(t + TimeDelta::days(1))
}

fn totals(config: &Config, sim: &Simulation, from: DateTime<Utc>, end: DateTime<Utc>) -> Totals {
    let mut t = Totals {
        normal_hours: sim.metrics.normal_hours,
        reserve_hours: sim.metrics.reserve_hours,
        peak_import_kwh: sim.days.iter().map(|d| d.peak_grid_kwh).sum(),
        blocked_charge_h: sim.metrics.blocked_charge_h,
        ..Totals::default()
    };
    for m in sim.maintenances.iter().filter(|m| m.due >= from) {
        let deadline = seven_after(config, m.due);
        if deadline > end {
            continue;
        }
        t.cycles += 1;
        t.on_time += u32::from(m.done.is_some_and(|d| d <= deadline));
    }
    t
}

/// One family's figures: the scenarios of a season and a house, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRow {
    pub season: Season,
    pub house: House,
    pub totals: Totals,
}

/// Every scenario under `policy` with `base` as the config: the family rows and the sum.
pub fn run_all(base: &str, policy: Policy) -> Result<(Vec<FamilyRow>, Totals), ConfigError> {
    let mut rows: Vec<FamilyRow> = Vec::new();
    let mut sum = Totals::default();
    for s in all() {
        let (_, t) = run_one(base, &s, policy)?;
        sum.add(&t);
        match rows
            .iter_mut()
            .find(|r| r.season == s.season && r.house == s.house)
        {
            Some(r) => r.totals.add(&t),
            None => rows.push(FamilyRow {
                season: s.season,
                house: s.house,
                totals: t,
            }),
        }
    }
    Ok((rows, sum))
}

/// The policies of the table, as (name, config file, policy).
pub fn policies() -> Vec<(&'static str, String, Policy)> {
    vec![
        (
            "zcell-scheduler, example config",
            EXAMPLE.to_string(),
            Policy::Rules,
        ),
        (
            "zcell-scheduler, example + `[drain] export`",
            format!("{EXAMPLE}\n[drain]\nexport = true\n"),
            Policy::Rules,
        ),
        (
            "owner's fixed-window script (seed 001)",
            EXAMPLE.to_string(),
            Policy::FixedWindows,
        ),
    ]
}
