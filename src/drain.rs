//! The maintenance drain: when it will be empty (a forecast), and the opt-in drain slot that
//! exports to the grid when it would be late. Pure functions of the config, the plan and what
//! the GX (and the EV charger) report.
//!
//! A ZCell's maintenance discharge only runs as fast as the site uses power. Victron's Dynamic
//! ESS treats a target-SoC slot whose target is below the battery's SoC, with restrictions 2
//! (grid → battery blocked, battery → grid allowed) and AllowGridFeedIn 1, as a scheduled
//! discharge: it feeds the loads and exports the rest at the rate that reaches the target when
//! the slot ends. A target of 0 % is not a target to the GX, so the drain slot aims for 1 %.

use chrono::{DateTime, Days, TimeDelta, Utc};

use crate::clock;
use crate::config::Config;
use crate::ev::codec::{NOMINAL_VOLTS, STATUS_CHARGING, STATUS_READY};
use crate::plan::{Phase, Plan, Slot, Stage, WindowKind, local_span, short_local, span};
use crate::sun::{self, Cover};

/// The drain slot's target: the lowest the GX takes as a target.
pub const DRAIN_SOC: u8 = 1;
/// A drain slot shorter than this is not worth writing.
const SHORTEST_DRAIN: TimeDelta = TimeDelta::minutes(5);
/// How long a ZCell strips once empty ("a couple of hours"): the drain must end this long
/// before the next peak so that the strip is done when it starts.
pub const STRIP: TimeDelta = TimeDelta::hours(2);

/// What the GX and the EV charger report, for the forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Readings {
    /// The GX's battery SoC (843), %.
    pub battery_soc: f64,
    /// AC loads L1-L3 (817-819), W, the EV charger's own power included.
    pub ac_loads_w: [u16; 3],
    /// The charger's power and status, when `[ev]` is enabled and it was read.
    pub charger: Option<(u16, u16)>,
    /// Solar power now, W, when the GX's readings give it (loads + battery − grid).
    pub pv_w: Option<f64>,
}

/// Solar power from the GX's system block, W: what the loads take plus what the battery takes
/// less what the grid gives (AC loads 817-819, grid 820-822, battery power 842); `None` when
/// any of them is missing (an old Modbus server read without 820-822).
pub fn pv_estimate(
    loads_w: [Option<u16>; 3],
    grid_w: [Option<u16>; 3],
    battery_w: Option<f64>,
) -> Option<f64> {
    let loads: f64 = loads_w
        .iter()
        .map(|w| w.map(f64::from))
        .sum::<Option<f64>>()?;
    let grid: f64 = grid_w
        .iter()
        .map(|w| w.map(|raw| f64::from(raw as i16)))
        .sum::<Option<f64>>()?;
    Some((loads + battery_w? - grid).max(0.0))
}

/// Grid power L1-L3 (system `/Ac/Grid/L1..L3/Power`, int16 W), inside the 817-846 block the
/// tool already reads.
pub const GRID_POWER: [u16; 3] = [820, 821, 822];

/// Where a forecast's deadline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineFrom {
    /// `[drain] by`.
    By,
    /// The start of the first after-maintenance window.
    Refill,
    /// Sunrise at `[site]`.
    Sunrise,
    /// A peak window's start less the strip.
    Peak,
}

/// Where the house load in the forecast comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadSource {
    /// The GX's AC loads when the tool ran (one reading).
    Gx,
    /// `[drain] night_load_w`.
    Config,
}

/// When the maintenance drain will be empty, and whether that is in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub battery_soc: f64,
    pub energy_kwh: f64,
    pub load_w: u32,
    pub load_source: LoadSource,
    pub ev_w: u32,
    pub start: DateTime<Utc>,
    /// `None`: never (no load to drain into).
    pub finish: Option<DateTime<Utc>>,
    /// `None`: no deadline (no `[drain] by` and no after-maintenance window).
    pub deadline: Option<DateTime<Utc>>,
    /// Whether the deadline came from `[drain] by`.
    pub deadline_from_by: bool,
    /// What set the deadline.
    pub deadline_from: DeadlineFrom,
    /// When solar covers the house (no drain then), as the forecast assumed it.
    pub cover: Cover,
    pub on_time: bool,
}

