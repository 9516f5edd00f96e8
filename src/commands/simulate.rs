//! `simulate`: the start from the flags or one read of the devices, the rules run over the
//! battery model, and the report as JSON or text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms;
use crate::config::{Config, SimulateConfig};
use crate::exit_codes::Exit;
use crate::gx::{self, GxError};
use crate::output::parts::SlotDoc;
use crate::output::{CommandName, Failures, long_local};
use crate::plan::short_local;
use crate::serial::{hundredths, rfc3339_opt};
use crate::simulate::{Day, Maintenance, Sample, Simulation};

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
    /// `[simulate]` as the model used it (its `load_w` is the one below).
    #[serde(flatten)]
    pub section: SimulateConfig,
    /// A constant load, W, or 24 hourly values.
    pub load_w: LoadDoc,
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

/// One hourly sample, with its slot in local time.
#[derive(Debug, Clone, Serialize)]
pub struct StepDoc {
    #[serde(flatten)]
    pub sample: Sample,
    pub slot: Option<SlotDoc>,
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
    pub maintenances: Vec<Maintenance>,
    /// One entry per local day touched.
    pub days: Vec<Day>,
    pub totals: Option<TotalsDoc>,
    pub findings: Vec<String>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
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
        let sum = |f: fn(&crate::simulate::Day) -> f64| hundredths(sim.days.iter().map(f).sum());
        SimulateReport {
            command: CommandName::Simulate,
            from: Some(sim.start.from),
            model: Some(model_doc(config, sim)),
            steps: sim
                .samples
                .iter()
                .map(|s| StepDoc {
                    sample: s.clone(),
                    slot: s.slot.as_ref().map(|slot| SlotDoc::new(tz, gx_tz, slot)),
                })
                .collect(),
            maintenances: sim.maintenances.clone(),
            days: sim.days.clone(),
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
        due_in_h: hundredths(sim.start.due_in.num_seconds() as f64 / 3600.0),
        start_stripping: sim.start.stripping,
        battery_capacity_kwh: config.schedule.battery_capacity_kwh,
        section: m.clone(),
        load_w,
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
            .section
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
            hundredths(d.peak_grid_kwh),
            hundredths(d.lowest_soc),
            hundredths(d.grid_import_kwh),
            hundredths(d.grid_export_kwh),
            hundredths(d.ev_kwh)
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
        let local = s.sample.t.with_timezone(&tz);
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
                if hundredths(s.sample.soc) >= f64::from(level) - 10.0 {
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
        row(&|s| if s.sample.peak { '#' } else { '.' })
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
        row(&|s| match s.sample.phase {
            "draining" => '>',
            "stripping" => 's',
            _ => '.',
        })
    );
    t += "  █ SoC (20 % bands)  # peak  = charge slot  d drain slot  > maintenance discharge  s strip\n";
    t
}
