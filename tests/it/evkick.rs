//! End-to-end: `ev-kick` against the simulators on loopback, through the GX's evcharger service
//! (unit 40) and through a charging station's own server (unit 1), asserting the charger's
//! registers, the state file and the exit code after each run.

use crate::testenv::gx::GxSim;
use crate::testenv::{self, DAY, Site, bms, has, has_in};

const GX: u8 = 100;
const EV: u8 = 40;
/// Charger registers on the GX's evcharger service.
const MODE: u16 = 3815;
const START_STOP: u16 = 3826;
const STATUS: u16 = 3824;
const SET_CURRENT: u16 = 3825;

/// A site in a maintenance discharge: one battery stripping at 60 %, loads 350 W on L1, the
/// battery discharging 2.5 kW (it covers the loads and a 6 A car), an EV connected in auto mode.
struct Kick {
    site: Site,
    evcs: Option<GxSim>,
}

impl Kick {
    fn new() -> Kick {
        Kick::with("")
    }

    fn with(ev_extra: &str) -> Kick {
        let site = Site::builder().kicking().ev(ev_extra).start();
        Kick { site, evcs: None }
    }

    /// The same, with the charger reached on its own server (`via = "evcs"`).
    fn via_evcs() -> Kick {
        let evcs = GxSim::start_evcs().unwrap();
        let extra = format!(
            "via = \"evcs\"\nhost = \"127.0.0.1\"\nport = {}\n",
            evcs.port()
        );
        Kick {
            evcs: Some(evcs),
            ..Kick::with(&extra)
        }
    }

    fn state_file(&self) -> std::path::PathBuf {
        self.site.ev_state_file()
    }

    fn run(&self, args: &[&str]) -> testenv::Run {
        let mut all = vec!["ev-kick"];
        all.extend_from_slice(args);
        self.site.run(&all)
    }

    fn record(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state_file()).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    fn set_bms(&self, batteries: &[String]) {
        self.site.bms.state().body = bms::scenario(batteries);
    }

    /// (mode, set current, start/stop) on the GX's evcharger service.
    fn charger(&self) -> (u16, u16, u16) {
        let s = self.site.gx.state();
        (
            s.get(EV, MODE),
            s.get(EV, SET_CURRENT),
            s.get(EV, START_STOP),
        )
    }

    fn writes(&self) -> usize {
        self.site.gx.state().writes.len()
    }

    fn start(&self) {
        let run = self.run(&[]);
        assert_eq!(run.code, 0, "{run:?}");
        has(&run.stdout, ": start — ");
        assert_eq!(self.charger(), (0, 6, 1), "manual, 6 A, started");
        self.site.gx.state().reset_counters();
    }
}

#[test]
fn starts_the_charge_records_it_and_a_second_run_writes_nothing() {
    let k = Kick::new();
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(k.charger(), (0, 6, 1));
    {
        let s = k.site.gx.state();
        // Mode, then current, then start: three single writes, all to the charger's unit.
        let order: Vec<(u8, u16, Vec<u16>)> = s.writes.clone();
        assert_eq!(
            order,
            vec![
                (EV, MODE, vec![0]),
                (EV, SET_CURRENT, vec![6]),
                (EV, START_STOP, vec![1])
            ]
        );
        assert_eq!(s.get(EV, STATUS), 2, "the simulated charger charges");
        assert!(s.requests <= 6, "{} requests", s.requests);
    }
    has(&run.stdout, "battery 1 is stripping at 60 %");
    has(
        &run.stdout,
        "EV charger mode (3815): auto → manual (read back ok)",
    );
    let record = k.record().expect("state file written");
    assert_eq!(record["state"], "kicking");
    assert_eq!(record["previous_mode"], 1);
    assert_eq!(record["previous_current_a"], 16);
    assert_eq!(record["current_a"], 6);

    k.site.gx.state().reset_counters();
    let second = k.run(&[]);
    assert_eq!(second.code, 0, "{second:?}");
    has(&second.stdout, ": keep charging — ");
    let s = k.site.gx.state();
    assert!(s.writes.is_empty(), "{:?}", s.writes);
    assert!(s.requests <= 6, "{} requests for nothing to do", s.requests);
}

