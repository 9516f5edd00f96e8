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
use crate::drain::{self, Readings};
use crate::ev::rules::{self, Action, Charger, Inputs, NextRecord, Record, Site};
use crate::plan::{self, Slot, WindowKind};
use crate::redflow::{Battery, BmsReading};

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
#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    pub due: DateTime<Utc>,
    /// When the battery was empty; `None`: not within the period.
    pub empty: Option<DateTime<Utc>>,
    /// When the strip ended.
    pub done: Option<DateTime<Utc>>,
    /// The drain's deadline, as `[drain]` defines it.
    pub deadline: Option<DateTime<Utc>>,
    /// Empty by the deadline (or no deadline); `None` while unknown.
    pub on_time: Option<bool>,
}

/// An hourly sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub t: DateTime<Utc>,
    pub soc: f64,
    /// `normal`, `draining` or `stripping`.
    pub phase: &'static str,
    pub slot: Option<Slot>,
    pub battery_w: f64,
    pub grid_w: f64,
    pub ev_w: f64,
    /// Whether a peak window covers this hour.
    pub peak: bool,
}

/// One local day's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Day {
    pub date: chrono::NaiveDate,
    /// `due`, `empty`, `done` as they happened that day; `late` for a drain past its deadline.
    pub events: Vec<&'static str>,
    pub peak_grid_kwh: f64,
    pub lowest_soc: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
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

