//! `simulate`: the same pure rules (`plan`, the drain, the EV decision) run over days of a
//! battery model in 5-minute steps, so an owner can see a config's effect before the battery
//! does. Nothing here touches a device.
//!
//! The model, in one paragraph (the README explains each parameter and what it leaves out):
//! cron runs the rules at the times the installed cron block runs `apply`, and between runs the
//! GX keeps the slot the last run wrote, holding it in force by its own wall-clock rule. In a
//! slot below its target the GX charges at the rate that reaches the target at the slot's end;
//! at the target it holds; a drain slot discharges at the rate that reaches 1 % at its end,
//! feeding the house and exporting the rest. Outside a slot it runs plain ESS: the battery feeds
//! the loads down to the ESS minimum SoC, and solar surplus charges it. The BMS starts the
//! maintenance discharge at `due`, strips for `strip_hours` once the battery is empty (no charge
//! then), and restarts its timer.

use chrono::{DateTime, DurationRound, TimeDelta, Timelike, Utc};

use crate::clock;
use crate::config::{ClockTime, Config, SimulateConfig};
use crate::drain::Readings;
use crate::ev::codec::{self, Action, Charger};
use crate::ev::rules::{self, Inputs, NextRecord, Record, Site};
use crate::plan::{self, Slot, WindowKind};
use crate::redflow::{Battery, BmsReading};
use crate::serial::{rfc3339, rfc3339_opt, round2, whole};
use serde::Serialize;

mod book;
mod house;

use book::Book;
use house::*;

/// The step of the model.
pub const STEP: TimeDelta = TimeDelta::minutes(5);
/// The longest simulation, days.
pub const MAX_DAYS: u32 = 31;

/// Who decides what the GX holds: this tool's rules, or the owner's original script (seed
/// 001: at 07:00 every day two ESS scheduled charges, 10:00-16:00 and 21:00-07:00 to 100 %,
/// or on a maintenance day 13:00-16:00 to 50 % and tomorrow 03:00-07:00 to 100 %; the ESS
/// minimum SoC left at 0 %), the baseline the month table compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Rules,
    FixedWindows,
}

/// Where a simulation starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    pub from: DateTime<Utc>,
    pub days: u32,
    /// Battery SoC, %.
    pub soc: f64,
    /// Until maintenance is due (negative: overdue).
    pub due_in: TimeDelta,
    /// Whether the maintenance cycle is already running.
    pub stripping: bool,
    /// A constant house load, W, instead of `[simulate] load_w`.
    pub load_w: Option<f64>,
}

/// The maintenance cycle as the BMS runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cycle {
    Idle,
    /// The maintenance discharge: `is_stripping` is already true.
    Draining,
    Stripping {
        until: DateTime<Utc>,
    },
}

/// One maintenance cycle, as it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maintenance {
    #[serde(serialize_with = "rfc3339")]
    pub due: DateTime<Utc>,
    /// When the battery was empty; `None`: not within the period.
    #[serde(serialize_with = "rfc3339_opt")]
    pub empty: Option<DateTime<Utc>>,
    /// When the strip ended.
    #[serde(serialize_with = "rfc3339_opt")]
    pub done: Option<DateTime<Utc>>,
    /// The drain's deadline, as `[drain]` defines it.
    #[serde(serialize_with = "rfc3339_opt")]
    pub deadline: Option<DateTime<Utc>>,
    /// Empty by the deadline (or no deadline); `None` while unknown.
    pub on_time: Option<bool>,
}

/// An hourly sample. Its slot is left to the report, which shows it in local time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    #[serde(serialize_with = "rfc3339")]
    pub t: DateTime<Utc>,
    #[serde(serialize_with = "round2")]
    pub soc: f64,
    /// `normal`, `draining` or `stripping`.
    pub phase: &'static str,
    #[serde(skip)]
    pub slot: Option<Slot>,
    #[serde(serialize_with = "whole")]
    pub battery_w: f64,
    #[serde(serialize_with = "whole")]
    pub grid_w: f64,
    #[serde(serialize_with = "whole")]
    pub ev_w: f64,
    /// Whether a peak window covers this hour.
    pub peak: bool,
}

