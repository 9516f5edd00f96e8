//! `ev-kick`'s rules: one pure decision from the config, the BMS reading, the site's loads,
//! the charger's registers and the state file's record. The charger writes that carry it out
//! are the station codec's (`ev::codec`).
//!
//! The tool charges the car only while a maintenance discharge runs, and only a charge it
//! started itself: "kicking" means the state file records a kick *and* the charger is still in
//! manual mode at the recorded current. When the owner changes either, the tool forgets its
//! kick and stands down until that discharge ends, so it never fights the owner's choice.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{EvConfig, RestoreMode};
use crate::ev::codec::{
    Action, Charger, MODE_AUTO, MODE_MANUAL, MODE_SCHEDULED, NOMINAL_VOLTS, START, STATUS_CHARGING,
    STATUS_DISCONNECTED, STATUS_READY, mode_name, status_name,
};
use crate::plan::short_local;
use crate::redflow::BmsReading;

/// The site as the GX reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Site {
    /// AC loads on L1, L2, L3, W (the EV included when it is on the AC output).
    pub phases_w: [u16; 3],
    /// Battery power, W: positive charging, negative discharging.
    pub battery_power_w: i16,
}

impl Site {
    /// The loads on the configured phases, EV included.
    pub fn loads_w(&self, phases: &[u8]) -> i64 {
        phases
            .iter()
            .filter_map(|p| self.phases_w.get(usize::from(p.saturating_sub(1))))
            .map(|w| i64::from(*w))
            .sum()
    }

    /// The battery's discharge power, W (negative while it charges).
    pub fn discharge_w(&self) -> i64 {
        -i64::from(self.battery_power_w)
    }
}

/// What the state file holds between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// This tool started the charge: what it found before, to put back at the end.
    Kicking {
        started_at: DateTime<Utc>,
        previous_mode: u16,
        previous_current_a: u16,
        current_a: u16,
        /// Start/stop as found (0 stopped, 1 started). Absent in a record written before it was
        /// kept: then the charger is started again only in auto mode, as then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_start_stop: Option<u16>,
    },
    /// A start that did not read back and could not be undone in the same run: the next run
    /// puts the charger back as found, whatever it holds then, so no charge is left running
    /// that no run would stop.
    Unsettled {
        since: DateTime<Utc>,
        previous_mode: u16,
        previous_current_a: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_start_stop: Option<u16>,
    },
    /// The owner took the charger over during this discharge: hands off until it ends.
    StoodDown {
        since: DateTime<Utc>,
        reason: String,
    },
    /// This tool stopped its kick because the battery could not carry the car (the load rose,
    /// or the grid fed the car): no new kick before [`RETRY_AFTER`] has passed, so a battery
    /// that cannot keep up does not switch the car on and off every run.
    BackedOff {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// How long a kick stopped for load or grid waits before it may start again.
pub const RETRY_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// What to do with the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextRecord {
    Keep,
    Set(Record),
    Clear,
}

/// One run's decision, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub record: NextRecord,
    /// Why, in one sentence.
    pub reason: String,
    /// Whether a kick of this tool's was running when the run began.
    pub kicking: bool,
    /// Whether a maintenance discharge is running (unknown without the BMS).
    pub active: Option<bool>,
    /// Site load with the EV excluded, W (unknown without the GX).
    pub load_w: Option<i64>,
}

/// Everything one decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub config: &'a EvConfig,
    pub timezone: Tz,
    pub now: DateTime<Utc>,
    /// `None` when the BMS could not be read.
    pub bms: Option<&'a BmsReading>,
    /// `None` when the GX's loads could not be read (only possible with `via = "evcs"`).
    pub site: Option<Site>,
    pub charger: Charger,
    pub record: Option<&'a Record>,
}

/// Whether the maintenance discharge is running, and why not if not.
#[derive(Debug, Clone, PartialEq)]
enum Discharge {
    /// A battery strips at this SoC (1-based battery number, %).
    Active {
        battery: usize,
        soc: f64,
    },
    /// Batteries strip, but every one of them is below `min_battery_soc`.
    TooLow {
        soc: f64,
    },
    NotStripping,
}

fn discharge(bms: &BmsReading, min_soc: f64) -> Discharge {
    let stripping: Vec<(usize, f64)> = bms
        .batteries
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_stripping)
        .map(|(i, b)| (i + 1, b.state_of_charge))
        .collect();
    if let Some((battery, soc)) = stripping.iter().find(|(_, soc)| *soc >= min_soc) {
        return Discharge::Active {
            battery: *battery,
            soc: *soc,
        };
    }
    match stripping.iter().map(|(_, soc)| *soc).reduce(f64::max) {
        Some(soc) => Discharge::TooLow { soc },
        None => Discharge::NotStripping,
    }
}

