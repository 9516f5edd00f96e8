//! The running accounts of a simulation: samples, days, maintenance cycles, peak import and
//! the findings an owner should read.

use super::{
    Cycle, DEFAULT_LOAD_W, Day, Flows, Maintenance, Metrics, RESERVE_SOC, STEP, Sample, Simulation,
    Start, State,
};
use crate::clock;
use crate::config::{Config, SimulateConfig};
use crate::drain;
use crate::plan::{self, Slot, WindowKind};
use chrono::{DateTime, TimeDelta, Timelike, Utc};

/// The running accounts: samples, days, maintenances, findings.
pub(super) struct Book {
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

pub(super) fn in_peak(config: &Config, t: DateTime<Utc>) -> bool {
    config.peaks.iter().any(|p| {
        clock::instances(p, config.timezone, &config.schedule.holidays, t, 1, 0)
            .iter()
            .any(|i| i.contains(t))
    })
}

impl Book {
    pub(super) fn new(config: &Config, s: &State) -> Book {
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

    pub(super) fn maintenance_started(&mut self, config: &Config, due: DateTime<Utc>) {
        self.maintenances.push(Maintenance {
            due,
            empty: None,
            done: None,
            deadline: drain::deadline(config, due).0,
            on_time: None,
        });
        self.day_event("due");
    }

    pub(super) fn maintenance_empty(&mut self, t: DateTime<Utc>) {
        self.day_event("empty");
        if let Some(m) = self.maintenances.last_mut() {
            m.empty = Some(t);
            m.on_time = Some(m.deadline.is_none_or(|d| t <= d));
            if m.on_time == Some(false) {
                self.day_event("late");
            }
        }
    }

    pub(super) fn maintenance_done(&mut self, t: DateTime<Utc>) {
        if let Some(m) = self.maintenances.last_mut() {
            m.done = Some(t);
        }
        self.day_event("done");
    }

    pub(super) fn day_event(&mut self, event: &'static str) {
        if let Some(d) = self.days.last_mut() {
            d.events.push(event);
        }
    }

    /// Books one step's flows.
    pub(super) fn record(&mut self, config: &Config, s: &State, f: &Flows) {
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
    pub(super) fn tally_peak(&mut self, config: &Config, s: &State, f: &Flows, peak: bool) {
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
    pub(super) fn check_slot_end(&mut self, config: &Config, s: &State) {
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

    pub(super) fn finish(
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
