//! The README's month table, recomputed: `simulate` over the scenario set of
//! `zcell_scheduler::scenarios` for each policy.

use zcell_scheduler::scenarios;

/// Prints the table (and each family's row): `cargo test --release --test it --
/// --ignored --nocapture month_table::print`.
#[test]
#[ignore = "prints the month table; run by hand"]
fn print_the_month_table() {
    for (name, base, policy) in scenarios::policies() {
        let (rows, sum) = scenarios::run_all(&base, policy).unwrap();
        println!("| {name} | {} |", sum.cells());
        for r in rows {
            println!(
                "|   {} / {} | {} |",
                r.season.name(),
                r.house.name(),
                r.totals.cells()
            );
        }
    }
}

/// One scenario's maintenances and hours, for reading a trace by hand: `TRACE=season,house,hour,policy`
/// with indices into `Season::ALL`, `House::ALL`, the due hour, and 0-2 into `policies()`.
#[test]
#[ignore = "prints a trace; run by hand"]
fn trace_one_scenario() {
    use zcell_scheduler::scenarios::{House, Scenario, Season};
    let spec = std::env::var("TRACE").unwrap_or_else(|_| "0,0,22,0".into());
    let v: Vec<usize> = spec.split(',').map(|x| x.parse().unwrap()).collect();
    let scenario = Scenario {
        season: Season::ALL[v[0]],
        house: House::ALL[v[1]],
        first_due_hour: v[2] as u32,
    };
    let (_, base, policy) = scenarios::policies().remove(v[3]);
    let (sim, totals) = scenarios::run_one(&base, &scenario, policy).unwrap();
    let tz = chrono_tz::Australia::Hobart;
    let f =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%a %d %H:%M").to_string();
    for m in &sim.maintenances {
        println!(
            "due {} empty {:?} done {:?}",
            f(m.due),
            m.empty.map(f),
            m.done.map(f)
        );
    }
    if std::env::var("DAYS").is_ok() {
        for d in sim.days.iter().filter(|d| d.peak_grid_kwh > 0.05) {
            println!(
                "{} peak {:.1} kWh {:?}",
                d.date.format("%a %d"),
                d.peak_grid_kwh,
                d.events
            );
        }
    }
    if std::env::var("HOURS").is_ok() {
        for s in &sim.samples {
            println!(
                "{} soc {:5.1} {:9} bat {:6.0} grid {:6.0} peak {} slot {:?}",
                f(s.t),
                s.soc,
                s.phase,
                s.battery_w,
                s.grid_w,
                s.peak,
                s.slot
                    .as_ref()
                    .map(|x| (x.window.clone(), f(x.start), f(x.end), x.soc))
            );
        }
    }
    println!("{}", totals.cells());
}

/// Every late cycle of a policy (`LATE=0..2`), with its due and strip end, for reading by hand.
#[test]
#[ignore = "prints the late cycles; run by hand"]
fn print_late_cycles() {
    let which: usize = std::env::var("LATE").map_or(0, |v| v.parse().unwrap());
    let (_, base, policy) = scenarios::policies().remove(which);
    let tz = chrono_tz::Australia::Hobart;
    let f = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%a %d %b %H:%M").to_string()
    };
    for s in scenarios::all() {
        let (sim, _) = scenarios::run_one(&base, &s, policy).unwrap();
        let config = zcell_scheduler::config::Config::parse(
            &scenarios::config_text(&base, &s),
            &Default::default(),
        )
        .unwrap();
        for m in &sim.maintenances {
            let deadline = scenarios::seven_after(&config, m.due);
            if m.done.is_none_or(|d| d > deadline) {
                println!(
                    "{:?}/{:?}/{}: due {} empty {:?} done {:?}",
                    s.season,
                    s.house,
                    s.first_due_hour,
                    f(m.due),
                    m.empty.map(f),
                    m.done.map(f)
                );
            }
        }
    }
}

/// The README's month table holds what `simulate` computes now for every policy it can
/// recompute (the "before" rows are history).
#[test]
fn the_readme_month_table_is_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (name, base, policy) in scenarios::policies() {
        let (_, sum) = scenarios::run_all(&base, policy).unwrap();
        let row = format!("| {name} | {} |", sum.cells());
        assert!(
            readme.lines().any(|l| l == row),
            "README.md's month table should have the row\n{row}"
        );
    }
}

/// Every scenario's figures under a policy (`LATE=0..2`), one line each, for comparing rules.
#[test]
#[ignore = "prints each scenario's figures; run by hand"]
fn print_each_scenario() {
    let which: usize = std::env::var("LATE").map_or(0, |v| v.parse().unwrap());
    let (_, base, policy) = scenarios::policies().remove(which);
    for s in scenarios::all() {
        let (_, t) = scenarios::run_one(&base, &s, policy).unwrap();
        println!(
            "{:?}/{:?}/{:02} | {}",
            s.season,
            s.house,
            s.first_due_hour,
            t.cells()
        );
    }
}
