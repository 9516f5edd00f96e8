//! One home for the decision: the plan, the `soc = "auto"` targets, the drain forecast, the
//! drain slot and the warnings, in that order. `plan`, `apply`, `status` and `simulate` all
//! call [`decide`], so what they show is what `apply` writes.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::drain::{self, Forecast, Readings};
use crate::ev::codec::{NOMINAL_VOLTS, STATUS_CHARGING, STATUS_READY};
use crate::plan::{CAP_WINDOW, LOOKAHEAD, Plan, Slot, Stage, WindowKind, local_span};
use crate::sun;

/// The house load the auto target assumes when neither `[drain] night_load_w` nor the GX
/// gives one, W.
pub const DEFAULT_LOAD_W: u32 = 400;

/// How long before the drain's deadline the auto target aims to have the battery empty: the
/// house load is a forecast, and a drain that misses sunrise in summer stalls until sunset.
pub const MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// How long before a due the cap slot may start: two days, so that in summer solar does not
/// fill the battery the day before the maintenance lead begins.
pub const CAP_AHEAD: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// At or below this SoC, %, the battery counts as empty before a due, and the cap slot holds it.
pub const EMPTY_SOC: f64 = 2.0;

/// What the rules decided, with the forecast behind it and what the owner should know.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub plan: Plan,
    pub forecast: Option<Forecast>,
    pub warnings: Vec<String>,
}

/// The chain: `plan` (from `plan::plan` or `plan::safe_plan`) with its auto targets chosen,
/// the drain forecast from the GX's readings (none without them), the drain slot with
/// `[drain] export`, and the late-drain warning.
pub fn decide(config: &Config, plan: Plan, readings: Option<&Readings>) -> Decision {
    let plan = with_auto_targets(config, plan, readings);
    let plan = with_cap(config, plan, readings);
    let forecast = readings.and_then(|r| drain::forecast(config, &plan, r));
    let plan = drain::with_export(config, plan, forecast.as_ref());
    let warnings = forecast
        .as_ref()
        .and_then(|f| drain::late_warning(config, &plan, f))
        .into_iter()
        .collect();
    Decision {
        plan,
        forecast,
        warnings,
    }
}

/// Whether a run should read the GX's readings (battery SoC, loads, solar) for the decision:
/// in the maintenance phase (the drain forecast), and with `soc = "auto"` also within
/// [`CAP_AHEAD`] of a due (the cap slot). `apply` and `simulate` both ask this.
pub fn wants_readings(config: &Config, plan: &Plan) -> bool {
    let Some(due) = plan.due else { return false };
    let any_auto = config.schedule.maintenance.iter().any(|w| w.is_auto());
    plan.phase == crate::plan::Phase::Maintenance || (any_auto && due - plan.now <= CAP_AHEAD)
}

/// The house (and EV) load the auto target drains into, W: `[drain] night_load_w`, else the
/// GX's loads less the charger's own power, else [`DEFAULT_LOAD_W`]; and the EV's, when
/// `[ev]` is on and a car is connected.
fn loads(config: &Config, readings: Option<&Readings>) -> (u32, u32) {
    let charger = readings.and_then(|r| r.charger);
    let ev_power = charger.map_or(0, |(power, _)| u32::from(power));
    let house = config.drain.night_load_w.unwrap_or_else(|| {
        readings.map_or(DEFAULT_LOAD_W, |r| {
            let sum: u32 = r.ac_loads_w.iter().map(|w| u32::from(*w)).sum();
            sum.saturating_sub(ev_power)
        })
    });
    let connected = charger.is_some_and(|(_, s)| STATUS_READY.contains(&s) || s == STATUS_CHARGING);
    let ev = match &config.ev {
        Some(ev) if ev.enabled && connected => u32::from(ev.current_a) * u32::from(NOMINAL_VOLTS),
        _ => 0,
    };
    (house, ev)
}

/// The target of a `soc = "auto"` maintenance window: as much as the house (and a connected
/// EV) can drain from the window's end to the drain's deadline, not counting the hours solar
/// covers the house — which covers the peaks in between — plus `maintenance_min_soc`, at most
/// 100 %. With `[drain] export` no more is needed: the drain slot empties what is left once
/// the peak is over.
pub fn auto_target(config: &Config, plan: &Plan, slot: &Slot, readings: Option<&Readings>) -> u8 {
    let Some(due) = plan.due else {
        return slot.soc;
    };
    let (house, ev) = loads(config, readings);
    let cover = sun::cover(
        config,
        plan.now,
        readings.and_then(|r| r.pv_w),
        f64::from(house),
    );
    let until = empty_by(config, due).unwrap_or(due + LOOKAHEAD);
    let hours = sun::drain_hours(config, &cover, slot.end, until);
    let wh = f64::from(house + ev) * hours;
    let capacity_wh = config.schedule.battery_capacity_kwh * 1000.0;
    let pct = wh / capacity_wh * 100.0 + f64::from(config.schedule.maintenance_min_soc);
    pct.clamp(0.0, 100.0).round() as u8
}