/// The house load when nothing says otherwise, W.
pub const DEFAULT_LOAD_W: f64 = 400.0;
/// Nominal phase voltage for the EV's power.
const VOLTS: f64 = rules::NOMINAL_VOLTS as f64;

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
        charger: s.kicking.then(|| (clamp_u16(ev_w), rules::STATUS_CHARGING)),
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
            rules::MODE_MANUAL
        } else {
            rules::MODE_AUTO
        },
        start_stop: u16::from(s.kicking),
        status: match (connected, s.kicking) {
            (false, _) => rules::STATUS_DISCONNECTED,
            (true, true) => rules::STATUS_CHARGING,
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

/// The house load at `t`, W.
fn house_load(config: &Config, constant: Option<f64>, t: DateTime<Utc>) -> f64 {
    if let Some(w) = constant {
        return w;
    }
    match config.simulate.load_w {
        Some(hourly) => hourly[clock::local(config.timezone, t).hour() as usize],
        None => DEFAULT_LOAD_W,
    }
}

/// Solar power at `t`, W: a half sine from sunrise to sunset at `[site]` (else 06:00 to 18:00
/// local) holding the day's energy.
fn solar(config: &Config, t: DateTime<Utc>) -> f64 {
    let Some(kwh) = config.simulate.solar_kwh_per_day else {
        return 0.0;
    };
    let local = clock::local(config.timezone, t);
    // From sunrise to sunset at [site], else from 06:00 to 18:00 local, in hours from midnight.
    let (rise, set) = config
        .site
        .and_then(|site| crate::sun::daylight(&site, local.date()))
        .map_or((6.0, 18.0), |d| {
            let midnight = t - TimeDelta::seconds(i64::from(local.num_seconds_from_midnight()));
            let h = |x: DateTime<Utc>| (x - midnight).num_seconds() as f64 / 3600.0;
            (h(d.sunrise), h(d.sunset))
        });
    let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
    if !(rise..set).contains(&hour) {
        return 0.0;
    }
    let length = set - rise;
    let peak_w = kwh * 1000.0 * std::f64::consts::PI / (2.0 * length);
    peak_w * (std::f64::consts::PI * (hour - rise) / length).sin()
}

/// The GX for one step: the slot in force by its own clock rule, or plain ESS.
fn gx_step(config: &Config, s: &mut State) -> Flows {
    let m = &config.simulate;
    let capacity_wh = config.schedule.battery_capacity_kwh * 1000.0;
    let dt_h = STEP.num_seconds() as f64 / 3600.0;
    let ev_w = if s.kicking { ev_power(config) } else { 0.0 };
    let load_w = house_load(config, s.constant_load, s.t);
    let net = load_w + ev_w - solar(config, s.t);
    let gx_tz = config.gx.timezone;
    let in_force = s.slot.as_ref().and_then(|slot| {
        let wall = clock::gx_wall_seconds(gx_tz, slot.start, slot.end);
        clock::gx_in_force(gx_tz, slot.start, wall, s.t).then(|| {
            let stop = clock::gx_stop(gx_tz, slot.start, wall);
            (slot, ((stop - s.t).num_seconds().max(60) as f64) / 3600.0)
        })
    });
    // An ESS scheduled charge (the owner's script): charge at full power to its limit, then
    // hold; no discharge inside the window.
    let scheduled = s.fixed.iter().find(|w| w.contains(s.t));
    let charge_slot =
        in_force.is_some_and(|(slot, _)| slot.kind != WindowKind::Drain) || scheduled.is_some();
    let wanted = match (s.cycle, in_force, scheduled) {
        (Cycle::Stripping { .. }, _, _) => 0.0,
        (_, Some((slot, hours_left)), _) => slot_power(config, slot, s.soc, net, hours_left),
        (_, None, Some(w)) if s.soc < f64::from(w.soc) - 0.05 => m.charge_w,
        (_, None, Some(_)) => 0.0,
        (_, None, None) => plain_ess(m, s.soc, s.min_soc, net),
    };
    // In its maintenance discharge the BMS takes no charge: a charge slot then holds it idle.
    let wanted = if s.cycle == Cycle::Draining {
        wanted.min(0.0)
    } else {
        wanted
    };
    // Energy limits: never below 0 % (nor below the minimum outside a drain), never above 100 %.
    let floor = match in_force {
        Some((slot, _)) if slot.kind == WindowKind::Drain => f64::from(slot.soc),
        Some(_) => s.min_soc.min(s.soc),
        None if scheduled.is_some() => s.soc,
        None if s.soc < s.min_soc => s.soc,
        None => s.min_soc,
    };
    let max_out = (s.soc - floor).max(0.0) / 100.0 * capacity_wh / dt_h;
    let max_in = (100.0 - s.soc).max(0.0) / 100.0 * capacity_wh / dt_h;
    let battery_w = wanted.clamp(-max_out, max_in);
    let soc_before = s.soc;
    s.soc = (s.soc + battery_w * dt_h / capacity_wh * 100.0).clamp(0.0, 100.0);
    s.battery_w = battery_w;
    Flows {
        soc_before,
        battery_w,
        grid_w: net + battery_w,
        ev_w,
        charge_slot,
    }
}

/// Battery power in a slot in force (+ charging): a drain discharges at the rate that reaches
/// its target at the end; below a charge target the GX charges at that rate (from the grid only
/// with `grid_charge`); at the target it holds.
fn slot_power(config: &Config, slot: &Slot, soc: f64, net: f64, hours_left: f64) -> f64 {
    let m = &config.simulate;
    let capacity_wh = config.schedule.battery_capacity_kwh * 1000.0;
    let target = f64::from(slot.soc);
    let rate = (target - soc).abs() / 100.0 * capacity_wh / hours_left;
    if slot.kind == WindowKind::Drain {
        return if soc > target {
            -rate.min(m.discharge_w)
        } else {
            0.0
        };
    }
    if soc > target + 0.5 {
        // Above the target with battery → grid blocked: the battery feeds the loads down to it.
        return -net.clamp(0.0, m.discharge_w);
    }
    if soc >= target - 0.05 {
        return 0.0;
    }
    let rate = rate.min(m.charge_w);
    if config.schedule.grid_charge {
        rate
    } else {
        rate.min((-net).max(0.0))
    }
}

/// Plain ESS: the battery covers the loads down to the minimum SoC, solar surplus charges it,
/// and the GX recharges from the grid when 5 points below the minimum.
fn plain_ess(m: &SimulateConfig, soc: f64, min_soc: f64, net: f64) -> f64 {
    if soc < min_soc - 5.0 {
        return m.charge_w;
    }
    if net > 0.0 {
        if soc > min_soc {
            -net.min(m.discharge_w)
        } else {
            0.0
        }
    } else {
        (-net).min(m.charge_w)
    }
}

/// The running accounts: samples, days, maintenances, findings.
struct Book {
    samples: Vec<Sample>,
    days: Vec<Day>,
    maintenances: Vec<Maintenance>,
    findings: Vec<String>,
    /// The current peak's grid energy and why the battery did not cover it.
    peak: Option<PeakTally>,
    /// The last slot seen, to check its target when it ends.
    last_slot: Option<Slot>,
    /// Whether the battery was in its maintenance cycle while that slot was in force.
    slot_during_maintenance: bool,
    metrics: Metrics,
}

struct PeakTally {
    start: DateTime<Utc>,
    grid_kwh: f64,
    stripping: bool,
    at_min: bool,
}

fn in_peak(config: &Config, t: DateTime<Utc>) -> bool {
    config.peaks.iter().any(|p| {
        clock::instances(p, config.timezone, &config.schedule.holidays, t, 1, 0)
            .iter()
            .any(|i| i.contains(t))
    })
}

impl Book {
    fn new(config: &Config, s: &State) -> Book {
        Book {
            samples: Vec::new(),
            days: Vec::new(),
            maintenances: if s.cycle == Cycle::Idle {
                Vec::new()
            } else {
                vec![Maintenance {
                    due: s.due.min(s.t),
                    empty: None,
                    done: None,
                    deadline: drain::deadline(config, s.t).0,
                    on_time: None,
                }]
            },
            findings: Vec::new(),
            peak: None,
            last_slot: None,
            slot_during_maintenance: false,
            metrics: Metrics::default(),
        }
    }

    fn maintenance_started(&mut self, config: &Config, due: DateTime<Utc>) {
        self.maintenances.push(Maintenance {
            due,
            empty: None,
            done: None,
            deadline: drain::deadline(config, due).0,
            on_time: None,
        });
        self.day_event("due");
    }

    fn maintenance_empty(&mut self, t: DateTime<Utc>) {
        self.day_event("empty");
        if let Some(m) = self.maintenances.last_mut() {
            m.empty = Some(t);
            m.on_time = Some(m.deadline.is_none_or(|d| t <= d));
            if m.on_time == Some(false) {
                self.day_event("late");
            }
        }
    }

    fn maintenance_done(&mut self, t: DateTime<Utc>) {
        if let Some(m) = self.maintenances.last_mut() {
            m.done = Some(t);
        }
        self.day_event("done");
    }

    fn day_event(&mut self, event: &'static str) {
        if let Some(d) = self.days.last_mut() {
            d.events.push(event);
        }
    }

    /// Books one step's flows.
    fn record(&mut self, config: &Config, s: &State, f: &Flows) {
        let dt_h = STEP.num_seconds() as f64 / 3600.0;
        let date = clock::local(config.timezone, s.t).date();
        if self.days.last().is_none_or(|d| d.date != date) {
            self.days.push(Day {
                date,
                lowest_soc: s.soc,
                ..Day::default()
            });
        }
        let peak = in_peak(config, s.t);
        if let Some(day) = self.days.last_mut() {
            day.lowest_soc = day.lowest_soc.min(s.soc);
            day.grid_import_kwh += f.grid_w.max(0.0) * dt_h / 1000.0;
            day.grid_export_kwh += (-f.grid_w).max(0.0) * dt_h / 1000.0;
            day.ev_kwh += f.ev_w * dt_h / 1000.0;
            if peak {
                day.peak_grid_kwh += f.grid_w.max(0.0) * dt_h / 1000.0;
            }
        }
        if f.charge_slot && s.cycle != Cycle::Idle {
            self.metrics.blocked_charge_h += dt_h;
        }
        self.tally_peak(config, s, f, peak);
        self.check_slot_end(config, s);
        if clock::local(config.timezone, s.t).minute() == 0 {
            if s.cycle == Cycle::Idle && s.t < s.due - TimeDelta::hours(24) {
                self.metrics.normal_hours += 1;
                self.metrics.reserve_hours += u32::from(f.soc_before >= RESERVE_SOC);
            }
            self.samples.push(Sample {
                t: s.t,
                soc: f.soc_before,
                phase: match s.cycle {
                    Cycle::Idle => "normal",
                    Cycle::Draining => "draining",
                    Cycle::Stripping { .. } => "stripping",
                },
                slot: s.slot.clone().filter(|slot| slot.contains(s.t)),
                battery_w: f.battery_w,
                grid_w: f.grid_w,
                ev_w: f.ev_w,
                peak,
            });
        }
    }

    /// A peak that took energy from the grid, with why the battery did not cover it.
    fn tally_peak(&mut self, config: &Config, s: &State, f: &Flows, peak: bool) {
        let dt_h = STEP.num_seconds() as f64 / 3600.0;
        if peak {
            let tally = self.peak.get_or_insert(PeakTally {
                start: s.t,
                grid_kwh: 0.0,
                stripping: false,
                at_min: false,
            });
            tally.grid_kwh += f.grid_w.max(0.0) * dt_h / 1000.0;
            tally.stripping |= matches!(s.cycle, Cycle::Stripping { .. });
            tally.at_min |= f.grid_w > 1.0 && s.soc <= s.min_soc + 0.5;
            return;
        }
        let Some(t) = self.peak.take() else { return };
        if t.grid_kwh < 0.05 {
            return;
        }
        let why = if t.stripping {
            "the battery was stripping for maintenance"
        } else if t.at_min {
            "the battery was empty (at its minimum SoC)"
        } else {
            "the loads were more than the battery's discharge_w"
        };
        self.findings.push(format!(
            "the peak from {} took {:.1} kWh from the grid: {why}",
            plan::short_local(config.timezone, t.start),
            t.grid_kwh
        ));
    }

    /// A charge slot that ended below its target.
    fn check_slot_end(&mut self, config: &Config, s: &State) {
        if let Some(slot) = &self.last_slot {
            let ended = s.t >= slot.end;
            if ended && slot.kind != WindowKind::Drain && s.soc < f64::from(slot.soc) - 2.0 {
                let why = if self.slot_during_maintenance {
                    "the battery was still in its maintenance cycle and took no charge; see [drain]"
                } else {
                    "raise [simulate] charge_w if the charger can, or lengthen the window"
                };
                self.findings.push(format!(
                    "the slot {} ({}) ended at {:.0} %, short of its {} % target: {why}",
                    plan::local_span(config.timezone, slot.start, slot.end),
                    slot.window,
                    s.soc,
                    slot.soc
                ));
            }
            if ended {
                self.last_slot = None;
                self.slot_during_maintenance = false;
            }
        }
        if let Some(slot) = s.slot.as_ref().filter(|slot| slot.contains(s.t)) {
            self.last_slot = Some(slot.clone());
            self.slot_during_maintenance |= s.cycle != Cycle::Idle;
        }
    }

    fn finish(
        mut self,
        config: &Config,
        start: &Start,
        model: SimulateConfig,
        s: &State,
    ) -> Simulation {
        let tz = config.timezone;
        for m in &self.maintenances {
            if let (Some(empty), Some(deadline), Some(false)) = (m.empty, m.deadline, m.on_time) {
                self.findings.push(format!(
                    "the maintenance due {} was empty at {}, after its deadline {}: see [drain]",
                    plan::short_local(tz, m.due),
                    plan::short_local(tz, empty),
                    plan::short_local(tz, deadline)
                ));
            }
            let held = s.cycle == Cycle::Draining && s.min_soc > 0.0 && s.soc <= s.min_soc + 0.5;
            if m.empty.is_none() && held {
                self.findings.push(format!(
                    "the maintenance due {} never emptied the battery: the ESS minimum SoC held it at {:.0} %; lower schedule.maintenance_min_soc (the tool sets it on the GX for every maintenance)",
                    plan::short_local(tz, m.due),
                    s.min_soc
                ));
            }
        }
        Simulation {
            start: *start,
            model,
            default_load_w: DEFAULT_LOAD_W,
            samples: self.samples,
            maintenances: self.maintenances,
            days: self.days,
            findings: self.findings,
            metrics: self.metrics,
        }
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