/// The restore mode as a register value.
fn restore_mode(mode: RestoreMode, previous: u16) -> u16 {
    match mode {
        RestoreMode::Previous => previous,
        RestoreMode::Auto => MODE_AUTO,
        RestoreMode::Manual => MODE_MANUAL,
        RestoreMode::Scheduled => MODE_SCHEDULED,
    }
}

/// Whether a stopped kick starts the charger again: when it was found started. A record
/// without the start/stop found (written by an older version) keeps that version's rule: start
/// again in auto mode.
pub fn restarts(previous_start_stop: Option<u16>, mode: u16) -> bool {
    match previous_start_stop {
        Some(found) => found == START,
        None => mode == MODE_AUTO,
    }
}

/// What every branch of the decision knows: the discharge, and the load without the EV.
struct Facts<'a> {
    i: &'a Inputs<'a>,
    /// `None` without the BMS.
    discharge: Option<Discharge>,
    /// Site load with the EV excluded, W; `None` without the GX's loads.
    load_w: Option<i64>,
}

impl Facts<'_> {
    fn active(&self) -> Option<bool> {
        self.discharge
            .as_ref()
            .map(|d| matches!(d, Discharge::Active { .. }))
    }

    fn decision(
        &self,
        action: Action,
        record: NextRecord,
        kicking: bool,
        reason: String,
    ) -> Decision {
        Decision {
            action,
            record,
            reason,
            kicking,
            active: self.active(),
            load_w: self.load_w,
        }
    }

    /// No write, the record kept.
    fn nothing(&self, reason: String) -> Decision {
        self.decision(Action::Nothing, NextRecord::Keep, false, reason)
    }

    fn short(&self, t: DateTime<Utc>) -> String {
        short_local(self.i.timezone, t)
    }

    fn not_active_reason(&self, d: &Discharge) -> String {
        match d {
            Discharge::TooLow { soc } => format!(
                "the stripping battery is at {soc:.0} %, below ev.min_battery_soc ({:.0} %)",
                self.i.config.min_battery_soc
            ),
            _ => "no battery is in a maintenance discharge".to_string(),
        }
    }
}

/// The kick this tool recorded.
struct Kick {
    started_at: DateTime<Utc>,
    previous_mode: u16,
    previous_current_a: u16,
    current_a: u16,
    previous_start_stop: Option<u16>,
}

/// The decision for one run, by the state the record says the run starts from.
pub fn decide(i: &Inputs) -> Decision {
    let facts = Facts {
        i,
        discharge: i.bms.map(|b| discharge(b, i.config.min_battery_soc)),
        load_w: i
            .site
            .map(|s| (s.loads_w(&i.config.phases) - i64::from(i.charger.power_w)).max(0)),
    };
    match i.record {
        Some(Record::Kicking {
            started_at,
            previous_mode,
            previous_current_a,
            current_a,
            previous_start_stop,
        }) => while_kicking(
            &facts,
            &Kick {
                started_at: *started_at,
                previous_mode: *previous_mode,
                previous_current_a: *previous_current_a,
                current_a: *current_a,
                previous_start_stop: *previous_start_stop,
            },
        ),
        Some(Record::Unsettled {
            since,
            previous_mode,
            previous_current_a,
            previous_start_stop,
        }) => facts.decision(
            Action::Stop {
                mode: *previous_mode,
                current_a: *previous_current_a,
                restart: restarts(*previous_start_stop, *previous_mode),
            },
            NextRecord::Clear,
            false,
            format!(
                "a start at {} did not read back: putting the charger back as it was found",
                facts.short(*since)
            ),
        ),
        Some(Record::StoodDown { since, reason }) => stood_down(&facts, *since, reason),
        Some(Record::BackedOff { since, reason }) => {
            backed_off(&facts, *since, reason).unwrap_or_else(|| idle(&facts))
        }
        None => idle(&facts),
    }
}