/// How long the battery takes to refill for the evening peak once its strip is over.
pub const RECHARGE: chrono::TimeDelta = chrono::TimeDelta::hours(4);

/// When the auto targets aim to have the battery empty. The strip starts once the battery is
/// empty and the next due comes 72 h after it ends, so every hour the empty lags the due puts
/// every later due an hour later in the day, until one lands in the morning, too late for its
/// strip to be over by the morning peak. So the battery aims to be empty at the due itself
/// (no margin: emptier sooner gains nothing, the strip starts at the due), unless an evening
/// peak runs at the due or starts before the strip is over and the battery refilled: then it
/// covers the peak and drains into the night, to an hour ([`MARGIN`]) before the deadline.
/// With `[drain] export` the drain slot empties the battery at the deadline, so the targets
/// aim there too. `None`: no deadline.
pub fn empty_by(config: &Config, due: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let deadline = drain::deadline_of(config, due).0?;
    let evening = drain::evening_peak_near(config, due, drain::STRIP + RECHARGE);
    if config.drain.export || evening || due >= deadline {
        return Some(deadline - MARGIN);
    }
    Some(due)
}

/// An auto window's target; a normal window's own target capped by it.
fn capped(config: &Config, plan: &Plan, slot: &Slot, readings: Option<&Readings>) -> u8 {
    let auto = auto_target(config, plan, slot, readings);
    match slot.kind {
        WindowKind::Normal => auto.min(slot.soc),
        _ => auto,
    }
}

/// The plan with every `soc = "auto"` maintenance window's target chosen (in the candidates
/// and the slot), and a reason saying how. With any auto window, a normal window that ends
/// before the due is capped likewise, so the battery does not go into the maintenance full
/// from the night before.
fn with_auto_targets(config: &Config, mut plan: Plan, readings: Option<&Readings>) -> Plan {
    let any_auto = config.schedule.maintenance.iter().any(|w| w.is_auto());
    let Some(due) = plan.due else { return plan };
    if !any_auto || !matches!(plan.stage, Stage::Approaching | Stage::Normal) {
        return plan;
    }
    let is_auto = |slot: &Slot| match slot.kind {
        WindowKind::Maintenance => config
            .schedule
            .maintenance
            .iter()
            .any(|w| w.key == slot.window && w.is_auto()),
        WindowKind::Normal => slot.end <= due,
        _ => false,
    };
    let targets: Vec<Option<u8>> = plan
        .candidates
        .iter()
        .map(|c| is_auto(c).then(|| capped(config, &plan, c, readings)))
        .collect();
    // Whether the choice bound: an auto window, or a normal window capped below its own.
    let bound: Vec<bool> = plan
        .candidates
        .iter()
        .zip(&targets)
        .map(|(c, t)| t.is_some_and(|t| c.kind == WindowKind::Maintenance || t < c.soc))
        .collect();
    for (c, t) in plan.candidates.iter_mut().zip(&targets) {
        if let Some(t) = t {
            c.soc = *t;
        }
    }
    // A chosen target at or below the battery's SoC would only hold the battery there (at
    // its target the GX idles the battery and the house runs on the grid): such a window is
    // left out, and the battery drains into the house instead.
    if let Some(r) = readings {
        let before = plan.candidates.len();
        let mut kept = Vec::with_capacity(before);
        for ((c, t), bound) in plan.candidates.drain(..).zip(&targets).zip(&bound) {
            if !bound || t.is_none_or(|t| f64::from(t) > r.battery_soc + 1.0) {
                kept.push(c);
            }
        }
        plan.candidates = kept;
        if plan.candidates.len() < before {
            plan.slot = crate::plan::choose(&plan.candidates, plan.now);
        }
    }
    let chosen = plan
        .slot
        .as_ref()
        .filter(|s| is_auto(s))
        .map(|s| capped(config, &plan, s, readings));
    if let (Some(slot), Some(t)) = (plan.slot.as_mut(), chosen) {
        if slot.soc == t {
            return plan;
        }
        slot.soc = t;
        let (house, ev) = loads(config, readings);
        plan.reasons.push(format!(
            "{} soc \"auto\" → {t} %: what {} W can drain from {} to the drain's deadline, by night or while solar does not cover the house",
            slot.window,
            house + ev,
            crate::plan::short_local(config.timezone, slot.end)
        ));
    }
    plan
}