impl Forecast {
    /// Drain power, W: the house and the EV.
    pub fn power_w(&self) -> u32 {
        self.load_w + self.ev_w
    }
}

/// The forecast, in the maintenance phase only (`None` otherwise, and in the safe state).
pub fn forecast(config: &Config, plan: &Plan, r: &Readings) -> Option<Forecast> {
    let due = plan.due?;
    if plan.phase != Phase::Maintenance || plan.stage == Stage::Unknown {
        return None;
    }
    let now = plan.now;
    let (load_w, load_source) = house_load(config, r);
    let cover = sun::cover(config, now, r.pv_w, f64::from(load_w));
    // Before due, the house drains the battery until then (outside the hours solar covers
    // it), and a window still to end by due charges it first.
    let soc = if plan.stage == Stage::Approaching {
        let used = |from| {
            f64::from(load_w) * sun::drain_hours(config, &cover, from, due)
                / (config.schedule.battery_capacity_kwh * 10.0)
        };
        plan.candidates
            .iter()
            .filter(|c| c.end > now && c.end <= due)
            .map(|c| f64::from(c.soc) - used(c.end))
            .fold(r.battery_soc - used(now), f64::max)
            .max(0.0)
    } else {
        r.battery_soc
    };
    let energy_kwh = soc.max(0.0) / 100.0 * config.schedule.battery_capacity_kwh;
    let (_, ev_connected) = match r.charger {
        Some((power, status)) => (
            power,
            STATUS_READY.contains(&status) || status == STATUS_CHARGING,
        ),
        None => (0, false),
    };

    let ev_w = match &config.ev {
        Some(ev) if ev.enabled && ev_connected => {
            u32::from(ev.current_a) * u32::from(NOMINAL_VOLTS)
        }
        _ => 0,
    };
    let start = now.max(due);
    let (deadline, deadline_from) = deadline_of(config, start);
    let power = load_w + ev_w;
    let finish = (power > 0).then(|| {
        let hours = energy_kwh * 1000.0 / f64::from(power);
        sun::after_drain_hours(config, &cover, start, hours)
    });
    let on_time = match (finish, deadline) {
        (Some(f), Some(d)) => f <= d,
        (Some(_), None) => true,
        (None, _) => false,
    };
    Some(Forecast {
        battery_soc: r.battery_soc,
        energy_kwh,
        load_w,
        load_source,
        ev_w,
        start,
        finish,
        deadline,
        deadline_from_by: deadline_from == DeadlineFrom::By,
        deadline_from,
        cover,
        on_time,
    })
}

/// The house load for the forecast, W, and where it came from: `[drain] night_load_w`, else
/// the GX's AC loads less the EV charger's own power.
fn house_load(config: &Config, r: &Readings) -> (u32, LoadSource) {
    match config.drain.night_load_w {
        Some(w) => (w, LoadSource::Config),
        None => {
            let loads: u32 = r.ac_loads_w.iter().map(|w| u32::from(*w)).sum();
            let ev = r.charger.map_or(0, |(power, _)| u32::from(power));
            (loads.saturating_sub(ev), LoadSource::Gx)
        }
    }
}

/// `[drain] by` at or after `start`, else the start of the first after-maintenance window at
/// or after it; and whether it came from `by`.
pub fn deadline(config: &Config, start: DateTime<Utc>) -> (Option<DateTime<Utc>>, bool) {
    let (at, from) = deadline_of(config, start);
    (at, from == DeadlineFrom::By)
}

/// The drain's deadline from `start`: `[drain] by` when set; otherwise the earliest of the
/// first after-maintenance window's start, sunrise at `[site]`, and the first morning peak
/// time (on any day) at least [`STRIP`] after `start`, less the strip (so the strip is done
/// when the peak starts), each at or after `start`.
pub fn deadline_of(config: &Config, start: DateTime<Utc>) -> (Option<DateTime<Utc>>, DeadlineFrom) {
    if config.drain.by.is_some() {
        return (by_or_refill(config, start), DeadlineFrom::By);
    }
    let sunrise = config
        .site
        .and_then(|site| sun::next_sunrise(&site, config.timezone, start));
    let peak = next_peak_time(config, start + STRIP).map(|t| t - STRIP);
    [
        (by_or_refill(config, start), DeadlineFrom::Refill),
        (sunrise, DeadlineFrom::Sunrise),
        (peak, DeadlineFrom::Peak),
    ]
    .into_iter()
    .filter_map(|(t, from)| t.map(|t| (t, from)))
    .min_by_key(|(t, _)| *t)
    .map_or((None, DeadlineFrom::Refill), |(t, from)| (Some(t), from))
}

