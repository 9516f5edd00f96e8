//! The cron block for a configuration: which commands cron runs, and when, in the configured
//! zone. The boot helper (`scripts/gx/rc.local`) asks the tool for it with `cron-block`, so it
//! holds no TOML parsing of its own and every addition to the block comes from here.
//!
//! Venus OS's cron (cronie) and clock run in UTC; `CRON_TZ` makes the times local.

use std::collections::BTreeSet;

use crate::config::{ClockTime, Config};

/// When cron runs `apply`, in the configured zone: on every hour (it writes only what differs,
/// so most runs write nothing), which also writes the rest of a slot cut at a daylight-saving
/// change or at the longest one slot holds; with `[drain] export` also at each refill window's
/// start that is not on the hour (a drain slot ends there, and the refill must be written).
pub fn apply_times(config: &Config) -> Vec<ClockTime> {
    let mut times: BTreeSet<ClockTime> = (0..24).filter_map(|h| ClockTime::new(h, 0)).collect();
    if config.drain.export {
        times.extend(refill_starts(config));
    }
    times.into_iter().collect()
}

/// The lines of the block for a valid config; `runner` is the path of `cron-run.sh`.
pub fn block(config: &Config, runner: &str) -> Vec<String> {
    let mut lines = vec![
        format!("CRON_TZ={}", config.timezone.name()),
        format!("0 * * * * root {runner} apply"),
        // Hourly, logging only failures: a slot in force that the GX does not follow.
        format!("5 * * * * root {runner} --failures-only status --check"),
    ];
    for start in refill_starts(config)
        .into_iter()
        .filter(|_| config.drain.export)
    {
        lines.push(format!(
            "{} {} * * * root {runner} apply",
            start.minutes() % 60,
            start.minutes() / 60
        ));
    }
    if config.ev.as_ref().is_some_and(|ev| ev.enabled) {
        lines.push(format!("*/5 * * * * root {runner} ev-kick"));
    }
    lines
}

/// The after-maintenance windows' start times that are not on the hour, once each, in order.
fn refill_starts(config: &Config) -> Vec<ClockTime> {
    let starts: BTreeSet<ClockTime> = config
        .schedule
        .after_maintenance
        .iter()
        .map(|w| w.start)
        .filter(|t| t.minutes() % 60 != 0)
        .collect();
    starts.into_iter().collect()
}

/// The block while the config is not valid: `apply` twice a day (UTC), which logs why and
/// touches no device, so the log says what to fix.
pub fn fallback(runner: &str, error: &str) -> Vec<String> {
    // One line: every problem of a list, or the first line of TOML's own message.
    let first_line = if error.starts_with("the config has") {
        error.lines().map(str::trim).collect::<Vec<_>>().join(" ")
    } else {
        error.lines().next().unwrap_or_default().to_string()
    };
    vec![
        format!(
            "# the config is not valid yet ({first_line}): these runs log why and touch no device"
        ),
        format!("0 7,21 * * * root {runner} apply"),
        // Rewrites the block as soon as the owner's edit makes the config valid.
        format!("*/10 * * * * root {runner} --follow-config"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    const MINIMAL: &str = "timezone = 'Europe/London'\n[bms]\nurl = 'http://127.0.0.1:3000'\n[gx]\nhost = '127.0.0.1'\n";

    #[test]
    fn the_block_follows_the_config() {
        let c = Config::parse(MINIMAL, &Overrides::default()).unwrap();
        assert_eq!(
            block(&c, "/d/cron-run.sh"),
            vec![
                "CRON_TZ=Europe/London",
                "0 * * * * root /d/cron-run.sh apply",
                "5 * * * * root /d/cron-run.sh --failures-only status --check",
            ]
        );
        let ev = Config::parse(&format!("{MINIMAL}[ev]\n"), &Overrides::default()).unwrap();
        assert_eq!(
            block(&ev, "r").last().map(String::as_str),
            Some("*/5 * * * * root r ev-kick")
        );
        let off = Config::parse(
            &format!("{MINIMAL}[ev]\nenabled = false\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert!(!block(&off, "r").iter().any(|l| l.contains("ev-kick")));
    }

    #[test]
    fn export_adds_an_apply_at_each_refill_window_start() {
        let text = format!(
            "{MINIMAL}[drain]\nexport = true\n[[schedule.after_maintenance]]\nstart = '03:30'\nend = '07:00'\n[[schedule.after_maintenance]]\nstart = '21:00'\nend = '23:00'\ndays = 'weekends'\n"
        );
        let c = Config::parse(&text, &Overrides::default()).unwrap();
        let lines = block(&c, "r");
        assert!(
            lines.contains(&"30 3 * * * root r apply".to_string()),
            "{lines:?}"
        );
        // 21:00 is on the hour, which the hourly run covers.
        assert_eq!(
            lines.iter().filter(|l| l.ends_with("apply")).count(),
            2,
            "{lines:?}"
        );
        assert_eq!(apply_times(&c).len(), 25);
    }
}
