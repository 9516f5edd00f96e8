//! The house and the GX in one 5-minute step: the load, the sun, and what the battery does
//! in a slot or under plain ESS.

use super::{Cycle, DEFAULT_LOAD_W, Flows, STEP, State, ev_power};
use crate::clock;
use crate::config::{Config, SimulateConfig};
use crate::plan::{Slot, WindowKind};
use chrono::{DateTime, TimeDelta, Timelike, Utc};

/// The house load at `t`, W.
pub(super) fn house_load(config: &Config, constant: Option<f64>, t: DateTime<Utc>) -> f64 {
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
pub(super) fn solar(config: &Config, t: DateTime<Utc>) -> f64 {
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
pub(super) fn gx_step(config: &Config, s: &mut State) -> Flows {
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
pub(super) fn slot_power(config: &Config, slot: &Slot, soc: f64, net: f64, hours_left: f64) -> f64 {
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
pub(super) fn plain_ess(m: &SimulateConfig, soc: f64, min_soc: f64, net: f64) -> f64 {
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