/// The start of the first peak instance at or after `t`, within a week.
pub fn next_peak_start(config: &Config, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    config
        .peaks
        .iter()
        .flat_map(|p| clock::instances(p, config.timezone, &config.schedule.holidays, t, 0, 7))
        .map(|i| i.start)
        .filter(|s| *s >= t)
        .min()
}

/// The first start time of a morning peak (one that starts before noon) at or after `t` on
/// any day, whatever days the peak applies on: the strip is kept clear of the morning peak
/// every day, so that where it lands (and so where the next maintenance falls due) stays put
/// from cycle to cycle. An evening peak is no deadline: the battery covers it, and the drain
/// comes after it.
pub fn next_peak_time(config: &Config, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz = config.timezone;
    let today = clock::local(tz, t).date();
    config
        .peaks
        .iter()
        .filter(|p| p.start.minutes() < 12 * 60)
        .flat_map(|p| {
            (0..2).filter_map(move |d| {
                let date = today.checked_add_days(Days::new(d))?;
                Some(clock::to_instant(tz, date.and_time(p.start.naive())))
            })
        })
        .filter(|s| *s >= t)
        .min()
}

/// Whether an evening peak (one that starts at noon or later) runs at `t` or starts within
/// `within` after it.
pub fn evening_peak_near(config: &Config, t: DateTime<Utc>, within: TimeDelta) -> bool {
    let tz = config.timezone;
    config
        .peaks
        .iter()
        .filter(|p| p.start.minutes() >= 12 * 60)
        .flat_map(|p| clock::instances(p, tz, &config.schedule.holidays, t, 1, 1))
        .any(|i| i.end > t && i.start < t + within)
}

/// Whether a peak window covers `t`.
pub fn in_peak(config: &Config, t: DateTime<Utc>) -> bool {
    config.peaks.iter().any(|p| {
        clock::instances(p, config.timezone, &config.schedule.holidays, t, 1, 0)
            .iter()
            .any(|i| i.contains(t))
    })
}

/// `[drain] by` at or after `start`, else the start of the first after-maintenance window at
/// or after it.
fn by_or_refill(config: &Config, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz = config.timezone;
    if let Some(by) = config.drain.by {
        let today = clock::local(tz, start).date();
        return [0, 1].into_iter().find_map(|d| {
            let date = today.checked_add_days(Days::new(d))?;
            Some(clock::to_instant(tz, date.and_time(by.naive()))).filter(|t| *t >= start)
        });
    }
    let s = &config.schedule;
    s.after_maintenance
        .iter()
        .flat_map(|w| clock::instances(w, tz, &s.holidays, start, 0, 7))
        .map(|i| i.start)
        .filter(|t| *t >= start)
        .min()
}

