//! The README's month table, recomputed: `simulate` over the scenario set of
//! `zcell_scheduler::scenarios` for each policy.

use zcell_scheduler::scenarios;

/// Prints the table (and each family's row): `cargo test --release --test month_table --
/// --ignored --nocapture print`.
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
