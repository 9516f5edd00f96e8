//! Try it without hardware: `cargo run --example demo`.
//!
//! Starts the GX and BMS simulators on loopback, writes a config for them, and runs
//! `status`, `plan`, `apply` (twice: the second has nothing to change) and `status` again, then
//! a maintenance night for `ev-kick` (dry run, start, keep charging, stop), exactly as the
//! binary would, printing what each shows.

#[path = "sim/bms.rs"]
mod bms;
#[path = "sim/gx.rs"]
mod gx;

fn main() -> std::process::ExitCode {
    match demo() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), String> {
    let gx = gx::GxSim::start().map_err(|e| format!("GX simulator: {e}"))?;
    // One battery, 71 % full, maintenance due in 20 hours: a maintenance day.
    let bms = bms::BmsSim::start(bms::scenario(&[bms::battery(71.0, false, 20 * 3600)]))
        .map_err(|e| format!("BMS simulator: {e}"))?;
    let dir = std::env::temp_dir().join(format!("zcell-scheduler-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("config.toml");
    let text = format!(
        r#"timezone = "Australia/Hobart"

[bms]
url = "{}"
timeout_s = 2

[gx]
host = "127.0.0.1"
port = {}
timeout_s = 2

[schedule]
holidays = ["2026-12-25"]
reserve_soc = 30

[ev]
state_file = "{}"
"#,
        bms.url(),
        gx.port(),
        dir.join("ev-kick.json").display()
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let config_arg = config.display().to_string();
    // Something that happens on the site before a step.
    type Event = fn(&gx::GxSim, &bms::BmsSim);
    let nothing: Event = |_, _| {};
    let night_falls: Event = |gx, bms| {
        // The maintenance cycle has started; the battery discharges 2.5 kW, an EV is plugged in.
        bms.state().body = bms::scenario(&[bms::battery(64.0, true, -3600)]);
        gx.state().set(100, 842, (-2500i16) as u16);
    };
    let cycle_ends: Event = |_, bms| {
        bms.state().body = bms::scenario(&[bms::battery(0.0, false, 3 * 86_400)]);
    };
    let steps: [(&str, &[&str], Event); 9] = [
        ("status: what the devices report", &["status"], nothing),
        ("plan: what apply would do, and why", &["plan"], nothing),
        ("apply: one line per change", &["apply"], nothing),
        (
            "apply again: nothing to change, nothing written",
            &["apply", "-v"],
            nothing,
        ),
        ("status after apply", &["status"], nothing),
        (
            "ev-kick --dry-run: the maintenance cycle has started and an EV is plugged in",
            &["ev-kick", "--dry-run"],
            night_falls,
        ),
        ("ev-kick: start charging the car", &["ev-kick"], nothing),
        (
            "ev-kick again: the kick runs, nothing to write",
            &["ev-kick"],
            nothing,
        ),
        (
            "ev-kick after the discharge ended: stop, put auto mode back",
            &["ev-kick"],
            cycle_ends,
        ),
    ];
    for (title, args, event) in steps {
        event(&gx, &bms);
        println!("\n===== zcell-scheduler {} — {title}\n", args.join(" "));
        let mut argv = vec!["zcell-scheduler", "--config", &config_arg];
        argv.extend_from_slice(args);
        let before = gx.state().write_requests;
        let code = zcell_scheduler::cli::run(argv);
        println!(
            "\n[exit code {}; Modbus write requests this run: {}]",
            u8::from(code),
            gx.state().write_requests - before
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