/// The plan with the drain slot in place of its slot, when `[drain] export` is on, maintenance
/// is due or running, the forecast is late, a deadline exists and the battery is above 1 %.
/// Otherwise the plan as it was.
pub fn with_export(config: &Config, mut plan: Plan, f: Option<&Forecast>) -> Plan {
    let Some(f) = f else { return plan };
    let Some(deadline) = f.deadline else {
        return plan;
    };
    let now = plan.now;
    // Fill for the peak, drain after it: never a drain slot in a peak (the battery feeds the
    // house there anyway), and one ends where the next peak starts.
    let next_peak = next_peak_start(config, now);
    let (end, soc) = match (plan.stage, plan.due) {
        // Before due, only after the last peak before it, down to what the house drains from
        // due to the deadline.
        (Stage::Approaching, Some(due)) if next_peak.is_none_or(|p| p >= due) => {
            (due, pre_due_soc(config, f, due, deadline))
        }
        (Stage::Approaching, _) => return plan,
        // A peak before the deadline: it is covered first, and the drain comes after it.
        _ if next_peak.is_some_and(|p| p < deadline) => return plan,
        _ => (deadline, DRAIN_SOC),
    };
    let window_now = plan
        .slot
        .as_ref()
        .is_some_and(|s| s.contains(now) && s.window != crate::plan::CAP_WINDOW);
    let wanted = config.drain.export
        && matches!(plan.stage, Stage::Due | Stage::Active | Stage::Approaching)
        && !(plan.stage == Stage::Approaching && window_now)
        && f.battery_soc
            > f64::from(soc)
                + if plan.stage == Stage::Approaching {
                    2.0
                } else {
                    0.0
                }
        && (!f.on_time || timed(plan.stage, f))
        && !in_peak(config, now)
        && end - now >= SHORTEST_DRAIN
        && f.battery_soc > f64::from(DRAIN_SOC);
    if !wanted {
        return plan;
    }
    let tz = config.timezone;
    let why = if f.on_time {
        "the drain is on time; timed to end at the deadline, so the strip ends at the same time of day every cycle".to_string()
    } else {
        format!("the drain would be late ({})", finish_words(config, f))
    };
    plan.reasons.push(format!(
        "{why} → drain slot: {} to {soc} %, exporting to the grid what the house does not use ([drain] export)",
        local_span(tz, now, end)
    ));
    plan.slot = Some(Slot {
        kind: WindowKind::Drain,
        window: "drain".to_string(),
        start: now,
        end,
        soc,
    });
    plan
}

/// Once maintenance is due, a drain on time is timed too (without an EV taking the energy):
/// the drain slot empties the battery exactly at the deadline, so the strip ends at the same
/// time of day cycle after cycle and the next due stays clear of the morning.
fn timed(stage: Stage, f: &Forecast) -> bool {
    matches!(stage, Stage::Due | Stage::Active) && f.ev_w == 0
}

/// The SoC to export down to before `due`: what the house (and EV) drains from `due` to the
/// deadline, at least [`DRAIN_SOC`].
fn pre_due_soc(config: &Config, f: &Forecast, due: DateTime<Utc>, deadline: DateTime<Utc>) -> u8 {
    let hours = sun::drain_hours(config, &f.cover, due, deadline);
    let pct = f64::from(f.power_w()) * hours / (config.schedule.battery_capacity_kwh * 10.0);
    pct.clamp(f64::from(DRAIN_SOC), 100.0).floor() as u8
}

/// `finishing Wed 11:45, after the 03:00 refill window` and the like.
fn finish_words(config: &Config, f: &Forecast) -> String {
    let tz = config.timezone;
    let finish = match f.finish {
        Some(t) => format!("finishing {}", short_local(tz, t)),
        None => "never finishing (no load to drain into)".to_string(),
    };
    let hhmm = |d: DateTime<Utc>| d.with_timezone(&tz).format("%H:%M").to_string();
    match (f.deadline, f.deadline_from) {
        (Some(d), DeadlineFrom::By) => {
            format!("{finish}, after drain.by ({})", short_local(tz, d))
        }
        (Some(d), DeadlineFrom::Refill) => format!("{finish}, after the {} refill window", hhmm(d)),
        (Some(d), DeadlineFrom::Sunrise) => format!("{finish}, after sunrise ({})", hhmm(d)),
        (Some(d), DeadlineFrom::Peak) => format!(
            "{finish}, too late for the strip ({} h) to be done by the {} peak",
            STRIP.num_hours(),
            hhmm(d + STRIP)
        ),
        (None, _) => finish,
    }
}

