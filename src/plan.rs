//! The scheduling rules: a pure function from (config, instant, BMS reading) to a plan.
//!
//! Nothing here does I/O. The plan says which charge window the GX's one writable slot should
//! hold and which ESS minimum SoC to set, with the reasons in words. Turning that into register
//! writes against what the GX holds now is `writes`' job.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock::{self, Instance};
use crate::config::{Config, Window};
use crate::redflow::BmsReading;

/// How far ahead the next window may start and still be put in the slot.
pub const LOOKAHEAD: TimeDelta = TimeDelta::hours(24);
/// The key of the slot `decide` writes before a due to keep the battery from holding more than
/// the house can drain (`soc = "auto"`).
pub const CAP_WINDOW: &str = "auto cap";
/// A `soc = "auto"` window's target until the forecast chooses one (`decide`): the old fixed
/// default.
pub const AUTO_FALLBACK_SOC: u8 = 50;

/// Which list a charge window came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Normal,
    Maintenance,
    AfterMaintenance,
    /// Not a configured window: the drain to the grid (`[drain] export`).
    Drain,
}

/// Where the site stands in its maintenance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Maintenance is further away than the lead time.
    Normal,
    /// Maintenance is due within the lead time but not yet.
    Approaching,
    /// Maintenance is due (or overdue) and no battery has started it: drain.
    Due,
    /// A battery is running its maintenance cycle.
    Active,
    /// The BMS could not be read: the safe state.
    Unknown,
}

/// The two phases the rules speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Normal,
    Maintenance,
}

impl Stage {
    pub fn phase(self) -> Phase {
        match self {
            Stage::Normal => Phase::Normal,
            _ => Phase::Maintenance,
        }
    }
}

/// One dated instance of a charge window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub kind: WindowKind,
    /// The config key, e.g. `schedule.normal[0]`.
    pub window: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub soc: u8,
}

impl Slot {
    fn new(kind: WindowKind, window: &Window, instance: Instance) -> Slot {
        Slot {
            kind,
            window: window.key.clone(),
            start: instance.start,
            end: instance.end,
            soc: if window.is_auto() {
                AUTO_FALLBACK_SOC
            } else {
                window.soc
            },
        }
    }

    /// True elapsed seconds from start to end.
    pub fn duration_s(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// What the rules decided, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub now: DateTime<Utc>,
    pub stage: Stage,
    pub phase: Phase,
    /// When the site's maintenance is due (earliest over all batteries); `None` in the safe state.
    pub due: Option<DateTime<Utc>>,
    /// Whether any battery is running its maintenance cycle.
    pub active: bool,
    /// Every candidate window instance within the timeline, in start order.
    pub candidates: Vec<Slot>,
    /// What the GX's slot should hold; `None` clears it.
    pub slot: Option<Slot>,
    /// The ESS minimum SoC to set, %; `None` leaves register 2901 alone.
    pub min_soc: Option<u8>,
    /// The decisions, in words.
    pub reasons: Vec<String>,
}

/// A short local rendering of an instant: `Tue 19:40`.
pub fn short_local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%a %H:%M").to_string()
}

/// A local span, dated so that an old slot never passes for today's: `Tue 24 Nov
/// 13:00-16:00`, or `Mon 23 Nov 21:00-Tue 24 07:00` across midnight.
pub fn local_span(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
    if s.date_naive() == e.date_naive() {
        format!("{}-{}", s.format("%a %d %b %H:%M"), e.format("%H:%M"))
    } else {
        format!("{}-{}", s.format("%a %d %b %H:%M"), e.format("%a %d %H:%M"))
    }
}

/// A signed duration in words: `12 h 40 min`, `-3 h 05 min`.
pub fn span(d: TimeDelta) -> String {
    let minutes = d.num_minutes();
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.unsigned_abs();
    if m >= 60 {
        format!("{sign}{} h {:02} min", m / 60, m % 60)
    } else {
        format!("{sign}{m} min")
    }
}