#[test]
fn stops_and_puts_the_auto_mode_back_when_the_discharge_ends() {
    let k = Kick::new();
    k.start();
    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, ": stop — ");
    // Auto and 16 A put back, and stopped, as the charger was found (the owner had stopped it).
    assert_eq!(k.charger(), (1, 16, 0));
    assert_eq!(
        k.site.gx.state().writes.first(),
        Some(&(EV, START_STOP, vec![0])),
        "the stop goes first"
    );
    assert!(k.record().is_none(), "state file cleared");
    // Idempotent afterwards: nothing to do, nothing written.
    k.site.gx.state().reset_counters();
    let again = k.run(&[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(k.writes(), 0);
    has(
        &again.stdout,
        ": no change — no battery is in a maintenance discharge",
    );
}

#[test]
fn start_stop_is_put_back_as_it_was_found() {
    // Found started in auto mode (waiting for sun): started again afterwards, so solar
    // charging carries on.
    let k = Kick::new();
    k.site.gx.state().set(EV, START_STOP, 1);
    k.site.gx.state().set(EV, STATUS, 4);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, ": start — ");
    assert_eq!(k.record().unwrap()["previous_start_stop"], 1);
    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(k.charger(), (1, 16, 1));
    has(
        &run.stdout,
        "start again, so auto mode can charge from solar",
    );
    // Found stopped: left stopped, the start never written back.
    let k = Kick::new();
    k.start();
    assert_eq!(k.record().unwrap()["previous_start_stop"], 0);
    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(k.charger(), (1, 16, 0));
    assert!(
        !k.site
            .gx
            .state()
            .writes
            .contains(&(EV, START_STOP, vec![1])),
        "{:?}",
        k.site.gx.state().writes
    );
    // A state file from before start/stop was kept: auto is started again, as then.
    let k = Kick::new();
    k.start();
    std::fs::write(
        k.state_file(),
        r#"{"state":"kicking","started_at":"2026-11-23T03:00:00Z","previous_mode":1,"previous_current_a":16,"current_a":6}"#,
    )
    .unwrap();
    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(k.charger(), (1, 16, 1));
}

#[test]
fn stops_on_each_condition() {
    type Change = fn(&Kick);
    let cases: [(&str, Change, &str); 4] = [
        (
            "low SoC",
            |k| k.set_bms(&[bms::battery(8.0, true, -3600)]),
            "below ev.min_battery_soc",
        ),
        (
            "load",
            |k| k.site.gx.state().set(GX, 818, 3000),
            "above ev.stop_above_w",
        ),
        (
            "disconnected",
            |k| k.site.gx.state().set(EV, STATUS, 0),
            "the EV was disconnected",
        ),
        (
            "grid feeding",
            |k| k.site.gx.state().set(GX, 842, (-1000i16) as u16),
            "the grid is feeding the car",
        ),
    ];
    for (what, change, message) in cases {
        let k = Kick::new();
        k.start();
        change(&k);
        let run = k.run(&[]);
        assert_eq!(run.code, 0, "{what}: {run:?}");
        has_in(&run.stdout, ": stop — ", what);
        has_in(&run.stdout, message, what);
        assert_eq!(k.site.gx.state().get(EV, MODE), 1, "{what}: auto put back");
        assert_eq!(k.site.gx.state().get(EV, SET_CURRENT), 16, "{what}");
        if matches!(what, "load" | "grid feeding") {
            // The battery could not carry the car: no new kick for a while, so the car is not
            // switched on and off every five minutes.
            assert_eq!(k.record().unwrap()["state"], "backed_off", "{what}");
            k.site.gx.state().set(GX, 818, 0);
            k.site.gx.state().set(GX, 842, (-2500i16) as u16);
            k.site.gx.state().reset_counters();
            let run = k.run(&[]);
            assert_eq!(run.code, 0, "{what}: {run:?}");
            has_in(&run.stdout, "no new kick before", what);
            assert_eq!(k.writes(), 0, "{what}");
        } else {
            assert!(k.record().is_none(), "{what}: state file cleared");
        }
    }
}