/// The warning for a drain that will be late, with what would help; `None` when on time or
/// when the drain slot takes care of it.
pub fn late_warning(config: &Config, plan: &Plan, f: &Forecast) -> Option<String> {
    if f.on_time
        || plan
            .slot
            .as_ref()
            .is_some_and(|s| s.kind == WindowKind::Drain)
    {
        return None;
    }
    let needs = match f.finish {
        Some(finish) => format!(" needs {}", span(finish - f.start)),
        None => String::new(),
    };
    let ev_on = config.ev.as_ref().is_some_and(|ev| ev.enabled);
    let help = match (config.drain.export, ev_on && f.ev_w == 0) {
        (true, _) => "[drain] export drains to the grid once maintenance is due".to_string(),
        (false, true) => "enable `[drain] export` or plug in the EV".to_string(),
        (false, false) if ev_on => "enable `[drain] export`".to_string(),
        (false, false) => "enable `[drain] export`, or `[ev]` with an EV plugged in".to_string(),
    };
    Some(format!(
        "maintenance drain: {:.1} kWh at {} W{needs}, {}; {help}",
        f.energy_kwh,
        f.power_w(),
        finish_words(config, f)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{config, hobart};

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        hobart(2026, 11, d, h, m)
    }

    use crate::testing::{plan_at, readings};

    #[test]
    fn active_drain_late_before_the_refill_window() {
        // Wed 21:00, stripping at 59 %: 5.9 kWh at 400 W needs 14 h 45 min → Thu 11:45, after
        // the 03:00 refill window.
        let c = config("");
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(59.0, 400)).unwrap();
        assert!((f.energy_kwh - 5.9).abs() < 1e-9);
        assert_eq!((f.load_w, f.load_source, f.ev_w), (400, LoadSource::Gx, 0));
        assert_eq!(f.start, at(25, 21, 0));
        assert_eq!(f.finish, Some(at(26, 11, 45)));
        assert_eq!(f.deadline, Some(at(26, 3, 0)));
        assert!(!f.on_time);
        let w = late_warning(&c, &p, &f).unwrap();
        assert_eq!(
            w,
            "maintenance drain: 5.9 kWh at 400 W needs 14 h 45 min, finishing Thu 11:45, after the 03:00 refill window; enable `[drain] export`, or `[ev]` with an EV plugged in"
        );
        // Without export the rules are unchanged.
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
    }

    #[test]
    fn due_starts_the_drain_at_due_and_approaching_counts_the_window_first() {
        let c = config("[drain]\nnight_load_w = 1000\n");
        // Approaching: Wed 07:00, due 19:40; the 13:00-16:00 window charges to 50 % first,
        // and the house (1 kW) drains 3 h 40 min of it before due: 1.33 kWh left.
        let p = plan_at(&c, at(25, 7, 0), at(25, 19, 40), false);
        assert_eq!(p.stage, Stage::Approaching);
        let f = forecast(&c, &p, &readings(30.0, 250)).unwrap();
        assert!((f.energy_kwh - 4.0 / 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!((f.load_w, f.load_source), (1000, LoadSource::Config));
        assert_eq!(f.start, at(25, 19, 40));
        assert_eq!(f.finish, Some(at(25, 21, 0)));
        assert!(f.on_time);
        // Due: overdue by an hour, the drain starts now.
        let p = plan_at(&c, at(25, 20, 40), at(25, 19, 40), false);
        assert_eq!(p.stage, Stage::Due);
        let f = forecast(&c, &p, &readings(30.0, 0)).unwrap();
        assert_eq!(f.start, at(25, 20, 40));
        assert_eq!(f.finish, Some(at(25, 23, 40)));
    }

    #[test]
    fn no_deadline_zero_load_and_the_normal_phase() {
        let c = config(
            "[[schedule.after_maintenance]]\nstart = \"03:00\"\nend = \"07:00\"\nmonths = [6]\n",
        );
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(50.0, 500)).unwrap();
        // No refill window in November: the morning peak less the strip is the deadline.
        assert_eq!(
            (f.deadline, f.deadline_from),
            (Some(at(26, 5, 0)), DeadlineFrom::Peak)
        );
        assert!(!f.on_time);
        let no_peaks = Config {
            peaks: Vec::new(),
            ..c.clone()
        };
        let f = forecast(&no_peaks, &p, &readings(50.0, 500)).unwrap();
        assert_eq!(f.deadline, None);
        assert!(f.on_time);
        let c = config("");
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(50.0, 0)).unwrap();
        assert_eq!((f.finish, f.on_time), (None, false));
        // Normal phase: no forecast.
        let p = plan_at(&c, at(23, 7, 0), at(26, 19, 40), false);
        assert!(forecast(&c, &p, &readings(50.0, 400)).is_none());
    }

    #[test]
    fn drain_by_sets_the_deadline() {
        let c = config("[drain]\nby = \"05:30\"\n");
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(20.0, 400)).unwrap();
        assert_eq!(f.deadline, Some(at(26, 5, 30)));
        assert!(f.deadline_from_by);
    }

    #[test]
    fn the_ev_counts_when_connected_and_its_own_power_leaves_the_house_load() {
        let c = config("[ev]\n");
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        // 1780 W on L1 of which 1380 W is the car: the house is 400 W, the EV 6 A × 230 V.
        let r = Readings {
            charger: Some((1380, STATUS_CHARGING)),
            ..readings(59.0, 1780)
        };
        let f = forecast(&c, &p, &r).unwrap();
        assert_eq!((f.load_w, f.ev_w), (400, 1380));
        // 5.9 kWh at 1780 W: 3 h 19 min → 00:19, on time.
        assert!(f.on_time, "{f:?}");
        let disconnected = Readings {
            charger: Some((0, 0)),
            ..readings(59.0, 400)
        };
        assert_eq!(forecast(&c, &p, &disconnected).unwrap().ev_w, 0);
    }

    #[test]
    fn export_drains_after_the_peak_and_times_the_drain_to_the_deadline() {
        let c = config("[drain]\nexport = true\n");
        let now = at(25, 21, 0);
        let p = plan_at(&c, now, at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(59.0, 400)).unwrap();
        let drained = with_export(&c, p.clone(), Some(&f));
        let slot = drained.slot.clone().unwrap();
        assert_eq!(
            (slot.kind, slot.start, slot.end, slot.soc),
            (WindowKind::Drain, now, at(26, 3, 0), 1)
        );
        assert!(late_warning(&c, &drained, &f).is_none());
        // On time: the same slot, timed to empty the battery at the deadline.
        let f_ok = forecast(&c, &p, &readings(10.0, 400)).unwrap();
        assert!(f_ok.on_time);
        let timed = with_export(&c, p.clone(), Some(&f_ok)).slot.unwrap();
        assert_eq!((timed.kind, timed.end), (WindowKind::Drain, at(26, 3, 0)));
        // At 1 % or below: nothing left to drain.
        let f_low = forecast(&c, &p, &readings(1.0, 0)).unwrap();
        assert_eq!(with_export(&c, p.clone(), Some(&f_low)), p);
        // In a peak, or with a peak before the deadline: no drain slot; the peak is covered
        // first (Wed 17:00, overdue since 15:00, the 16:00-21:00 peak running).
        let p = plan_at(&c, at(25, 17, 0), at(25, 15, 0), true);
        let f = forecast(&c, &p, &readings(80.0, 400)).unwrap();
        assert!(!f.on_time);
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
        let p = plan_at(&c, at(25, 11, 0), at(25, 10, 0), true);
        let f = forecast(&c, &p, &readings(80.0, 400)).unwrap();
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
        // Approaching, with a peak still to come before due: no drain slot, however late.
        let p = plan_at(&c, at(25, 7, 0), at(25, 19, 40), false);
        let f = forecast(&c, &p, &readings(59.0, 100)).unwrap();
        assert!(!f.on_time);
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
        // Approaching after the last peak before due (due Thu 04:00): export down to what the
        // house drains from due to the deadline (05:00, the 07:00 peak less the strip).
        let p = plan_at(&c, at(25, 21, 0), at(26, 4, 0), false);
        let f = forecast(&c, &p, &readings(90.0, 400)).unwrap();
        let pre = with_export(&c, p.clone(), Some(&f)).slot.unwrap();
        assert_eq!(
            (pre.kind, pre.start, pre.end, pre.soc),
            (WindowKind::Drain, at(25, 21, 0), at(26, 4, 0), 4)
        );
        // At the deadline itself: the refill window, not an empty drain.
        let p = plan_at(&c, at(26, 3, 0), at(25, 19, 40), true);
        let f = forecast(&c, &p, &readings(40.0, 400)).unwrap();
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
    }

    #[test]
    fn with_the_ev_the_drain_slot_comes_only_when_house_and_ev_cannot_finish() {
        let c = config("[drain]\nexport = true\n[ev]\n");
        let p = plan_at(&c, at(25, 21, 0), at(25, 19, 40), true);
        let charging = |soc| Readings {
            charger: Some((1380, STATUS_CHARGING)),
            ..readings(soc, 1780)
        };
        // 5.9 kWh at 1780 W is on time: no drain slot, the car takes it.
        let f = forecast(&c, &p, &charging(59.0)).unwrap();
        assert_eq!(with_export(&c, p.clone(), Some(&f)), p);
        // Double the capacity (a second battery's worth): 11.8 kWh cannot finish by 03:00.
        let c2 = config("[drain]\nexport = true\n[ev]\n[schedule]\nbattery_capacity_kwh = 20.0\n");
        let p2 = plan_at(&c2, at(25, 21, 0), at(25, 19, 40), true);
        let f = forecast(&c2, &p2, &charging(59.0)).unwrap();
        assert!(!f.on_time);
        let slot = with_export(&c2, p2, Some(&f)).slot.unwrap();
        assert_eq!(slot.kind, WindowKind::Drain);
        // The GX's rate reaches 1 % by 03:00: (59 - 1) % of 20 kWh over 6 h ≈ 1933 W, above
        // house + EV (1780 W), so the battery covers both and the car never takes the grid.
        let rate = (59.0 - 1.0) / 100.0 * 20_000.0 / 6.0;
        assert!(rate > f64::from(f.power_w()), "{rate} vs {}", f.power_w());
    }

    #[test]
    fn the_worked_night_in_the_readme() {
        let c = config("[drain]\nexport = true\n");
        let due = at(25, 19, 40);
        // Wed 07:00: late, but not due yet: warned, the maintenance window stays.
        let p = plan_at(&c, at(25, 7, 0), due, false);
        let f = forecast(&c, &p, &readings(59.0, 400)).unwrap();
        // The window's 50 % less what 400 W drains from 16:00 to 19:40: 3.53 kWh from 19:40.
        assert_eq!(f.finish, Some(at(26, 4, 30)));
        assert!(!f.on_time);
        let p = with_export(&c, p, Some(&f));
        assert_eq!(p.slot.as_ref().unwrap().kind, WindowKind::Maintenance);
        assert!(late_warning(&c, &p, &f).is_some());
        // Wed 21:00, stripping at 59 %: the drain slot to 03:00.
        let p = plan_at(&c, at(25, 21, 0), due, true);
        let f = forecast(&c, &p, &readings(59.0, 400)).unwrap();
        assert_eq!(f.finish, Some(at(26, 11, 45)));
        let slot = with_export(&c, p, Some(&f)).slot.unwrap();
        assert_eq!((slot.kind, slot.end), (WindowKind::Drain, at(26, 3, 0)));
        // Thu 03:00, at 1 % and stripping: no slot, the battery takes no charge yet.
        let p = plan_at(&c, at(26, 3, 0), due, true);
        let f = forecast(&c, &p, &readings(1.0, 400)).unwrap();
        assert_eq!(f.finish, Some(at(26, 3, 15)));
        assert_eq!(with_export(&c, p, Some(&f)).slot, None);
        // Thu 05:00, the cycle done (the timer restarted): the running night window, at once.
        let done = at(26, 5, 0);
        let p = plan_at(&c, done, done + TimeDelta::hours(72), false);
        let slot = p.slot.unwrap();
        assert_eq!(
            (slot.window.as_str(), slot.start, slot.soc),
            ("schedule.normal[1]", at(25, 21, 0), 100)
        );
        // With the EV at 6 A: 1780 W, empty about 00:19, on time, no drain slot.
        let c = config("[drain]\nexport = true\n[ev]\n");
        let p = plan_at(&c, at(25, 21, 0), due, true);
        let r = Readings {
            charger: Some((1380, STATUS_CHARGING)),
            ..readings(59.0, 1780)
        };
        let f = forecast(&c, &p, &r).unwrap();
        assert_eq!(f.finish, Some(at(26, 0, 18) + TimeDelta::seconds(53)));
        assert!(f.on_time);
    }
}