/// The rules: decide the slot and the minimum SoC from the BMS reading at `now`.
pub fn plan(config: &Config, now: DateTime<Utc>, bms: &BmsReading) -> Plan {
    let due = bms.due(now);
    let active = bms.any_stripping();
    let stage = stage_at(config, now, due, active);
    let since_done = bms
        .batteries
        .iter()
        .filter(|b| b.strip_pump_run_timer >= 0)
        .map(|b| TimeDelta::seconds(b.strip_pump_run_timer))
        .min();
    let candidates = candidates(config, now, due, stage, since_done);
    let slot = choose(&candidates, now);
    let min_soc = min_soc(config, stage.phase());
    let mut reasons = vec![stage_reason(config, now, due, stage, bms)];
    reasons.push(slot_reason(config.timezone, now, stage, slot.as_ref()));
    reasons.extend(min_soc.map(|m| min_soc_reason(stage.phase(), m)));
    Plan {
        now,
        stage,
        phase: stage.phase(),
        due: Some(due),
        active,
        candidates,
        slot,
        min_soc,
        reasons,
    }
}

/// Rule 2: where the site stands, from the earliest `due` and whether any battery strips.
fn stage_at(config: &Config, now: DateTime<Utc>, due: DateTime<Utc>, active: bool) -> Stage {
    let lead = TimeDelta::hours(i64::from(config.schedule.maintenance_lead_hours));
    if active {
        Stage::Active
    } else if now < due - lead {
        Stage::Normal
    } else if now < due {
        Stage::Approaching
    } else {
        Stage::Due
    }
}

fn stage_reason(
    config: &Config,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    stage: Stage,
    bms: &BmsReading,
) -> String {
    let lead = config.schedule.maintenance_lead_hours;
    let due_words = format!(
        "maintenance due {} ({})",
        short_local(config.timezone, due),
        if due >= now {
            format!("in {}", span(due - now))
        } else {
            format!("overdue by {}", span(now - due))
        }
    );
    match stage {
        Stage::Normal => format!("{due_words}, more than {lead} h away → normal windows"),
        Stage::Approaching => {
            format!("{due_words}, within {lead} h → maintenance windows that end by then")
        }
        Stage::Due => format!(
            "{due_words} and no battery has started it → no charge window: the battery must drain until the BMS starts the cycle"
        ),
        Stage::Active | Stage::Unknown => {
            let stripping: Vec<String> = bms
                .batteries
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_stripping)
                .map(|(i, _)| format!("battery {}", i + 1))
                .collect();
            format!(
                "maintenance cycle running on {} → no charge window until it is done (the battery takes no charge while it drains and strips)",
                stripping.join(", ")
            )
        }
    }
}

/// Rule 3: the candidate windows of a stage, in start order (equal starts keep config order).
/// No charge window is a candidate while maintenance is due or running: the battery takes no
/// charge in its maintenance discharge and strip. Once the cycle is done (`since_done`, the
/// maintenance timer, under [`LOOKAHEAD`]) the after-maintenance windows join the normal ones,
/// so the next charge window is taken at once.
fn candidates(
    config: &Config,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    stage: Stage,
    since_done: Option<TimeDelta>,
) -> Vec<Slot> {
    let s = &config.schedule;
    let instances = |windows: &[Window], kind: WindowKind| -> Vec<Slot> {
        windows
            .iter()
            .flat_map(|w| {
                clock::instances(w, config.timezone, &s.holidays, now, 2, 3)
                    .into_iter()
                    .map(move |i| Slot::new(kind, w, i))
            })
            .collect()
    };
    let mut candidates: Vec<Slot> = match stage {
        Stage::Normal => {
            let mut normal = instances(&s.normal, WindowKind::Normal);
            if let Some(since) = since_done.filter(|d| *d < LOOKAHEAD) {
                let done = now - since;
                normal.extend(
                    instances(&s.after_maintenance, WindowKind::AfterMaintenance)
                        .into_iter()
                        .filter(|slot| slot.end > done && slot.start < done + LOOKAHEAD),
                );
            }
            normal
        }
        // With `soc = "auto"` the normal windows that end by due stay too (`decide` caps
        // them at what the house can drain by the deadline), so the peaks before it are
        // covered.
        Stage::Approaching => {
            let auto = s.maintenance.iter().any(Window::is_auto);
            let normal = if auto {
                instances(&s.normal, WindowKind::Normal)
            } else {
                Vec::new()
            };
            instances(&s.maintenance, WindowKind::Maintenance)
                .into_iter()
                .chain(normal)
                .filter(|slot| slot.end <= due)
                .collect()
        }
        Stage::Due | Stage::Unknown | Stage::Active => Vec::new(),
    };
    candidates.sort_by_key(|slot| slot.start);
    candidates
}

