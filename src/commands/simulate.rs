//! `simulate`: the start from the flags or one read of the devices, the rules run over the
//! battery model, and the report as JSON or text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms;
use crate::config::Config;
use crate::exit_codes::Exit;
use crate::gx::{self, GxError};
use crate::output::parts::SlotDoc;
use crate::output::{CommandName, Failures, long_local, rfc3339, rfc3339_opt};
use crate::plan::short_local;
use crate::simulate::Simulation;

/// What `simulate` was asked for; a missing SoC or due time is read from the devices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulateArgs {
    pub from: Option<DateTime<Utc>>,
    pub days: u32,
    pub soc: Option<f64>,
    pub due_in_h: Option<f64>,
    pub load_w: Option<f64>,
}

/// `simulate`: the start from the flags, or from one read of the BMS (the maintenance timer)
/// and the GX (the SoC) for what they leave out; then the model, writing nothing.
pub fn simulate(config: &Config, now: DateTime<Utc>, args: &SimulateArgs) -> SimulateReport {
    let from = args.from.unwrap_or(now);
    let mut failures = Failures::default();
    let (due_in, stripping) = match args.due_in_h {
        Some(h) => (Some(chrono::TimeDelta::seconds((h * 3600.0) as i64)), false),
        None => match bms::read(&config.bms) {
            Ok(r) => (Some(r.due(now) - now), r.any_stripping()),
            Err(e) => {
                failures.push(&e);
                (None, false)
            }
        },
    };
    let soc = match args.soc {
        Some(s) => Some(s),
        None => match gx::connect(&config.gx)
            .map_err(GxError::from)
            .and_then(|mut d| gx::read_system(&mut d, &gx::DRAIN))
        {
            Ok(system) => system.snapshot.value(crate::registers::BATTERY_SOC),
            Err(e) => {
                failures.push(&e);
                None
            }
        },
    };
    let simulation = match (soc, due_in) {
        (Some(soc), Some(due_in)) => Some(crate::simulate::run(
            config,
            &crate::simulate::Start {
                from,
                days: args.days,
                soc,
                due_in,
                stripping,
                load_w: args.load_w,
            },
        )),
        _ => None,
    };
    let (errors, exit_code) = failures.finish();
    SimulateReport::new(config, simulation.as_ref(), errors, exit_code)
}

/// Every parameter a simulation used.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDoc {
    /// Days asked for.
    pub days: u32,
    pub step_minutes: i64,
    pub start_soc: f64,
    /// Hours from `from` to the first maintenance due (negative: overdue).
    pub due_in_h: f64,
    pub start_stripping: bool,
    pub battery_capacity_kwh: f64,
    pub charge_w: f64,
    pub discharge_w: f64,
    pub strip_hours: f64,
    pub maintenance_interval_hours: f64,
    pub ess_min_soc: f64,
    pub empty_soc: f64,
    /// A constant load, W, or 24 hourly values.
    pub load_w: LoadDoc,
    pub solar_kwh_per_day: Option<f64>,
    pub ev_connected: Option<String>,
    /// Local times the rules run (as cron runs `apply`), `HH:MM`.
    pub runs: Vec<String>,
}

/// The house load a simulation used: one value, W, or 24 hourly values from 00:00.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum LoadDoc {
    Constant(f64),
    Hourly([f64; 24]),
}