/// A kick of this tool's runs: keep it, or stop it (and why), or let the owner have it.
fn while_kicking(f: &Facts, kick: &Kick) -> Decision {
    let (i, c, charger) = (f.i, f.i.config, f.i.charger);
    let since = f.short(kick.started_at);
    if charger.mode != MODE_MANUAL || charger.set_current_a != kick.current_a {
        return owner_took_over(f, &since);
    }
    let stop = |why: String, back_off: Option<&str>| {
        let mode = restore_mode(c.restore_mode, kick.previous_mode);
        let record = match back_off {
            Some(reason) => NextRecord::Set(Record::BackedOff {
                since: i.now,
                reason: reason.to_string(),
            }),
            None => NextRecord::Clear,
        };
        let action = Action::Stop {
            mode,
            current_a: kick.previous_current_a,
            restart: restarts(kick.previous_start_stop, mode),
        };
        f.decision(action, record, true, why)
    };
    let Some(discharge) = &f.discharge else {
        return stop("the BMS could not be read, so the discharge cannot be confirmed: stopping the kick (safe state)".to_string(), None);
    };
    match discharge {
        Discharge::Active { .. } => {}
        Discharge::TooLow { .. } => {
            let why = f.not_active_reason(discharge);
            return stop(
                format!("{why}: the car has had its share of this discharge"),
                None,
            );
        }
        Discharge::NotStripping => {
            return stop("the maintenance discharge has ended".to_string(), None);
        }
    }
    let (Some(site), Some(load)) = (i.site, f.load_w) else {
        return stop(
            "the GX's loads could not be read, so the grid cannot be ruled out: stopping the kick"
                .to_string(),
            None,
        );
    };
    let retry = f.short(i.now + RETRY_AFTER);
    if load > i64::from(c.stop_above_w) {
        return stop(
            format!(
                "the site load is {load} W without the EV, above ev.stop_above_w ({} W); no new kick before {retry}",
                c.stop_above_w
            ),
            Some("site load above ev.stop_above_w"),
        );
    }
    if charger.status == STATUS_DISCONNECTED {
        return stop("the EV was disconnected".to_string(), None);
    }
    let loads = site.loads_w(&c.phases);
    if site.discharge_w() < loads {
        return stop(
            format!(
                "the grid is feeding the car: the battery discharges {} W but the loads, EV included, are {loads} W; no new kick before {retry}",
                site.discharge_w()
            ),
            Some("the grid fed the car"),
        );
    }
    f.decision(
        Action::Nothing,
        NextRecord::Keep,
        true,
        format!(
            "kicking since {since}: the discharge runs, the site load is {load} W without the EV (stop above {} W), and the battery's {} W covers the loads ({loads} W, EV {} W)",
            c.stop_above_w,
            site.discharge_w(),
            charger.power_w
        ),
    )
}

/// The owner changed the mode or the current during a kick: forget it, and stand down until
/// this discharge ends.
fn owner_took_over(f: &Facts, since: &str) -> Decision {
    let charger = f.i.charger;
    let changed = format!(
        "charger changed to {} mode at {} A",
        mode_name(charger.mode),
        charger.set_current_a
    );
    let reason = format!(
        "the charger was changed to {} mode at {} A since this tool started its charge ({since}): it is the owner's now, so ev-kick leaves it alone",
        mode_name(charger.mode),
        charger.set_current_a
    );
    let record = if f.active() == Some(false) {
        NextRecord::Clear
    } else {
        NextRecord::Set(Record::StoodDown {
            since: f.i.now,
            reason: changed,
        })
    };
    f.decision(Action::Nothing, record, false, reason)
}

/// Standing down after an owner takeover: until the discharge ends.
fn stood_down(f: &Facts, since: DateTime<Utc>, reason: &str) -> Decision {
    if f.active() == Some(false) {
        f.decision(
            Action::Nothing,
            NextRecord::Clear,
            false,
            format!(
                "the discharge during which the owner took over the charger ({reason}, {}) has ended: ev-kick will act again in the next one",
                f.short(since)
            ),
        )
    } else {
        f.nothing(format!(
            "standing down since {}: the owner took over the charger ({reason}); ev-kick waits for this discharge to end",
            f.short(since)
        ))
    }
}

/// Backed off after a stop for load or grid: a decision while the wait lasts, `None` once a
/// new kick may be considered.
fn backed_off(f: &Facts, since: DateTime<Utc>, reason: &str) -> Option<Decision> {
    if f.active() == Some(false) {
        return Some(f.decision(
            Action::Nothing,
            NextRecord::Clear,
            false,
            "no battery is in a maintenance discharge".to_string(),
        ));
    }
    let retry = since + RETRY_AFTER;
    (f.i.now < retry).then(|| {
        f.nothing(format!(
            "the last kick stopped at {} ({reason}): no new kick before {}",
            f.short(since),
            f.short(retry)
        ))
    })
}