fn slot_reason(tz: Tz, now: DateTime<Utc>, stage: Stage, slot: Option<&Slot>) -> String {
    match slot {
        Some(chosen) if chosen.contains(now) => format!(
            "{} {} is running now → slot: charge to {} % until {}",
            chosen.window,
            local_span(tz, chosen.start, chosen.end),
            chosen.soc,
            short_local(tz, chosen.end)
        ),
        Some(chosen) => format!(
            "next window {} starts {} (in {}) → slot: {} charge to {} %",
            chosen.window,
            short_local(tz, chosen.start),
            span(chosen.start - now),
            local_span(tz, chosen.start, chosen.end),
            chosen.soc,
        ),
        None if matches!(stage, Stage::Due | Stage::Active) => "slot cleared".to_string(),
        None => format!(
            "no candidate window running or starting within {} h → slot cleared; the GX runs plain ESS",
            LOOKAHEAD.num_hours()
        ),
    }
}

/// Rule 5: the ESS minimum SoC of a phase: `maintenance_min_soc` in the maintenance phase
/// always (the GX's own minimum, Victron's default 10 %, would otherwise hold every maintenance
/// up), `reserve_soc` in the normal phase when set; `None` hands 2901 back to the owner's own
/// value (see `handback`).
fn min_soc(config: &Config, phase: Phase) -> Option<u8> {
    let s = &config.schedule;
    match phase {
        Phase::Normal => s.reserve_soc,
        Phase::Maintenance => Some(s.maintenance_min_soc),
    }
}

fn min_soc_reason(phase: Phase, m: u8) -> String {
    match phase {
        Phase::Normal => format!("normal phase → ESS minimum SoC {m} % (reserve_soc)"),
        Phase::Maintenance => {
            format!("maintenance phase → ESS minimum SoC {m} % (maintenance_min_soc)")
        }
    }
}

/// The safe state for when the BMS cannot be read: no charge window, and the maintenance
/// minimum SoC if the tool manages 2901 at all. Holding charge it cannot justify could block
/// a maintenance cycle.
pub fn safe_plan(config: &Config, now: DateTime<Utc>, why: &str) -> Plan {
    let min_soc = min_soc(config, Phase::Maintenance);
    let mut reasons = vec![format!(
        "BMS not usable ({why}) → safe state: slot cleared so the battery can drain"
    )];
    reasons.extend(
        min_soc.map(|m| format!("safe state → ESS minimum SoC {m} % (maintenance_min_soc)")),
    );
    Plan {
        now,
        stage: Stage::Unknown,
        phase: Phase::Maintenance,
        due: None,
        active: false,
        candidates: Vec::new(),
        slot: None,
        min_soc,
        reasons,
    }
}