/// One local day's figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Day {
    pub date: chrono::NaiveDate,
    /// `due`, `empty`, `done` as they happened that day; `late` for a drain past its deadline.
    pub events: Vec<&'static str>,
    #[serde(serialize_with = "round2")]
    pub peak_grid_kwh: f64,
    #[serde(serialize_with = "round2")]
    pub lowest_soc: f64,
    #[serde(serialize_with = "round2")]
    pub grid_import_kwh: f64,
    #[serde(serialize_with = "round2")]
    pub grid_export_kwh: f64,
    #[serde(serialize_with = "round2")]
    pub ev_kwh: f64,
}

/// What a simulation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub start: Start,
    pub model: SimulateConfig,
    /// The load the model used when neither `--load` nor `[simulate] load_w` gave one.
    pub default_load_w: f64,
    pub samples: Vec<Sample>,
    pub maintenances: Vec<Maintenance>,
    pub days: Vec<Day>,
    pub findings: Vec<String>,
    pub metrics: Metrics,
}

/// The month table's raw counts over a whole simulation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Hourly samples in the normal part of the cycle (the BMS idle, due more than 24 h away).
    pub normal_hours: u32,
    /// Of those, the hours the battery held at least [`RESERVE_SOC`].
    pub reserve_hours: u32,
    /// Hours a charge slot was in force while the battery was in its maintenance cycle (its
    /// discharge or its strip), when it takes no charge.
    pub blocked_charge_h: f64,
}

/// The reserve the month table counts, %.
pub const RESERVE_SOC: f64 = 30.0;

/// The house load when nothing says otherwise, W: the drain forecast's own default.
pub const DEFAULT_LOAD_W: f64 = crate::decide::DEFAULT_LOAD_W as f64;
/// Nominal phase voltage for the EV's power.
const VOLTS: f64 = codec::NOMINAL_VOLTS as f64;

/// Everything that changes from step to step.
struct State {
    t: DateTime<Utc>,
    soc: f64,
    due: DateTime<Utc>,
    cycle: Cycle,
    slot: Option<Slot>,
    min_soc: f64,
    record: Option<Record>,
    kicking: bool,
    battery_w: f64,
    /// `--load`: a constant house load, W.
    constant_load: Option<f64>,
    /// [`Policy::FixedWindows`]: the two ESS scheduled charges the script set.
    fixed: Vec<Slot>,
}

/// What one step did to the power flows, W (battery + charging, grid + importing).
#[derive(Debug, Clone, Copy, Default)]
struct Flows {
    /// The SoC at the start of the step.
    soc_before: f64,
    battery_w: f64,
    grid_w: f64,
    ev_w: f64,
    /// Whether a charge slot (not a drain) was in force.
    charge_slot: bool,
}

/// Runs the simulation of this tool's rules.
pub fn run(config: &Config, start: &Start) -> Simulation {
    run_policy(config, start, Policy::Rules)
}

/// Runs the simulation with `policy` deciding what the GX holds.
pub fn run_policy(config: &Config, start: &Start, policy: Policy) -> Simulation {
    let model = config.simulate.clone();
    let from = start.from.duration_trunc(STEP).unwrap_or(start.from);
    let end = from + TimeDelta::days(i64::from(start.days.clamp(1, MAX_DAYS)));
    let mut s = State {
        t: from,
        soc: start.soc.clamp(0.0, 100.0),
        due: from + start.due_in,
        cycle: if start.stripping {
            Cycle::Draining
        } else {
            Cycle::Idle
        },
        slot: None,
        min_soc: model.ess_min_soc,
        record: None,
        kicking: false,
        battery_w: 0.0,
        constant_load: start.load_w,
        fixed: Vec::new(),
    };
    let mut book = Book::new(config, &s);
    let apply_times = match policy {
        Policy::Rules => crate::cron::apply_times(config),
        Policy::FixedWindows => ClockTime::new(7, 0).into_iter().collect(),
    };
    let decide = |s: &mut State| match policy {
        Policy::Rules => run_rules(config, s),
        Policy::FixedWindows => run_fixed_windows(config, s),
    };
    decide(&mut s);
    while s.t < end {
        if s.t > from && is_run_time(config, &apply_times, s.t) {
            decide(&mut s);
        }
        if config.ev.as_ref().is_some_and(|ev| ev.enabled) {
            run_ev_kick(config, &mut s);
        }
        maintenance_step(config, &mut s, &mut book);
        let flows = gx_step(config, &mut s);
        book.record(config, &s, &flows);
        s.t += STEP;
    }
    book.finish(config, start, model, &s)
}