/// No kick runs: start one if every condition holds, else say which one does not.
fn idle(f: &Facts) -> Decision {
    let (i, c, charger) = (f.i, f.i.config, f.i.charger);
    let Some(discharge) = &f.discharge else {
        return f.nothing("the BMS could not be read: not starting a charge".to_string());
    };
    let Discharge::Active { battery, soc } = discharge else {
        return f.nothing(f.not_active_reason(discharge));
    };
    if !STATUS_READY.contains(&charger.status) {
        return f.nothing(match charger.status {
            STATUS_DISCONNECTED => "the maintenance discharge runs, but no EV is connected".to_string(),
            STATUS_CHARGING => "the charger is already charging a charge this tool did not start: it is left alone".to_string(),
            s => format!(
                "the maintenance discharge runs, but the charger is {} (status {s}), not ready to start",
                status_name(s)
            ),
        });
    }
    let (Some(site), Some(load)) = (i.site, f.load_w) else {
        return f.nothing("the GX's loads could not be read: not starting a charge".to_string());
    };
    if load >= i64::from(c.start_below_w) {
        return f.nothing(format!(
            "the site load is {load} W, not below ev.start_below_w ({} W): not starting",
            c.start_below_w
        ));
    }
    let loads = site.loads_w(&c.phases);
    if site.discharge_w() < loads {
        return f.nothing(format!(
            "the battery discharges {} W, less than the loads ({loads} W): the grid would feed the car, so not starting",
            site.discharge_w()
        ));
    }
    if c.current_a > charger.max_current_a {
        return f.nothing(format!(
            "the charger's maximum current is {} A, below ev.current_a ({} A): raise it on the charger or lower ev.current_a",
            charger.max_current_a, c.current_a
        ));
    }
    f.decision(
        Action::Start,
        NextRecord::Set(Record::Kicking {
            started_at: i.now,
            previous_mode: charger.mode,
            previous_current_a: charger.set_current_a,
            current_a: c.current_a,
            previous_start_stop: Some(charger.start_stop),
        }),
        false,
        format!(
            "battery {battery} is stripping at {soc:.0} %, the EV is {} and the site load is {load} W (below {} W): charging the car at {} A (about {} W)",
            status_name(charger.status),
            c.start_below_w,
            c.current_a,
            c.current_a * NOMINAL_VOLTS
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EvVia, Overrides};
    use crate::ev::codec::*;
    use crate::redflow::Battery;
    use crate::registers::{EVCS_CHARGER, GX_CHARGER};
    use chrono::TimeZone;

    fn config(extra: &str) -> EvConfig {
        let text = format!(
            "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:3000\"\n[gx]\nhost = \"127.0.0.1\"\n[ev]\n{extra}\n"
        );
        Config::parse(&text, &Overrides::default())
            .unwrap()
            .ev
            .unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 14, 5, 0).unwrap()
    }

    fn battery(soc: f64, stripping: bool) -> Battery {
        Battery {
            state_of_charge: soc,
            is_stripping: stripping,
            strip_pump_run_target: 259_200,
            strip_pump_run_timer: 259_200,
        }
    }

    fn bms(batteries: &[(f64, bool)]) -> BmsReading {
        BmsReading {
            batteries: batteries.iter().map(|(s, t)| battery(*s, *t)).collect(),
        }
    }

    /// An EV connected, auto mode, not charging.
    fn idle_charger() -> Charger {
        Charger {
            mode: MODE_AUTO,
            start_stop: STOP,
            status: 1,
            set_current_a: 16,
            max_current_a: 32,
            power_w: 0,
        }
    }

    /// This tool's charge at 6 A.
    fn our_charge() -> Charger {
        Charger {
            mode: MODE_MANUAL,
            start_stop: START,
            status: STATUS_CHARGING,
            set_current_a: 6,
            max_current_a: 32,
            power_w: 1380,
        }
    }

    /// A kick recorded by a version that did not keep the start/stop found.
    fn kicking() -> Record {
        Record::Kicking {
            started_at: now() - chrono::TimeDelta::minutes(30),
            previous_mode: MODE_AUTO,
            previous_current_a: 16,
            current_a: 6,
            previous_start_stop: None,
        }
    }

    /// Loads of 350 W on L1 plus the EV's power; the battery covers them with 200 W to spare.
    fn site_for(charger: &Charger) -> Site {
        let loads = 350 + charger.power_w;
        Site {
            phases_w: [loads, 0, 0],
            battery_power_w: -((loads + 200) as i16),
        }
    }

    fn run(
        c: &EvConfig,
        bms: Option<&BmsReading>,
        site: Option<Site>,
        charger: Charger,
        record: Option<&Record>,
    ) -> Decision {
        decide(&Inputs {
            config: c,
            timezone: chrono_tz::Australia::Hobart,
            now: now(),
            bms,
            site,
            charger,
            record,
        })
    }

    #[test]
    fn starts_when_stripping_with_an_ev_ready_and_a_small_load() {
        let c = config("");
        let b = bms(&[(60.0, true)]);
        for status in STATUS_READY {
            let ch = Charger {
                status,
                ..idle_charger()
            };
            let d = run(&c, Some(&b), Some(site_for(&ch)), ch, None);
            assert_eq!(d.action, Action::Start, "status {status}: {}", d.reason);
            assert_eq!(
                d.record,
                NextRecord::Set(Record::Kicking {
                    started_at: now(),
                    previous_mode: MODE_AUTO,
                    previous_current_a: 16,
                    current_a: 6,
                    previous_start_stop: Some(STOP),
                })
            );
            assert_eq!(d.load_w, Some(350));
        }
    }

    #[test]
    fn does_not_start_without_each_condition() {
        let c = config("");
        let b = bms(&[(60.0, true)]);
        let ch = idle_charger();
        let site = site_for(&ch);
        let cases: Vec<(&str, Decision)> = vec![
            (
                "not stripping",
                run(&c, Some(&bms(&[(60.0, false)])), Some(site), ch, None),
            ),
            (
                "SoC below min",
                run(&c, Some(&bms(&[(9.0, true)])), Some(site), ch, None),
            ),
            ("BMS unread", run(&c, None, Some(site), ch, None)),
            ("GX unread", run(&c, Some(&b), None, ch, None)),
            (
                "disconnected",
                run(&c, Some(&b), Some(site), Charger { status: 0, ..ch }, None),
            ),
            (
                "owner's charge",
                run(
                    &c,
                    Some(&b),
                    Some(site),
                    Charger {
                        status: STATUS_CHARGING,
                        mode: MODE_MANUAL,
                        start_stop: START,
                        set_current_a: 6,
                        power_w: 1380,
                        ..ch
                    },
                    None,
                ),
            ),
            (
                "charged",
                run(&c, Some(&b), Some(site), Charger { status: 3, ..ch }, None),
            ),
            (
                "load at start_below_w",
                run(
                    &c,
                    Some(&b),
                    Some(Site {
                        phases_w: [400, 300, 300],
                        battery_power_w: -1200,
                    }),
                    ch,
                    None,
                ),
            ),
            (
                "grid already feeding the loads",
                run(
                    &c,
                    Some(&b),
                    Some(Site {
                        phases_w: [350, 0, 0],
                        battery_power_w: -300,
                    }),
                    ch,
                    None,
                ),
            ),
            (
                "max current below ours",
                run(
                    &c,
                    Some(&b),
                    Some(site),
                    Charger {
                        max_current_a: 5,
                        ..ch
                    },
                    None,
                ),
            ),
        ];
        for (what, d) in cases {
            assert_eq!(d.action, Action::Nothing, "{what}: {}", d.reason);
            assert_eq!(d.record, NextRecord::Keep, "{what}");
            assert!(!d.kicking, "{what}");
        }
    }

    #[test]
    fn one_stripping_battery_of_several_is_enough() {
        let c = config("min_battery_soc = 20");
        let ch = idle_charger();
        let b = bms(&[(90.0, false), (15.0, true), (45.0, true)]);
        let d = run(&c, Some(&b), Some(site_for(&ch)), ch, None);
        assert_eq!(d.action, Action::Start);
        assert!(d.reason.contains("battery 3"), "{}", d.reason);
        // The only stripping battery is below the minimum: not active, though another is full.
        let b = bms(&[(90.0, false), (15.0, true)]);
        let d = run(&c, Some(&b), Some(site_for(&ch)), ch, None);
        assert_eq!(d.action, Action::Nothing);
        assert!(d.reason.contains("15 %"), "{}", d.reason);
    }

    #[test]
    fn keeps_charging_while_every_condition_holds() {
        let c = config("");
        let ch = our_charge();
        let record = kicking();
        let d = run(
            &c,
            Some(&bms(&[(40.0, true)])),
            Some(site_for(&ch)),
            ch,
            Some(&record),
        );
        assert_eq!(d.action, Action::Nothing, "{}", d.reason);
        assert_eq!(d.record, NextRecord::Keep);
        assert!(d.kicking);
        // The EV's own power is not counted as site load.
        assert_eq!(d.load_w, Some(350));
        // A load between start_below_w and stop_above_w keeps the kick (hysteresis).
        let site = Site {
            phases_w: [1380 + 1500, 300, 0],
            battery_power_w: -3500,
        };
        let d = run(
            &c,
            Some(&bms(&[(40.0, true)])),
            Some(site),
            ch,
            Some(&record),
        );
        assert_eq!(d.action, Action::Nothing, "{}", d.reason);
        assert_eq!(d.load_w, Some(1800));
    }

    #[test]
    fn stops_on_each_condition_and_restores_the_previous_mode() {
        let c = config("");
        let ch = our_charge();
        let record = kicking();
        let stripping = bms(&[(40.0, true)]);
        let site = site_for(&ch);
        let cases: Vec<(&str, Decision)> = vec![
            (
                "ended",
                run(
                    &c,
                    Some(&bms(&[(40.0, false)])),
                    Some(site),
                    ch,
                    Some(&record),
                ),
            ),
            (
                "SoC below min",
                run(
                    &c,
                    Some(&bms(&[(9.5, true)])),
                    Some(site),
                    ch,
                    Some(&record),
                ),
            ),
            ("BMS unread", run(&c, None, Some(site), ch, Some(&record))),
            (
                "GX unread",
                run(&c, Some(&stripping), None, ch, Some(&record)),
            ),
            (
                "load above stop_above_w",
                run(
                    &c,
                    Some(&stripping),
                    Some(Site {
                        phases_w: [1380 + 1000, 1000, 600],
                        battery_power_w: -5000,
                    }),
                    ch,
                    Some(&record),
                ),
            ),
            (
                "EV disconnected",
                run(
                    &c,
                    Some(&stripping),
                    Some(site),
                    Charger {
                        status: 0,
                        power_w: 0,
                        ..ch
                    },
                    Some(&record),
                ),
            ),
            (
                "grid feeding the car",
                run(
                    &c,
                    Some(&stripping),
                    Some(Site {
                        phases_w: [1730, 0, 0],
                        battery_power_w: -1000,
                    }),
                    ch,
                    Some(&record),
                ),
            ),
        ];
        for (what, d) in cases {
            assert_eq!(
                d.action,
                Action::Stop {
                    mode: MODE_AUTO,
                    current_a: 16,
                    restart: true
                },
                "{what}: {}",
                d.reason
            );
            let backs_off = matches!(what, "load above stop_above_w" | "grid feeding the car");
            match &d.record {
                NextRecord::Set(Record::BackedOff { since, .. }) if backs_off => {
                    assert_eq!(*since, now(), "{what}")
                }
                NextRecord::Clear if !backs_off => {}
                other => panic!("{what}: {other:?}"),
            }
            assert!(d.kicking, "{what}");
        }
    }

    #[test]
    fn after_a_stop_for_load_or_grid_it_waits_before_starting_again() {
        let c = config("");
        let ch = idle_charger();
        let stripping = bms(&[(40.0, true)]);
        let at = |minutes: i64| now() + chrono::TimeDelta::minutes(minutes);
        let backed_off = Record::BackedOff {
            since: now(),
            reason: "the grid fed the car".into(),
        };
        let decide_at = |when: DateTime<Utc>, b: &BmsReading| {
            decide(&Inputs {
                config: &c,
                timezone: chrono_tz::Australia::Hobart,
                now: when,
                bms: Some(b),
                site: Some(site_for(&ch)),
                charger: ch,
                record: Some(&backed_off),
            })
        };
        let d = decide_at(at(29), &stripping);
        assert_eq!(
            (&d.action, &d.record),
            (&Action::Nothing, &NextRecord::Keep),
            "{}",
            d.reason
        );
        assert!(
            d.reason.contains("no new kick before Tue 01:35"),
            "{}",
            d.reason
        );
        let d = decide_at(at(30), &stripping);
        assert_eq!(d.action, Action::Start, "{}", d.reason);
        let d = decide_at(at(5), &bms(&[(40.0, false)]));
        assert_eq!((d.action, d.record), (Action::Nothing, NextRecord::Clear));
    }

    #[test]
    fn restore_mode_names_the_mode_put_back() {
        let record = kicking();
        let ch = our_charge();
        let ended = bms(&[(40.0, false)]);
        for (setting, mode, restart) in [
            ("previous", MODE_AUTO, true),
            ("auto", MODE_AUTO, true),
            ("manual", MODE_MANUAL, false),
            ("scheduled", MODE_SCHEDULED, false),
        ] {
            let c = config(&format!("restore_mode = \"{setting}\""));
            let d = run(&c, Some(&ended), Some(site_for(&ch)), ch, Some(&record));
            assert_eq!(
                d.action,
                Action::Stop {
                    mode,
                    current_a: 16,
                    restart
                },
                "{setting}"
            );
        }
        // "previous" when the charger was in scheduled mode before: no restart.
        let record = Record::Kicking {
            started_at: now(),
            previous_mode: MODE_SCHEDULED,
            previous_current_a: 10,
            current_a: 6,
            previous_start_stop: None,
        };
        let d = run(
            &config(""),
            Some(&ended),
            Some(site_for(&ch)),
            ch,
            Some(&record),
        );
        assert_eq!(
            d.action,
            Action::Stop {
                mode: MODE_SCHEDULED,
                current_a: 10,
                restart: false
            }
        );
    }

    #[test]
    fn an_owner_takeover_is_forgotten_and_respected_until_the_discharge_ends() {
        let c = config("");
        let record = kicking();
        let stripping = bms(&[(40.0, true)]);
        for ch in [
            Charger {
                mode: MODE_AUTO,
                ..our_charge()
            },
            Charger {
                set_current_a: 16,
                power_w: 3680,
                ..our_charge()
            },
        ] {
            let d = run(&c, Some(&stripping), Some(site_for(&ch)), ch, Some(&record));
            assert_eq!(d.action, Action::Nothing, "{}", d.reason);
            assert!(!d.kicking);
            assert!(d.reason.contains("owner"), "{}", d.reason);
            let NextRecord::Set(stood_down @ Record::StoodDown { .. }) = d.record else {
                panic!("expected a stand-down, got {:?}", d.record);
            };
            // Next run: an EV ready and every start condition true, still hands off.
            let idle = idle_charger();
            let d = run(
                &c,
                Some(&stripping),
                Some(site_for(&idle)),
                idle,
                Some(&stood_down),
            );
            assert_eq!(d.action, Action::Nothing, "{}", d.reason);
            assert_eq!(d.record, NextRecord::Keep);
            // Once the discharge ends, the stand-down is cleared.
            let d = run(
                &c,
                Some(&bms(&[(40.0, false)])),
                Some(site_for(&idle)),
                idle,
                Some(&stood_down),
            );
            assert_eq!((d.action, d.record), (Action::Nothing, NextRecord::Clear));
        }
        // A takeover seen after the discharge ended just clears the record.
        let ch = Charger {
            mode: MODE_AUTO,
            ..our_charge()
        };
        let d = run(
            &c,
            Some(&bms(&[(40.0, false)])),
            Some(site_for(&ch)),
            ch,
            Some(&record),
        );
        assert_eq!((d.action, d.record), (Action::Nothing, NextRecord::Clear));
    }

    #[test]
    fn a_kick_puts_start_stop_back_as_it_found_it() {
        let stripping = bms(&[(60.0, true)]);
        let ended = bms(&[(40.0, false)]);
        // (restore_mode, found: mode and start/stop, restored mode, started again)
        for (setting, mode, found, restored, restart) in [
            // The owner had stopped the charger in auto mode: it stays stopped.
            ("previous", MODE_AUTO, STOP, MODE_AUTO, false),
            ("previous", MODE_AUTO, START, MODE_AUTO, true),
            ("previous", MODE_MANUAL, STOP, MODE_MANUAL, false),
            ("previous", MODE_MANUAL, START, MODE_MANUAL, true),
            ("auto", MODE_MANUAL, STOP, MODE_AUTO, false),
            ("manual", MODE_AUTO, START, MODE_MANUAL, true),
        ] {
            let what = format!("{setting}, found {} {found}", mode_name(mode));
            let c = config(&format!("restore_mode = \"{setting}\""));
            let found_charger = Charger {
                mode,
                start_stop: found,
                ..idle_charger()
            };
            let start = run(
                &c,
                Some(&stripping),
                Some(site_for(&found_charger)),
                found_charger,
                None,
            );
            assert_eq!(start.action, Action::Start, "{what}: {}", start.reason);
            let NextRecord::Set(record) = start.record else {
                panic!("{what}: {:?}", start.record)
            };
            // Through the state file's text and back, as between two runs.
            let text = serde_json::to_string(&record).unwrap();
            assert!(
                text.contains(&format!("\"previous_start_stop\":{found}")),
                "{text}"
            );
            let record: Record = serde_json::from_str(&text).unwrap();
            let ch = our_charge();
            let stop = run(&c, Some(&ended), Some(site_for(&ch)), ch, Some(&record));
            let expected = Action::Stop {
                mode: restored,
                current_a: 16,
                restart,
            };
            assert_eq!(stop.action, expected, "{what}: {}", stop.reason);
            let w = writes(&stop.action, &c, &GX_CHARGER, &ch);
            let start_stop: Vec<u16> = w
                .iter()
                .filter(|w| w.address == GX_CHARGER.start_stop.address)
                .map(|w| w.values[0])
                .collect();
            let last = if restart {
                vec![STOP, START]
            } else {
                vec![STOP]
            };
            assert_eq!(start_stop, last, "{what}: {w:?}");
        }
        // A record from before start/stop was kept: auto is started again, as it was then.
        let old = r#"{"state":"kicking","started_at":"2026-11-23T13:35:00Z","previous_mode":1,"previous_current_a":16,"current_a":6}"#;
        let record: Record = serde_json::from_str(old).unwrap();
        assert_eq!(record, kicking());
        let ch = our_charge();
        let stop = run(
            &config(""),
            Some(&ended),
            Some(site_for(&ch)),
            ch,
            Some(&record),
        );
        assert_eq!(
            stop.action,
            Action::Stop {
                mode: MODE_AUTO,
                current_a: 16,
                restart: true
            }
        );
    }

    #[test]
    fn writes_follow_the_charger_order_for_both_maps() {
        let c = config("current_a = 8");
        for map in [GX_CHARGER, EVCS_CHARGER] {
            let w = writes(&Action::Start, &c, &map, &idle_charger());
            let got: Vec<(u16, Vec<u16>)> =
                w.iter().map(|w| (w.address, w.values.clone())).collect();
            assert_eq!(
                got,
                vec![
                    (map.mode.address, vec![MODE_MANUAL]),
                    (map.set_current.address, vec![8]),
                    (map.start_stop.address, vec![START]),
                ]
            );
            let stop = Action::Stop {
                mode: MODE_AUTO,
                current_a: 16,
                restart: true,
            };
            let w = writes(&stop, &c, &map, &our_charge());
            let got: Vec<(u16, Vec<u16>)> =
                w.iter().map(|w| (w.address, w.values.clone())).collect();
            assert_eq!(
                got,
                vec![
                    (map.start_stop.address, vec![STOP]),
                    (map.mode.address, vec![MODE_AUTO]),
                    (map.set_current.address, vec![16]),
                    (map.start_stop.address, vec![START]),
                ]
            );
            // Manual at our current restored: only the stop.
            let stop = Action::Stop {
                mode: MODE_MANUAL,
                current_a: 6,
                restart: false,
            };
            assert_eq!(writes(&stop, &c, &map, &our_charge()).len(), 1);
            assert!(writes(&Action::Nothing, &c, &map, &our_charge()).is_empty());
        }
        assert_eq!(config("").via, EvVia::Gx);
    }

    #[test]
    fn only_configured_phases_count() {
        let c = config("phases = [1]");
        let ch = idle_charger();
        let site = Site {
            phases_w: [300, 5000, 5000],
            battery_power_w: -400,
        };
        let d = run(&c, Some(&bms(&[(60.0, true)])), Some(site), ch, None);
        assert_eq!(d.action, Action::Start, "{}", d.reason);
        assert_eq!(d.load_w, Some(300));
    }

    #[test]
    fn load_is_floored_at_zero() {
        let c = config("");
        let ch = our_charge();
        let site = Site {
            phases_w: [1000, 0, 0],
            battery_power_w: -1500,
        };
        let d = run(
            &c,
            Some(&bms(&[(60.0, true)])),
            Some(site),
            ch,
            Some(&kicking()),
        );
        assert_eq!(d.load_w, Some(0));
        assert_eq!(d.action, Action::Nothing);
    }

    /// The README's worked maintenance night, run by run.
    #[test]
    fn the_worked_night_in_the_readme() {
        let c = config("");
        let tz = chrono_tz::Australia::Hobart;
        let at = |d: u32, h: u32, m: u32| {
            tz.with_ymd_and_hms(2026, 11, d, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let idle = idle_charger();
        let car = Charger {
            set_current_a: 6,
            ..our_charge()
        };
        let restored = Charger {
            start_stop: START,
            status: 4,
            ..idle
        };
        // (time, stripping battery SoC or None, site, charger, expected verdict text)
        type Step = (DateTime<Utc>, Option<f64>, Site, Charger, &'static str);
        let steps: Vec<Step> = vec![
            (
                at(25, 20, 55),
                None,
                Site {
                    phases_w: [400, 0, 0],
                    battery_power_w: -500,
                },
                idle,
                "no battery is in a maintenance discharge",
            ),
            (
                at(25, 21, 5),
                Some(72.0),
                Site {
                    phases_w: [400, 0, 0],
                    battery_power_w: -1900,
                },
                idle,
                "charging the car at 6 A (about 1380 W)",
            ),
            (
                at(25, 21, 10),
                Some(71.0),
                Site {
                    phases_w: [1780, 0, 0],
                    battery_power_w: -1950,
                },
                car,
                "kicking since Wed 21:05",
            ),
            (
                at(25, 22, 30),
                Some(60.0),
                Site {
                    phases_w: [3100 + 1380, 0, 0],
                    battery_power_w: -4600,
                },
                car,
                "above ev.stop_above_w (2500 W); no new kick before Wed 23:00",
            ),
            (
                at(25, 22, 35),
                Some(59.0),
                Site {
                    phases_w: [450, 0, 0],
                    battery_power_w: -600,
                },
                restored,
                "no new kick before Wed 23:00",
            ),
            (
                at(25, 23, 0),
                Some(58.0),
                Site {
                    phases_w: [450, 0, 0],
                    battery_power_w: -600,
                },
                restored,
                "charging the car at 6 A",
            ),
            (
                at(26, 2, 15),
                Some(9.0),
                Site {
                    phases_w: [1800, 0, 0],
                    battery_power_w: -1900,
                },
                car,
                "the stripping battery is at 9 %, below ev.min_battery_soc (10 %)",
            ),
            (
                at(26, 2, 20),
                Some(8.0),
                Site {
                    phases_w: [300, 0, 0],
                    battery_power_w: -300,
                },
                restored,
                "the stripping battery is at 8 %, below",
            ),
        ];
        let mut record: Option<Record> = None;
        let mut verdicts = Vec::new();
        for (now, soc, site, charger, expected) in steps {
            let b = bms(&[(soc.unwrap_or(90.0), soc.is_some())]);
            let d = decide(&Inputs {
                config: &c,
                timezone: tz,
                now,
                bms: Some(&b),
                site: Some(site),
                charger,
                record: record.as_ref(),
            });
            assert!(d.reason.contains(expected), "{now}: {}", d.reason);
            match d.record {
                NextRecord::Keep => {}
                NextRecord::Set(r) => record = Some(r),
                NextRecord::Clear => record = None,
            }
            verdicts.push(match d.action {
                Action::Start => "start",
                Action::Stop { .. } => "stop",
                Action::Nothing => "-",
            });
        }
        assert_eq!(
            verdicts,
            ["-", "start", "-", "stop", "-", "start", "stop", "-"]
        );
    }
}
