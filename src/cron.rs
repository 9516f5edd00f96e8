//! The cron block for a configuration: which commands cron runs, and when, in the configured
//! zone. The boot helper (`scripts/gx/rc.local`) asks the tool for it with `cron-block`, so it
//! holds no TOML parsing of its own and every addition to the block comes from here.
//!
//! Venus OS's cron (cronie) and clock run in UTC; `CRON_TZ` makes the times local.

use crate::config::Config;

/// The lines of the block for a valid config; `runner` is the path of `cron-run.sh`.
pub fn block(config: &Config, runner: &str) -> Vec<String> {
    let mut lines = vec![
        format!("CRON_TZ={}", config.timezone.name()),
        format!("0 7,21 * * * root {runner} apply"),
        // Hourly, logging only failures: a slot in force that the GX does not follow.
        format!("5 * * * * root {runner} --failures-only status --check"),
    ];
    if config.ev.as_ref().is_some_and(|ev| ev.enabled) {
        lines.push(format!("*/5 * * * * root {runner} ev-kick"));
    }
    lines
}

/// The block while the config is not valid: `apply` twice a day (UTC), which logs why and
/// touches no device, so the log says what to fix.
pub fn fallback(runner: &str, error: &str) -> Vec<String> {
    let first_line = error.lines().next().unwrap_or_default();
    vec![
        format!(
            "# the config is not valid yet ({first_line}): these runs log why and touch no device"
        ),
        format!("0 7,21 * * * root {runner} apply"),
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
                "0 7,21 * * * root /d/cron-run.sh apply",
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
}