fn is_run_time(config: &Config, times: &[ClockTime], t: DateTime<Utc>) -> bool {
    let local = clock::local(config.timezone, t);
    let now = ClockTime::new(local.hour(), local.minute());
    local.second() == 0 && now.is_some_and(|n| times.contains(&n))
}

/// What the BMS would report now.
fn reading(s: &State, interval_s: i64) -> BmsReading {
    let due_in = (s.due - s.t).num_seconds();
    BmsReading {
        batteries: vec![Battery {
            state_of_charge: s.soc,
            is_stripping: s.cycle != Cycle::Idle,
            strip_pump_run_target: interval_s,
            strip_pump_run_timer: interval_s - due_in,
        }],
    }
}

fn interval_s(config: &Config) -> i64 {
    (config.simulate.maintenance_interval_hours * 3600.0) as i64
}

/// One `apply`: the rules, the drain forecast and export, as the tool would write them.
fn run_rules(config: &Config, s: &mut State) {
    let plan = plan::plan(config, s.t, &reading(s, interval_s(config)));
    let ev_w = if s.kicking { ev_power(config) } else { 0.0 };
    let readings = Readings {
        battery_soc: s.soc,
        ac_loads_w: [
            clamp_u16(house_load(config, s.constant_load, s.t) + ev_w),
            0,
            0,
        ],
        charger: s.kicking.then(|| (clamp_u16(ev_w), codec::STATUS_CHARGING)),
        pv_w: Some(solar(config, s.t)),
    };
    // The readings `apply` would have read at this point, no more.
    let readings = crate::decide::wants_readings(config, &plan).then_some(readings);
    let plan = crate::decide::decide(config, plan, readings.as_ref()).plan;
    s.min_soc = plan
        .min_soc
        .map(f64::from)
        .unwrap_or(config.simulate.ess_min_soc);
    s.slot = plan.slot;
}

/// The owner's script (seed 001) at 07:00: two ESS scheduled charges for today and tonight,
/// or on a maintenance day (due within 24 h) 13:00-16:00 to 50 % and tomorrow 03:00-07:00.
fn run_fixed_windows(config: &Config, s: &mut State) {
    let tz = config.timezone;
    let today = clock::local(tz, s.t).date();
    let window = |day: chrono::NaiveDate, h: u32, hours: i64, soc: u8, kind: WindowKind| {
        let start = day.and_hms_opt(h, 0, 0)?;
        Some(Slot {
            kind,
            window: "fixed".to_string(),
            start: clock::to_instant(tz, start),
            end: clock::to_instant(tz, start + TimeDelta::hours(hours)),
            soc,
        })
    };
    let tomorrow = today.succ_opt().unwrap_or(today);
    s.fixed = if s.due - s.t < TimeDelta::hours(24) {
        [
            window(today, 13, 3, 50, WindowKind::Maintenance),
            window(tomorrow, 3, 4, 100, WindowKind::AfterMaintenance),
        ]
    } else {
        [
            window(today, 10, 6, 100, WindowKind::Normal),
            window(today, 21, 10, 100, WindowKind::Normal),
        ]
    }
    .into_iter()
    .flatten()
    .collect();
    s.min_soc = 0.0;
    s.slot = None;
}

fn clamp_u16(w: f64) -> u16 {
    w.clamp(0.0, f64::from(u16::MAX)).round() as u16
}

fn ev_power(config: &Config) -> f64 {
    config
        .ev
        .as_ref()
        .map_or(0.0, |ev| f64::from(ev.current_a) * VOLTS)
}

/// Whether the model's EV is plugged in at `t`.
fn ev_connected(config: &Config, t: DateTime<Utc>) -> bool {
    let Some((from, to)) = config.simulate.ev_connected else {
        return false;
    };
    let local = clock::local(config.timezone, t);
    let Some(now) = ClockTime::new(local.hour(), local.minute()) else {
        return false;
    };
    if from < to {
        from <= now && now < to
    } else {
        now >= from || now < to
    }
}

