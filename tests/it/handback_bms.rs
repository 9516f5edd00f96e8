//! The BMS is asked again before the safe state: a failure that may heal in seconds (a server
//! error, a refused connection) gets up to three tries within 10 s; one that cannot (a 404 from
//! a wrong path) gets one. Against the real binary and the BMS simulator on loopback, counting
//! the simulator's requests.

use std::time::Duration;

use crate::testenv::bms::Mode;
use crate::testenv::{self, DAY, Site, has};

/// Runs `args` with the BMS failing as set until it has answered `failures` requests, then
/// answering well. Whether it healed, and the run.
fn run_healing_after(site: &Site, failures: u64, args: &[&str]) -> (bool, testenv::Run) {
    std::thread::scope(|scope| {
        let healer = scope.spawn(|| {
            // Bounded: 20 s at most.
            for _ in 0..2000 {
                {
                    let mut s = site.bms.state();
                    if s.requests >= failures {
                        s.mode = Mode::Ok;
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let run = site.run(args);
        (healer.join().unwrap_or(false), run)
    })
}

#[test]
fn a_normal_run_asks_the_bms_once() {
    let site = Site::new(2 * DAY, false);
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.bms.state().requests, 1);
    assert!(!r.stderr.contains("asking again"), "{}", r.stderr);
}

#[test]
fn a_passing_server_error_costs_a_retry_not_a_day() {
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = Mode::Status(500);
    let (healed, r) = run_healing_after(&site, 1, &["apply"]);
    assert!(healed, "the run never asked the BMS: {r:?}");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("safe state"), "{}", r.stdout);
    assert_eq!(site.bms.state().requests, 2);
    has(
        &r.stderr,
        "answered HTTP 500 (try 1 of 3): asking again in 1 s",
    );
    has(&r.stderr, "answered on try 2 of 3");
    // A slot was written: the run went on as normal.
    assert!(site.gx.state().write_requests > 0);
}

#[test]
fn a_lasting_server_error_gets_three_tries_within_10_s_and_blames_the_bms() {
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = Mode::Status(500);
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    has(&r.stdout, "safe state");
    assert_eq!(site.bms.state().requests, 3);
    has(
        &r.stderr,
        "answered HTTP 500: the BMS was reached but failed to report",
    );
    has(&r.stderr, "(3 tries over ");
    assert!(!r.stderr.contains("check bms.url"), "{}", r.stderr);
    // Pauses of 1 s and 2 s between the tries; never past 10 s.
    assert!(r.elapsed >= Duration::from_secs(3), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn a_hanging_bms_is_asked_within_the_window() {
    // bms.timeout_s = 1 in the test config: three tries of 1 s, pauses of 1 s and 2 s.
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = Mode::Hang;
    let r = site.run(&["plan"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(site.bms.state().requests, 3);
    has(&r.stderr, "did not answer within 1 s");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn a_wrong_path_is_asked_once_and_names_bms_url() {
    let site = Site::new(2 * DAY, false);
    site.bms.state().mode = Mode::Status(404);
    let r = site.run(&["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(site.bms.state().requests, 1);
    has(&r.stderr, "answered HTTP 404");
    has(&r.stderr, "check bms.url");
    assert!(!r.stderr.contains("asking again"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
}