#[test]
fn a_bms_failure_while_kicking_stops_the_kick_and_exits_3() {
    let k = Kick::new();
    k.start();
    k.site.bms.state().mode = bms::Mode::Status(500);
    let run = k.run(&[]);
    assert_eq!(run.code, 3, "{run:?}");
    has(&run.stdout, "safe state");
    has(&run.stderr, "HTTP 500");
    assert_eq!(k.charger(), (1, 16, 0));
    assert!(k.record().is_none());
    // Not kicking and the BMS still down: exit 3, nothing written.
    k.site.gx.state().reset_counters();
    let run = k.run(&[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(k.writes(), 0);
}

#[test]
fn the_owners_charge_is_never_touched() {
    let k = Kick::new();
    {
        let mut s = k.site.gx.state();
        s.set(EV, MODE, 0);
        s.set(EV, SET_CURRENT, 16);
        s.set(EV, START_STOP, 1);
        s.set(EV, STATUS, 2);
        s.set(EV, 3821, 3680);
        s.set(GX, 817, 350 + 3680);
        s.set(GX, 842, (-5000i16) as u16);
    }
    for _ in 0..2 {
        let run = k.run(&[]);
        assert_eq!(run.code, 0, "{run:?}");
        has(&run.stdout, "did not start: it is left alone");
    }
    assert_eq!(k.writes(), 0);
    assert_eq!(k.charger(), (0, 16, 1));
    assert!(k.record().is_none());
}

#[test]
fn an_owner_takeover_is_forgotten_and_not_undone() {
    let k = Kick::new();
    k.start();
    // The owner switches the charger to auto in the app.
    k.site.gx.state().set(EV, MODE, 1);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, ": stand down — ");
    has(&run.stdout, "owner");
    assert_eq!(k.writes(), 0);
    assert_eq!(k.record().unwrap()["state"], "stood_down");
    // The car is ready again and every start condition holds: still hands off.
    k.site.gx.state().set(EV, STATUS, 1);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, "standing down since");
    assert_eq!(k.writes(), 0);
    // The discharge ends: the stand-down is cleared, still nothing written.
    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(k.writes(), 0);
    assert!(k.record().is_none());
}