/// The candidate running now, or else the next to start within [`LOOKAHEAD`].
pub fn choose(candidates: &[Slot], now: DateTime<Utc>) -> Option<Slot> {
    // An instance wholly inside a spring-forward gap starts where it ends: nothing to hold.
    let candidates: Vec<&Slot> = candidates.iter().filter(|c| c.end > c.start).collect();
    candidates
        .iter()
        .copied()
        .find(|c| c.contains(now))
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .filter(|c| c.start > now && c.start - now <= LOOKAHEAD)
                .min_by_key(|c| c.start)
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use crate::redflow::Battery;
    use chrono::NaiveDate;
    use chrono_tz::Australia::Hobart;

    const CONFIG: &str = r#"
timezone = "Australia/Hobart"
[bms]
url = "http://127.0.0.1:3000"
[gx]
host = "127.0.0.1"
[schedule]
holidays = ["2026-12-25"]
reserve_soc = 30
"#;

    fn config() -> Config {
        Config::parse(CONFIG, &Overrides::default()).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        clock::to_instant(
            Hobart,
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }

    fn battery(due_in_s: i64, stripping: bool) -> Battery {
        Battery {
            state_of_charge: 80.0,
            is_stripping: stripping,
            strip_pump_run_target: 259_200,
            strip_pump_run_timer: 259_200 - due_in_s,
        }
    }

    fn reading(batteries: Vec<Battery>) -> BmsReading {
        BmsReading { batteries }
    }

    fn local_slot(p: &Plan) -> Option<(String, String, u8)> {
        p.slot.as_ref().map(|s| {
            (
                s.start
                    .with_timezone(&Hobart)
                    .format("%a %d %H:%M")
                    .to_string(),
                s.end
                    .with_timezone(&Hobart)
                    .format("%a %d %H:%M")
                    .to_string(),
                s.soc,
            )
        })
    }

    fn slot(start: &str, end: &str, soc: u8) -> Option<(String, String, u8)> {
        Some((start.to_string(), end.to_string(), soc))
    }

    const DAY: i64 = 86_400;

    #[test]
    fn normal_weekday_morning_and_evening() {
        let c = config();
        // Mon 23 Nov 2026, maintenance two days away.
        let p = plan(
            &c,
            at(2026, 11, 23, 7, 0),
            &reading(vec![battery(2 * DAY, false)]),
        );
        assert_eq!(p.stage, Stage::Normal);
        assert_eq!(local_slot(&p), slot("Mon 23 10:00", "Mon 23 16:00", 100));
        assert_eq!(p.min_soc, Some(30));
        let p = plan(
            &c,
            at(2026, 11, 23, 21, 0),
            &reading(vec![battery(2 * DAY, false)]),
        );
        assert_eq!(local_slot(&p), slot("Mon 23 21:00", "Tue 24 07:00", 100));
        assert_eq!(p.slot.as_ref().unwrap().duration_s(), 10 * 3600);
    }

    #[test]
    fn maintenance_day_then_due_then_active() {
        let c = config();
        let due = at(2026, 11, 24, 19, 40);
        let morning = at(2026, 11, 24, 7, 0);
        let b = battery((due - morning).num_seconds(), false);
        let p = plan(&c, morning, &reading(vec![b]));
        assert_eq!(p.stage, Stage::Approaching);
        assert_eq!(p.phase, Phase::Maintenance);
        assert_eq!(local_slot(&p), slot("Tue 24 13:00", "Tue 24 16:00", 50));
        assert_eq!(p.min_soc, Some(0));
        assert!(
            p.reasons[0].contains("maintenance due Tue 19:40"),
            "{:?}",
            p.reasons
        );
        // No after-maintenance window before the cycle is done: it would be in force while
        // the battery drains and takes no charge.
        assert!(
            p.candidates
                .iter()
                .all(|s| s.kind == WindowKind::Maintenance)
        );

        // 21:00, due has passed and nothing strips yet: drain, no window.
        let evening = at(2026, 11, 24, 21, 0);
        let p = plan(
            &c,
            evening,
            &reading(vec![battery((due - evening).num_seconds(), false)]),
        );
        assert_eq!(p.stage, Stage::Due);
        assert_eq!(p.slot, None);
        assert!(p.candidates.is_empty());

        // 21:00 with the cycle running: no charge slot at all while it drains and strips.
        let p = plan(
            &c,
            evening,
            &reading(vec![battery((due - evening).num_seconds(), true)]),
        );
        assert_eq!(p.stage, Stage::Active);
        assert_eq!(p.slot, None);
        assert!(p.reasons[1].contains("slot cleared"), "{:?}", p.reasons);

        // 04:00 still stripping: still none.
        let late = at(2026, 11, 25, 4, 0);
        let p = plan(&c, late, &reading(vec![battery(-3600, true)]));
        assert_eq!(p.slot, None);
    }

    #[test]
    fn once_the_strip_ends_the_next_charge_window_is_taken_at_once() {
        let text = format!("{CONFIG}[[schedule.normal]]\nstart = \"10:00\"\nend = \"16:00\"\n");
        let c = Config::parse(&text, &Overrides::default()).unwrap();
        // The cycle ended at 05:10 (the timer restarted): a charge window running now is
        // taken at once; here the refill window 03:00-07:00 (the night normal window is left
        // out of this config).
        let done = at(2026, 11, 25, 5, 10);
        let now = at(2026, 11, 25, 6, 0);
        let b = Battery {
            strip_pump_run_timer: (now - done).num_seconds(),
            ..battery(259_200 - (now - done).num_seconds(), false)
        };
        let p = plan(&c, now, &reading(vec![b.clone()]));
        assert_eq!(p.stage, Stage::Normal);
        assert_eq!(local_slot(&p), slot("Wed 25 03:00", "Wed 25 07:00", 100));
        // A day later the after-maintenance windows are no longer candidates.
        let day_later = now + TimeDelta::hours(25);
        let b = Battery {
            strip_pump_run_timer: (day_later - done).num_seconds(),
            ..battery(259_200 - (day_later - done).num_seconds(), false)
        };
        let p = plan(&c, day_later, &reading(vec![b]));
        assert!(p.candidates.iter().all(|s| s.kind == WindowKind::Normal));
    }

    #[test]
    fn maintenance_window_that_would_end_after_due_is_left_out() {
        let c = config();
        let morning = at(2026, 11, 24, 7, 0);
        let due = at(2026, 11, 24, 15, 0);
        let p = plan(
            &c,
            morning,
            &reading(vec![battery((due - morning).num_seconds(), false)]),
        );
        // 13:00-16:00 ends after 15:00 → not a candidate, and no after-maintenance window
        // before the cycle is done: the slot is cleared.
        assert_eq!(local_slot(&p), None);
    }

    #[test]
    fn earliest_due_over_several_batteries_and_any_stripping() {
        let c = config();
        let now = at(2026, 11, 23, 7, 0);
        let p = plan(
            &c,
            now,
            &reading(vec![battery(3 * DAY, false), battery(10 * 3600, false)]),
        );
        assert_eq!(p.stage, Stage::Approaching);
        assert_eq!(p.due, Some(now + TimeDelta::hours(10)));
        let p = plan(
            &c,
            now,
            &reading(vec![battery(3 * DAY, false), battery(DAY, true)]),
        );
        assert_eq!(p.stage, Stage::Active);
        assert!(p.reasons[0].contains("battery 2"), "{:?}", p.reasons);
    }

    #[test]
    fn without_reserve_soc_only_maintenance_sets_the_minimum() {
        let text = CONFIG.replace("reserve_soc = 30", "");
        let c = Config::parse(&text, &Overrides::default()).unwrap();
        let p = plan(
            &c,
            at(2026, 11, 23, 7, 0),
            &reading(vec![battery(2 * DAY, false)]),
        );
        assert_eq!(p.min_soc, None, "normal phase: the owner's own value");
        // Maintenance lowers it whether or not reserve_soc is set, or the GX's own minimum
        // (Victron's default 10 %) would hold every maintenance up.
        let p = plan(
            &c,
            at(2026, 11, 23, 7, 0),
            &reading(vec![battery(3600, false)]),
        );
        assert_eq!(p.min_soc, Some(0));
        let safe = safe_plan(&c, at(2026, 11, 23, 7, 0), "refused");
        assert_eq!((safe.slot, safe.min_soc), (None, Some(0)));
        let safe = safe_plan(&config(), at(2026, 11, 23, 7, 0), "refused");
        assert_eq!(safe.min_soc, Some(0));
    }

    #[test]
    fn daylight_saving_nights_have_true_lengths() {
        let c = config();
        let far = reading(vec![battery(3 * DAY, false)]);
        // Sat 4 Apr 2026 21:00: the clocks go back at 03:00 → 11 h.
        let p = plan(&c, at(2026, 4, 4, 21, 0), &far);
        assert_eq!(p.slot.as_ref().unwrap().duration_s(), 11 * 3600);
        // Sat 3 Oct 2026 21:00: the clocks go forward at 02:00 → 9 h.
        let p = plan(&c, at(2026, 10, 3, 21, 0), &far);
        assert_eq!(p.slot.as_ref().unwrap().duration_s(), 9 * 3600);
        assert_eq!(local_slot(&p), slot("Sat 03 21:00", "Sun 04 07:00", 100));
    }

    #[test]
    fn holidays_and_weekends_follow_the_days_setting() {
        let text = format!(
            "{CONFIG}[[schedule.normal]]\ndays = \"weekends\"\nstart = \"08:00\"\nend = \"12:00\"\n[[schedule.normal]]\ndays = \"weekdays\"\nstart = \"10:00\"\nend = \"16:00\"\n"
        );
        let c = Config::parse(&text, &Overrides::default()).unwrap();
        let far = reading(vec![battery(3 * DAY, false)]);
        // Friday 25 Dec 2026 is a holiday: the weekend window applies.
        let p = plan(&c, at(2026, 12, 25, 7, 0), &far);
        assert_eq!(local_slot(&p), slot("Fri 25 08:00", "Fri 25 12:00", 100));
        // Thursday 24 Dec is a weekday.
        let p = plan(&c, at(2026, 12, 24, 7, 0), &far);
        assert_eq!(local_slot(&p), slot("Thu 24 10:00", "Thu 24 16:00", 100));
        // Saturday 26 Dec.
        let p = plan(&c, at(2026, 12, 26, 7, 0), &far);
        assert_eq!(local_slot(&p), slot("Sat 26 08:00", "Sat 26 12:00", 100));
    }

    #[test]
    fn next_window_more_than_a_day_away_is_not_taken() {
        let text = format!(
            "{CONFIG}[[schedule.normal]]\ndays = [\"sat\"]\nstart = \"10:00\"\nend = \"16:00\"\n"
        );
        let c = Config::parse(&text, &Overrides::default()).unwrap();
        let far = reading(vec![battery(5 * DAY, false)]);
        // Thu 09:00 → Sat 10:00 is 49 h away.
        let p = plan(&c, at(2026, 11, 26, 9, 0), &far);
        assert_eq!(p.slot, None);
        // Fri 11:00 → 23 h away.
        let p = plan(&c, at(2026, 11, 27, 11, 0), &far);
        assert_eq!(local_slot(&p), slot("Sat 28 10:00", "Sat 28 16:00", 100));
    }

    #[test]
    fn window_end_is_exclusive() {
        let c = config();
        let far = reading(vec![battery(3 * DAY, false)]);
        let p = plan(&c, at(2026, 11, 23, 16, 0), &far);
        assert_eq!(local_slot(&p), slot("Mon 23 21:00", "Tue 24 07:00", 100));
        let p = plan(&c, at(2026, 11, 23, 15, 59), &far);
        assert_eq!(local_slot(&p), slot("Mon 23 10:00", "Mon 23 16:00", 100));
    }

    #[test]
    fn same_inputs_same_plan() {
        let c = config();
        let r = reading(vec![battery(30_000, false)]);
        let now = at(2026, 11, 23, 7, 0);
        assert_eq!(plan(&c, now, &r), plan(&c, now, &r));
    }
}