/// One `ev-kick` run (cron runs it every 5 minutes): the real decision on the model's site.
fn run_ev_kick(config: &Config, s: &mut State) {
    let Some(ev) = config.ev.as_ref() else { return };
    let connected = ev_connected(config, s.t);
    if !connected {
        s.kicking = false;
    }
    let power = if s.kicking { ev_power(config) } else { 0.0 };
    let charger = Charger {
        mode: if s.kicking {
            codec::MODE_MANUAL
        } else {
            codec::MODE_AUTO
        },
        start_stop: u16::from(s.kicking),
        status: match (connected, s.kicking) {
            (false, _) => codec::STATUS_DISCONNECTED,
            (true, true) => codec::STATUS_CHARGING,
            (true, false) => 1,
        },
        set_current_a: if s.kicking { ev.current_a } else { 16 },
        max_current_a: 32,
        power_w: clamp_u16(power),
    };
    let loads = house_load(config, s.constant_load, s.t) + power;
    let site = Site {
        phases_w: [clamp_u16(loads), 0, 0],
        battery_power_w: s.battery_w.clamp(-32768.0, 32767.0) as i16,
    };
    let bms = reading(s, interval_s(config));
    let d = rules::decide(&Inputs {
        config: ev,
        timezone: config.timezone,
        now: s.t,
        bms: Some(&bms),
        site: Some(site),
        charger,
        record: s.record.as_ref(),
    });
    match d.action {
        Action::Start => s.kicking = true,
        Action::Stop { .. } => s.kicking = false,
        Action::Nothing => {}
    }
    match d.record {
        NextRecord::Keep => {}
        NextRecord::Set(r) => s.record = Some(r),
        NextRecord::Clear => s.record = None,
    }
}