#[test]
fn dry_run_writes_neither_the_charger_nor_the_state_file() {
    let k = Kick::new();
    let run = k.run(&["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, "(dry run)");
    has(&run.stdout, ": would start — ");
    has(&run.stdout, "would write FC06 3815 = 0");
    has(&run.stdout, "EV charger (GX 127.0.0.1:");
    assert_eq!(k.writes(), 0);
    assert_eq!(k.charger(), (1, 16, 0));
    assert!(k.record().is_none());
}

#[test]
fn json_reports_the_decision() {
    let k = Kick::new();
    let run = k.run(&["--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["command"], "ev-kick");
    assert_eq!(doc["decision"]["verdict"], "start");
    assert_eq!(doc["decision"]["load_without_ev_w"], 350);
    assert_eq!(doc["charger"]["mode_name"], "auto");
    assert_eq!(doc["state_file"]["after"]["state"], "kicking");
    assert_eq!(doc["writes"].as_array().unwrap().len(), 3);
    assert_eq!(doc["applied"], true);
    assert_eq!(doc["exit_code"], 0);
}

#[test]
fn disabled_means_no_traffic_at_all() {
    for tail in ["", "[ev]\nenabled = false\n"] {
        let site = Site::builder().tail(tail).start();
        let run = site.run(&["ev-kick"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.starts_with("ev-kick disabled"), "{}", run.stdout);
        assert_eq!(site.gx.state().requests, 0);
        assert_eq!(site.gx.state().connections, 0);
        assert_eq!(site.bms.state().requests, 0);
    }
}

#[test]
fn a_corrupt_state_file_means_not_kicking_and_is_reported() {
    let k = Kick::new();
    std::fs::write(k.state_file(), "{\"state\": \"kick").unwrap();
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stderr, "is unusable");
    has(&run.stdout, ": start — ");
    assert_eq!(k.record().unwrap()["state"], "kicking");
}

#[test]
fn a_dropped_write_exits_5_and_leaves_the_charger_as_found() {
    let k = Kick::new();
    k.site.gx.state().fault = testenv::gx::Fault::DropWrites;
    let run = k.run(&[]);
    assert_eq!(run.code, 5, "{run:?}");
    has(&run.stderr, "did not keep what was written");
    has(
        &run.stderr,
        "EVCS mode (3815) reads 1 (auto) after writing 0 (manual)",
    );
    // The undo read back as found (nothing had landed): no record is needed.
    assert_eq!(k.charger(), (1, 16, 0));
    assert!(k.record().is_none(), "{:?}", k.record());
}

#[test]
fn an_unsettled_start_is_put_back_by_the_next_run() {
    let k = Kick::new();
    // A run whose start and undo both failed to read back left this; half of the start had
    // landed after all (manual, started).
    std::fs::write(
        k.state_file(),
        "{\"state\": \"unsettled\", \"since\": \"2026-11-23T20:00:00Z\", \"previous_mode\": 1, \"previous_current_a\": 16, \"previous_start_stop\": 0}",
    )
    .unwrap();
    k.site.gx.state().set(EV, MODE, 0);
    k.site.gx.state().set(EV, START_STOP, 1);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, "did not read back: putting the charger back");
    assert!(k.site.gx.settle());
    assert_eq!(k.charger(), (1, 16, 0), "auto, 16 A, stopped: as found");
    assert!(k.record().is_none(), "{:?}", k.record());
}

#[test]
fn a_wrong_unit_id_exits_4_naming_it() {
    let k = Kick::with("unit = 41");
    let run = k.run(&[]);
    assert_eq!(run.code, 4, "{run:?}");
    has(&run.stderr, "unit id 41");
    assert_eq!(k.writes(), 0);
}

#[test]
fn via_evcs_starts_and_stops_on_the_stations_own_server() {
    let k = Kick::via_evcs();
    let evcs = k.evcs.as_ref().unwrap();
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, ": start — ");
    {
        let s = evcs.state();
        assert_eq!((s.get(1, 5009), s.get(1, 5016), s.get(1, 5010)), (0, 6, 1));
        assert_eq!(s.get(1, 5015), 2);
    }
    // The GX was only read.
    assert_eq!(k.writes(), 0);
    assert_eq!(k.charger(), (1, 16, 0));
    // The simulated station is not the GX, so its power does not show in the GX's loads:
    // add it, as a real site would see it.
    k.site.gx.state().set(GX, 817, 350 + 1380);
    evcs.state().reset_counters();
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, ": keep charging — ");
    assert!(evcs.state().writes.is_empty());

    k.set_bms(&[bms::battery(60.0, false, 3 * DAY)]);
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = evcs.state();
    assert_eq!((s.get(1, 5009), s.get(1, 5016), s.get(1, 5010)), (1, 16, 0));
    assert!(k.record().is_none());
}

#[test]
fn via_evcs_with_the_gx_down_still_stops_a_kick() {
    let k = Kick::via_evcs();
    let run = k.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    k.site.gx.state().fault = testenv::gx::Fault::Hang;
    let run = k.run(&[]);
    assert_eq!(run.code, 4, "{run:?}");
    has(&run.stdout, "the GX's loads could not be read");
    let s = k.evcs.as_ref().unwrap().state();
    assert_eq!(
        (s.get(1, 5009), s.get(1, 5010)),
        (1, 0),
        "stopped, as found"
    );
    assert!(
        run.elapsed < std::time::Duration::from_secs(4),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn status_shows_the_charger_and_the_kick() {
    let k = Kick::new();
    k.start();
    let run = k.site.run(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    has(&run.stdout, "EV charger (GX 127.0.0.1:");
    has(
        &run.stdout,
        "manual mode, started, status 2 (charging), set current 6 A",
    );
    has(&run.stdout, "ev-kick: kicking at 6 A since");
    assert_eq!(k.writes(), 0);
    assert!(
        k.site.gx.state().requests <= 6,
        "{} requests",
        k.site.gx.state().requests
    );
    let run = k.site.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["ev_charger"]["status_name"], "charging");
    assert_eq!(doc["ev_charger"]["ev_kick"]["state"], "kicking");
    // A charger that does not answer on its unit: status says so and exits 4.
    let k = Kick::with("unit = 41");
    let run = k.site.run(&["status"]);
    assert_eq!(run.code, 4, "{run:?}");
    has(&run.stdout, "unit id 41");
    // Without [ev], no charger section and no request to unit 40.
    let site = Site::new(2 * DAY, false);
    let run = site.run(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("EV charger"), "{}", run.stdout);
    assert!(site.gx.state().writes.is_empty());
}