#[derive(Debug, Clone, Serialize)]
pub struct StepDoc {
    #[serde(serialize_with = "rfc3339")]
    pub t: DateTime<Utc>,
    pub soc: f64,
    pub phase: &'static str,
    pub slot: Option<SlotDoc>,
    pub battery_w: f64,
    pub grid_w: f64,
    pub ev_w: f64,
    pub peak: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceDoc {
    #[serde(serialize_with = "rfc3339")]
    pub due: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub empty: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub done: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub deadline: Option<DateTime<Utc>>,
    pub on_time: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayDoc {
    pub date: chrono::NaiveDate,
    pub events: Vec<&'static str>,
    pub peak_grid_kwh: f64,
    pub lowest_soc: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub ev_kwh: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TotalsDoc {
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub peak_grid_kwh: f64,
    pub ev_kwh: f64,
}

/// `simulate`. Without a start (a device could not be read) only the errors.
#[derive(Debug, Serialize)]
pub struct SimulateReport {
    pub command: CommandName,
    #[serde(serialize_with = "rfc3339_opt")]
    pub from: Option<DateTime<Utc>>,
    pub model: Option<ModelDoc>,
    pub steps: Vec<StepDoc>,
    pub maintenances: Vec<MaintenanceDoc>,
    /// One entry per local day touched.
    pub days: Vec<DayDoc>,
    pub totals: Option<TotalsDoc>,
    pub findings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl SimulateReport {
    pub fn new(
        config: &Config,
        sim: Option<&Simulation>,
        errors: Vec<String>,
        exit_code: Exit,
    ) -> SimulateReport {
        let tz = config.timezone;
        let gx_tz = config.gx.timezone;
        let Some(sim) = sim else {
            return SimulateReport {
                command: CommandName::Simulate,
                from: None,
                model: None,
                steps: Vec::new(),
                maintenances: Vec::new(),
                days: Vec::new(),
                totals: None,
                findings: Vec::new(),
                errors,
                exit_code,
            };
        };
        let days: Vec<DayDoc> = sim
            .days
            .iter()
            .map(|d| DayDoc {
                date: d.date,
                events: d.events.clone(),
                peak_grid_kwh: round2(d.peak_grid_kwh),
                lowest_soc: round2(d.lowest_soc),
                grid_import_kwh: round2(d.grid_import_kwh),
                grid_export_kwh: round2(d.grid_export_kwh),
                ev_kwh: round2(d.ev_kwh),
            })
            .collect();
        let sum = |f: fn(&crate::simulate::Day) -> f64| round2(sim.days.iter().map(f).sum());
        SimulateReport {
            command: CommandName::Simulate,
            from: Some(sim.start.from),
            model: Some(model_doc(config, sim)),
            steps: sim
                .samples
                .iter()
                .map(|s| StepDoc {
                    t: s.t,
                    soc: round2(s.soc),
                    phase: s.phase,
                    slot: s.slot.as_ref().map(|slot| SlotDoc::new(tz, gx_tz, slot)),
                    battery_w: s.battery_w.round(),
                    grid_w: s.grid_w.round(),
                    ev_w: s.ev_w.round(),
                    peak: s.peak,
                })
                .collect(),
            maintenances: sim
                .maintenances
                .iter()
                .map(|m| MaintenanceDoc {
                    due: m.due,
                    empty: m.empty,
                    done: m.done,
                    deadline: m.deadline,
                    on_time: m.on_time,
                })
                .collect(),
            days,
            totals: Some(TotalsDoc {
                grid_import_kwh: sum(|d| d.grid_import_kwh),
                grid_export_kwh: sum(|d| d.grid_export_kwh),
                peak_grid_kwh: sum(|d| d.peak_grid_kwh),
                ev_kwh: sum(|d| d.ev_kwh),
            }),
            findings: sim.findings.clone(),
            errors,
            exit_code,
        }
    }
}

fn model_doc(config: &Config, sim: &Simulation) -> ModelDoc {
    let m = &sim.model;
    let load_w = match (sim.start.load_w, m.load_w) {
        (Some(w), _) => LoadDoc::Constant(w),
        (None, Some(hourly)) => LoadDoc::Hourly(hourly),
        (None, None) => LoadDoc::Constant(sim.default_load_w),
    };
    ModelDoc {
        days: sim.start.days,
        step_minutes: crate::simulate::STEP.num_minutes(),
        start_soc: sim.start.soc,
        due_in_h: round2(sim.start.due_in.num_seconds() as f64 / 3600.0),
        start_stripping: sim.start.stripping,
        battery_capacity_kwh: config.schedule.battery_capacity_kwh,
        charge_w: m.charge_w,
        discharge_w: m.discharge_w,
        strip_hours: m.strip_hours,
        maintenance_interval_hours: m.maintenance_interval_hours,
        ess_min_soc: m.ess_min_soc,
        empty_soc: m.empty_soc,
        load_w,
        solar_kwh_per_day: m.solar_kwh_per_day,
        ev_connected: m.ev_connected.map(|(a, b)| format!("{a}-{b}")),
        runs: crate::cron::apply_times(config)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

pub fn simulate_text(config: &Config, r: &SimulateReport) -> String {
    let tz = config.timezone;
    let (Some(from), Some(model)) = (r.from, &r.model) else {
        return "simulate: no start (see the errors above; --soc and --due-in need no device)"
            .to_string();
    };
    let mut t = format!(
        "Simulation from {} for {} days ({}), {}-minute steps; nothing was written\n",
        long_local(tz, from),
        model.days,
        tz.name(),
        model.step_minutes
    );
    t += &format!(
        "  start: SoC {:.0} %, maintenance due in {:.1} h{}; load {} W; solar {}; rules run at {}\n",
        model.start_soc,
        model.due_in_h,
        if model.start_stripping {
            " (running)"
        } else {
            ""
        },
        match model.load_w {
            LoadDoc::Constant(w) => format!("{w:.0}"),
            LoadDoc::Hourly(_) => "hourly profile, see [simulate] load_w,".to_string(),
        },
        model
            .solar_kwh_per_day
            .map_or("none".to_string(), |k| format!("{k} kWh/day")),
        model.runs.join(", ")
    );
    t += "\n  day          maintenance         peak grid  lowest SoC  import  export      EV\n";
    for d in &r.days {
        t += &format!(
            "  {:<11}  {:<18} {:>6.1} kWh {:>8.0} % {:>6.1} {:>7.1} {:>7.1} kWh\n",
            d.date.format("%a %d %b"),
            if d.events.is_empty() {
                "-".to_string()
            } else {
                d.events.join(", ")
            },
            d.peak_grid_kwh,
            d.lowest_soc,
            d.grid_import_kwh,
            d.grid_export_kwh,
            d.ev_kwh
        );
    }
    if let Some(tot) = &r.totals {
        t += &format!(
            "  {:<11}  {:<18} {:>6.1} kWh {:>10} {:>6.1} {:>7.1} {:>7.1} kWh\n",
            "total",
            "",
            tot.peak_grid_kwh,
            "",
            tot.grid_import_kwh,
            tot.grid_export_kwh,
            tot.ev_kwh
        );
    }
    t += &format!("\nSoC, one column per hour\n{}", soc_chart(tz, &r.steps));
    t += &maintenances_text(tz, r);
    t += "\nFindings\n";
    if r.findings.is_empty() {
        t += "  none: every peak was covered, every maintenance finished by its deadline, every slot reached its target\n";
    }
    for f in &r.findings {
        t += &format!("  • {f}\n");
    }
    t
}

fn maintenances_text(tz: Tz, r: &SimulateReport) -> String {
    let mut t = "\nMaintenance\n".to_string();
    if r.maintenances.is_empty() {
        t += "  none due in this period\n";
    }
    let at = |x: Option<DateTime<Utc>>| x.map_or("-".to_string(), |x| short_local(tz, x));
    for m in &r.maintenances {
        t += &format!(
            "  due {}: empty {}, strip done {}, deadline {}: {}\n",
            short_local(tz, m.due),
            at(m.empty),
            at(m.done),
            at(m.deadline),
            match m.on_time {
                Some(true) => "on time",
                Some(false) => "LATE",
                None => "not empty within the period",
            }
        );
    }
    t
}

/// SoC as columns of `█` (one per hour, five bands of 20 %), with the peaks, the slot and the
/// maintenance under it.
fn soc_chart(tz: Tz, steps: &[StepDoc]) -> String {
    let mut t = String::new();
    let mut days = String::new();
    for (i, s) in steps.iter().enumerate() {
        let local = s.t.with_timezone(&tz);
        if (local.format("%H").to_string() == "00" || i == 0) && days.chars().count() <= i {
            while days.chars().count() < i {
                days.push(' ');
            }
            days += &local.format("%a %d ").to_string();
        }
    }
    t += &format!("  {:<7}{}\n", "", days.trim_end());
    for level in [100, 80, 60, 40, 20] {
        let row: String = steps
            .iter()
            .map(|s| {
                if s.soc >= f64::from(level) - 10.0 {
                    '█'
                } else {
                    ' '
                }
            })
            .collect();
        t += &format!("  {:>3} %  {}\n", level, row.trim_end());
    }
    let row = |f: &dyn Fn(&StepDoc) -> char| -> String { steps.iter().map(f).collect() };
    t += &format!(
        "  {:<7}{}\n",
        "peak",
        row(&|s| if s.peak { '#' } else { '.' })
    );
    t += &format!(
        "  {:<7}{}\n",
        "slot",
        row(&|s| match &s.slot {
            Some(slot) if slot.kind == crate::plan::WindowKind::Drain => 'd',
            Some(_) => '=',
            None => '.',
        })
    );
    t += &format!(
        "  {:<7}{}\n",
        "maint",
        row(&|s| match s.phase {
            "draining" => '>',
            "stripping" => 's',
            _ => '.',
        })
    );
    t += "  █ SoC (20 % bands)  # peak  = charge slot  d drain slot  > maintenance discharge  s strip\n";
    t
}