/// The BMS: starts the cycle at `due`, strips once empty, restarts its timer after the strip.
fn maintenance_step(config: &Config, s: &mut State, book: &mut Book) {
    if s.cycle == Cycle::Idle && s.t >= s.due {
        s.cycle = Cycle::Draining;
        book.maintenance_started(config, s.due.min(s.t));
    }
    // A battery already empty at due strips at once.
    match s.cycle {
        Cycle::Draining if s.soc <= config.simulate.empty_soc + 0.01 => {
            s.soc = 0.0;
            let hours = config.simulate.strip_hours;
            s.cycle = Cycle::Stripping {
                until: s.t + TimeDelta::seconds((hours * 3600.0) as i64),
            };
            book.maintenance_empty(s.t);
        }
        Cycle::Stripping { until } if s.t >= until => {
            s.cycle = Cycle::Idle;
            s.due = s.t
                + TimeDelta::seconds((config.simulate.maintenance_interval_hours * 3600.0) as i64);
            book.maintenance_done(s.t);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{config, hobart};
    use chrono_tz::Australia::Hobart;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        hobart(y, m, d, h, 0)
    }

    fn start(from: DateTime<Utc>, days: u32, soc: f64, due_in_h: i64) -> Start {
        Start {
            from,
            days,
            soc,
            due_in: TimeDelta::hours(due_in_h),
            stripping: false,
            load_w: Some(400.0),
        }
    }

    fn soc_at(sim: &Simulation, t: DateTime<Utc>) -> f64 {
        sim.samples.iter().find(|s| s.t == t).unwrap().soc
    }

    #[test]
    fn a_normal_day_holds_the_battery_full_outside_peaks() {
        let c = config("[schedule]\nreserve_soc = 30\n");
        let sim = run(&c, &start(at(2026, 11, 23, 7), 2, 100.0, 5 * 24));
        // The 10:00-16:00 window refills what the 07:00-10:00 peak took.
        assert!(soc_at(&sim, at(2026, 11, 23, 10)) < 95.0);
        assert!(soc_at(&sim, at(2026, 11, 23, 16)) > 99.0);
        // The 21:00-07:00 window holds it full overnight.
        assert!(soc_at(&sim, at(2026, 11, 24, 7)) > 99.0);
        assert!(sim.maintenances.is_empty());
        assert_eq!(sim.days.len(), 3, "Mon from 07:00, Tue, Wed to 07:00");
        assert!(sim.findings.is_empty(), "{:?}", sim.findings);
    }

    #[test]
    fn a_maintenance_drains_then_strips_then_the_timer_restarts() {
        let c = config("[schedule]\nreserve_soc = 30\n");
        let sim = run(&c, &start(at(2026, 11, 23, 7), 3, 60.0, 6));
        let m = &sim.maintenances[0];
        assert_eq!(m.due, at(2026, 11, 23, 13));
        let empty = m.empty.expect("the battery empties");
        assert_eq!(m.done, Some(empty + TimeDelta::hours(2)));
        // It takes no charge while it strips.
        let stripping: Vec<_> = sim
            .samples
            .iter()
            .filter(|s| s.phase == "stripping")
            .collect();
        assert!(!stripping.is_empty());
        assert!(stripping.iter().all(|s| s.battery_w <= 0.0 && s.soc < 0.5));
        // The days say so.
        let events: Vec<_> = sim.days.iter().flat_map(|d| d.events.clone()).collect();
        assert!(events.starts_with(&["due", "empty"]), "{events:?}");
    }

    #[test]
    fn both_dst_nights_run_and_the_night_window_ends_at_07_00() {
        let c = config("[schedule]\nreserve_soc = 30\n");
        for from in [at(2026, 4, 4, 12), at(2026, 10, 3, 12)] {
            let sim = run(&c, &start(from, 2, 80.0, 10 * 24));
            let wall_hours = sim.samples.len();
            assert!((47..=49).contains(&wall_hours), "{wall_hours}");
            let night = sim
                .samples
                .iter()
                .filter(|s| {
                    s.slot
                        .as_ref()
                        .is_some_and(|w| w.window == "schedule.normal[1]")
                })
                .map(|s| s.t)
                .collect::<Vec<_>>();
            let last = night.iter().max().unwrap();
            assert_eq!(clock::local(Hobart, *last).hour(), 6, "{from}: {night:?}");
        }
    }

    #[test]
    fn the_drain_export_ends_on_time() {
        let late = config("[schedule]\nreserve_soc = 30\n");
        let export = config("[schedule]\nreserve_soc = 30\n[drain]\nexport = true\n");
        let s = Start {
            stripping: true,
            ..start(at(2026, 11, 25, 21), 2, 59.0, -1)
        };
        let without = run(&late, &s);
        assert_eq!(without.maintenances[0].on_time, Some(false));
        assert!(
            without
                .findings
                .iter()
                .any(|f| f.contains("after its deadline"))
        );
        let with = run(&export, &s);
        let m = &with.maintenances[0];
        assert_eq!(m.on_time, Some(true), "{m:?}");
        assert!(m.empty.unwrap() <= at(2026, 11, 26, 3));
        let exported: f64 = with.days.iter().map(|d| d.grid_export_kwh).sum();
        assert!(exported > 2.0, "{exported}");
    }

    #[test]
    fn the_ev_kick_shortens_the_drain() {
        let s = Start {
            stripping: true,
            ..start(at(2026, 11, 25, 21), 2, 59.0, -1)
        };
        let plain = run(&config("[schedule]\nreserve_soc = 30\n"), &s);
        let kick = run(
            &config(
                "[schedule]\nreserve_soc = 30\n[ev]\n[simulate]\nev_connected = \"18:00-07:00\"\n",
            ),
            &s,
        );
        let empty = |sim: &Simulation| sim.maintenances[0].empty.unwrap();
        assert!(
            empty(&kick) + TimeDelta::hours(6) < empty(&plain),
            "{} vs {}",
            empty(&kick),
            empty(&plain)
        );
        let ev: f64 = kick.days.iter().map(|d| d.ev_kwh).sum();
        assert!(ev > 3.0, "{ev}");
        assert_eq!(kick.maintenances[0].on_time, Some(true));
    }

    #[test]
    fn the_maintenance_minimum_is_set_without_reserve_soc_and_a_high_one_is_named() {
        // No reserve_soc, as the example config ships: maintenance still empties the battery.
        let c = config("");
        let sim = run(&c, &start(at(2026, 11, 23, 7), 2, 60.0, 2));
        assert!(sim.maintenances[0].empty.is_some(), "{:?}", sim.findings);
        assert!(!sim.findings.iter().any(|f| f.contains("never emptied")));
        // A maintenance minimum that holds the battery up is named.
        let c = config("[schedule]\nmaintenance_min_soc = 20\n");
        let sim = run(&c, &start(at(2026, 11, 23, 7), 2, 60.0, 2));
        assert!(sim.maintenances[0].empty.is_none());
        assert!(
            sim.findings.iter().any(|f| f.contains("never emptied")),
            "{:?}",
            sim.findings
        );
    }
}