/// Before a due with `soc = "auto"`: when no window is in force and the battery holds more than
/// the house (and a connected EV) can drain from now to when it should be empty
/// ([`empty_by`]), a slot from now to the next window (or the due) with that level as its
/// target. Above its target the GX feeds the house from the battery and charges nothing, so
/// solar cannot fill the battery before the maintenance; the house drains it as plain ESS
/// would. Without `[drain] export`, a battery already empty is held at 1 % the same way.
fn with_cap(config: &Config, mut plan: Plan, readings: Option<&Readings>) -> Plan {
    let (Some(r), Some(due)) = (readings, plan.due) else {
        return plan;
    };
    let any_auto = config.schedule.maintenance.iter().any(|w| w.is_auto());
    let now = plan.now;
    if !any_auto
        || !(plan.stage == Stage::Approaching
            || (plan.stage == Stage::Normal && due - now <= CAP_AHEAD))
        || plan.slot.as_ref().is_some_and(|s| s.contains(now))
    {
        return plan;
    }
    let end = plan
        .slot
        .as_ref()
        .map_or(due, |s| s.start.min(due))
        .min(now + LOOKAHEAD);
    let probe = Slot {
        kind: WindowKind::Maintenance,
        window: CAP_WINDOW.to_string(),
        start: now,
        end: now,
        soc: 0,
    };
    let cap = auto_target(config, &plan, &probe, readings);
    // Empty already, and the house would drain no more by then: held at the lowest target
    // the GX takes, or the morning sun refills it and the BMS drains that only once the sun
    // has gone, into the evening peak, with the strip after it. (With export the drain slot
    // times the empty.)
    let empty =
        !config.drain.export && r.battery_soc <= EMPTY_SOC && f64::from(cap) <= r.battery_soc;
    let cap = if empty {
        cap.max(drain::DRAIN_SOC)
    } else {
        cap
    };
    if (f64::from(cap) + 2.0 >= r.battery_soc && !empty) || end <= now {
        return plan;
    }
    let span = local_span(config.timezone, now, end);
    plan.reasons.push(if empty {
        format!(
            "the battery is empty ({:.0} %) before the due → slot: {span} held at {cap} % (solar does not charge it)",
            r.battery_soc
        )
    } else {
        format!(
            "the battery ({:.0} %) holds more than the house can drain by the drain's deadline → slot: {span} capped at {cap} % (the battery feeds the house, solar does not charge it)",
            r.battery_soc
        )
    });
    plan.slot = Some(Slot {
        end,
        soc: cap,
        ..probe
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{config, hobart};

    const AUTO: &str =
        "[[schedule.maintenance]]\nstart = \"13:00\"\nend = \"16:00\"\nsoc = \"auto\"\n";

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        hobart(2026, 11, d, h, 0)
    }

    use crate::testing::readings;

    fn plan_at(c: &Config, now: DateTime<Utc>, due: DateTime<Utc>) -> Plan {
        crate::testing::plan_at(c, now, due, false)
    }

    #[test]
    fn the_auto_target_is_what_the_house_drains_by_the_deadline() {
        let c = config(AUTO);
        // Wed 07:00, due Wed 20:00, in the evening peak: 13:00-16:00, then 16:00 → Thu 02:00
        // (an hour before the 03:00 refill) is 10 h at 400 W: 4 kWh of 10, 40 %. The old
        // rules wrote the fixed 50 %.
        let p = plan_at(&c, at(25, 7), at(25, 20));
        let d = decide(&c, p, Some(&readings(20.0, 400)));
        let target = |d: &Decision, key: &str| {
            d.plan
                .candidates
                .iter()
                .find(|s| s.window == key && s.start == at(25, 13))
                .map(|s| s.soc)
        };
        assert_eq!(target(&d, "schedule.maintenance[0]"), Some(40));
        // The normal window 10:00-16:00 comes first, capped the same way.
        let slot = d.plan.slot.unwrap();
        assert_eq!((slot.window.as_str(), slot.soc), ("schedule.normal[0]", 40));
        // A 1 kW house drains more: 100 %.
        let p = plan_at(&c, at(25, 7), at(25, 20));
        assert_eq!(
            decide(&c, p, Some(&readings(20.0, 1000)))
                .plan
                .slot
                .unwrap()
                .soc,
            100
        );
        // Without readings: [drain] night_load_w, else 400 W.
        let p = plan_at(&c, at(25, 7), at(25, 20));
        assert_eq!(decide(&c, p, None).plan.slot.unwrap().soc, 40);
        // A fixed number still works.
        let fixed = config("");
        let p = plan_at(&fixed, at(25, 7), at(25, 20));
        assert_eq!(
            decide(&fixed, p, Some(&readings(20.0, 400)))
                .plan
                .slot
                .unwrap()
                .soc,
            50
        );
    }

    #[test]
    fn the_battery_aims_to_be_empty_at_the_due_unless_the_evening_peak_comes_first() {
        let c = config(AUTO);
        // Due Wed 09:00: the evening peak (16:00) starts after the strip and a refill, so the
        // battery aims to be empty at the due, not at the Thu 03:00 refill: the night window
        // is capped at what 400 W drains from 07:00 to 09:00 (8 %), where the old aim (an
        // hour before the deadline, 19 h: 76 %) left the battery to drain all day and empty
        // at 02:00, putting the next due at 04:00 and the one after it in the morning.
        assert_eq!(empty_by(&c, at(25, 9)), Some(at(25, 9)));
        let p = plan_at(&c, at(24, 21), at(25, 9));
        let slot = decide(&c, p, Some(&readings(5.0, 400))).plan.slot.unwrap();
        assert_eq!((slot.window.as_str(), slot.soc), ("schedule.normal[1]", 8));
        // Due Wed 13:00: the 16:00 peak comes before the strip is over and the battery
        // refilled, so the battery covers it and drains into the night, as before.
        assert_eq!(empty_by(&c, at(25, 13)), Some(at(26, 2)));
        let p = plan_at(&c, at(24, 21), at(25, 13));
        let slot = decide(&c, p, Some(&readings(5.0, 400))).plan.slot.unwrap();
        assert_eq!(slot.soc, 76);
        // Due Sat 13:00: no peak at the weekend, empty at the due.
        assert_eq!(empty_by(&c, at(28, 13)), Some(at(28, 13)));
        // Due at the deadline itself (the 03:00 refill): an hour before it.
        assert_eq!(empty_by(&c, at(26, 3)), Some(at(26, 2)));
        // With export the drain slot empties the battery at the deadline: aim there.
        let export = config(&format!("{AUTO}[drain]\nexport = true\n"));
        assert_eq!(empty_by(&export, at(25, 9)), Some(at(26, 2)));
    }

    #[test]
    fn an_empty_battery_is_held_empty_until_the_due() {
        // Wed 07:00, due 09:00, the battery at 1 % and the sun up (1 kW of solar on a 400 W
        // house): held at 1 % until the due. Without the slot the sun would refill it and
        // the BMS drain that only in the evening, into the peak, with the strip after it.
        let site = format!("{AUTO}[site]\nlatitude = -42.88\nlongitude = 147.33\n");
        let c = config(&site);
        let sunny = Readings {
            pv_w: Some(1000.0),
            ..readings(1.0, 400)
        };
        let p = plan_at(&c, at(25, 7), at(25, 9));
        let slot = decide(&c, p, Some(&sunny)).plan.slot.unwrap();
        assert_eq!(
            (slot.window.as_str(), slot.start, slot.end, slot.soc),
            (crate::plan::CAP_WINDOW, at(25, 7), at(25, 9), 1)
        );
        // With export the drain slot times the empty: no hold.
        let export = config(&format!("{site}[drain]\nexport = true\n"));
        let p = plan_at(&export, at(25, 7), at(25, 9));
        assert_eq!(decide(&export, p, Some(&sunny)).plan.slot, None);
    }

    #[test]
    fn the_sun_shortens_the_drain_and_so_the_target() {
        // With [site] in summer the hours solar covers the house (16:00 → sunset about
        // 20:45) do not count: a lower target than without the site.
        let site = format!("{AUTO}[site]\nlatitude = -42.88\nlongitude = 147.33\n");
        let c = config(&site);
        let p = plan_at(&c, at(25, 7), at(25, 20));
        let t = decide(&c, p, Some(&readings(20.0, 400)))
            .plan
            .slot
            .unwrap()
            .soc;
        assert!(t < 40 && t > 15, "{t}");
    }

    #[test]
    fn a_normal_window_before_the_due_is_capped_and_one_below_the_soc_is_left_out() {
        let c = config(AUTO);
        // Tue 21:00, due Wed 05:00: the night window ends after due, so only windows that end
        // by due are candidates; none runs now and the battery (90 %) holds more than 400 W
        // drains by Wed 04:00 (the 07:00 peak less the strip, less the hour's margin): the
        // cap slot.
        let p = plan_at(&c, at(24, 21), at(25, 5));
        let d = decide(&c, p, Some(&readings(90.0, 400)));
        let slot = d.plan.slot.unwrap();
        assert_eq!(slot.window, crate::plan::CAP_WINDOW);
        assert_eq!(
            (slot.start, slot.end, slot.soc),
            (at(24, 21), at(25, 5), 28)
        );
        // Mon 12:00, due Tue 04:00: the normal window Mon 10:00-16:00 ends by due; capped at
        // what 400 W drains from 16:00 to Tue 04:00 (12 h: 48 %), below the 60 % SoC, so it
        // is left out.
        let p = plan_at(&c, at(23, 12), at(24, 4));
        let d = decide(&c, p, Some(&readings(60.0, 400)));
        assert!(
            !d.plan
                .candidates
                .iter()
                .any(|s| s.window == "schedule.normal[0]" && s.start == at(23, 10)),
            "{:?}",
            d.plan.candidates
        );
        // From now the house drains 17 h × 400 W (68 %) by then: no cap either, plain ESS.
        assert_eq!(d.plan.slot, None);
    }
}

#[cfg(test)]
mod worked_day {
    use super::*;
    use crate::redflow::{Battery, BmsReading};
    use crate::testing::{config, hobart};
    use chrono::{DateTime, Utc};

    /// The README's worked maintenance day: the example config (`soc = "auto"`) with
    /// `reserve_soc = 30`, a 400 W house, due Wed 19:40; each run's BMS SoC, stripping and
    /// whether the cycle is done, and the slot it writes.
    #[test]
    fn the_readme_worked_day() {
        let c = config(
            "[schedule]\nreserve_soc = 30\n[[schedule.maintenance]]\nstart = \"13:00\"\nend = \"16:00\"\nsoc = \"auto\"\n",
        );
        let due = hobart(2026, 11, 25, 19, 40);
        let rows = [
            (
                (23, 7),
                80.0,
                false,
                false,
                Some("Mon 23 Nov 10:00-16:00 → 100"),
            ),
            (
                (23, 21),
                50.0,
                false,
                false,
                Some("Mon 23 Nov 21:00-Tue 24 07:00 → 100"),
            ),
            (
                (24, 7),
                100.0,
                false,
                false,
                Some("Tue 24 Nov 10:00-16:00 → 100"),
            ),
            (
                (24, 21),
                50.0,
                false,
                false,
                Some("Tue 24 Nov 21:00-Wed 25 07:00 → 76"),
            ),
            ((25, 7), 75.0, false, false, None),
            (
                (25, 13),
                58.0,
                false,
                false,
                Some("Wed 25 Nov 13:00-19:40 → 52"),
            ),
            ((25, 21), 30.0, true, false, None),
            ((26, 3), 0.0, true, false, None),
            (
                (26, 5),
                0.0,
                false,
                true,
                Some("Wed 25 Nov 21:00-Thu 26 07:00 → 100"),
            ),
        ];
        for ((d, h), soc, stripping, done, want) in rows {
            let now = hobart(2026, 11, d, h, 0);
            let timer = if done {
                0
            } else {
                259_200 - (due - now).num_seconds()
            };
            let got = slot_at(&c, now, soc, stripping, timer);
            assert_eq!(got.as_deref(), want, "{d} {h}:00");
        }
    }

    /// The slot `decide` chooses with one battery at `soc` and a 400 W house.
    fn slot_at(
        c: &Config,
        now: DateTime<Utc>,
        soc: f64,
        stripping: bool,
        timer: i64,
    ) -> Option<String> {
        let b = Battery {
            state_of_charge: soc,
            is_stripping: stripping,
            strip_pump_run_target: 259_200,
            strip_pump_run_timer: timer,
        };
        let p = crate::plan::plan(c, now, &BmsReading { batteries: vec![b] });
        let r = Readings {
            battery_soc: soc,
            ac_loads_w: [400, 0, 0],
            charger: None,
            pv_w: None,
        };
        let tz = c.timezone;
        decide(c, p, Some(&r)).plan.slot.map(|s| {
            format!(
                "{} → {}",
                crate::plan::local_span(tz, s.start, s.end),
                s.soc
            )
        })
    }
}
