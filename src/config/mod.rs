//! The configuration file: TOML, parsed into typed values and validated.
//!
//! Every key except `timezone`, `bms.url` and `gx.host` has a default, and the defaults
//! reproduce the original owner's schedule (keep the battery full outside the weekday peaks,
//! 13:00-16:00 to 50 % before maintenance, 03:00-07:00 to 100 % after it). Validation is
//! strict: an unknown key or a window that overlaps a peak is an error that names the key,
//! because a typo in a battery schedule must never be silently ignored.
//!
//! Each section of the file has its own module, with its defaults beside its checks; this one
//! reads the file, applies the command line's overrides and gathers every section's problem.

mod bms;
mod drain;
mod ev;
mod gx;
mod schedule;
mod simulate;
mod site;
mod toml_words;
mod window;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

pub use bms::{BMS_PLACEHOLDER, BmsConfig};
pub use drain::DrainConfig;
pub use ev::{EvConfig, EvVia, RestoreMode};
pub use gx::{GX_PLACEHOLDER, GxConfig, join_host_port};
pub use schedule::Schedule;
pub use simulate::SimulateConfig;
pub use site::SiteConfig;
pub use window::{
    AUTO_SOC, ClockTime, DaySet, MAX_WINDOW_MINUTES, MAX_WINDOW_MINUTES_OTHER_GX_ZONE, Window,
};

/// Where the configuration lives on a GX unless `--config` or the environment says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/data/zcell-scheduler/config.toml";
/// The environment variable that overrides [`DEFAULT_CONFIG_PATH`].
pub const CONFIG_ENV: &str = "ZCELL_SCHEDULER_CONFIG";
/// A config file larger than this is refused: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// `bms.timeout_s` and `gx.timeout_s` when not given: seconds for each request to a device.
const DEFAULT_TIMEOUT_S: u64 = 5;

/// Errors in the configuration. All of them exit with code 2 before any device is touched.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "cannot read config {path}: {source}; create it from scripts/config.example.toml (see the README) or pass --config FILE"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is over 1 MiB: that is not a zcell-scheduler config; check --config")]
    TooLarge { path: PathBuf },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("flag {flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("the config has {} problems:\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// One problem as itself, several as a list.
    fn several(mut problems: Vec<ConfigError>) -> Self {
        match problems.len() {
            1 => problems.remove(0),
            _ => ConfigError::Several(problems),
        }
    }

    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub timezone: Tz,
    pub bms: BmsConfig,
    pub gx: GxConfig,
    pub peaks: Vec<Window>,
    pub schedule: Schedule,
    pub ev: Option<EvConfig>,
    pub drain: DrainConfig,
    pub simulate: SimulateConfig,
    /// `[site]`: where the sun rises and sets for the forecast; `None`: not given.
    pub site: Option<SiteConfig>,
}

/// Command-line values that take precedence over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `HOST` or `HOST:PORT`.
    pub gx: Option<String>,
    pub bms: Option<String>,
    pub timezone: Option<String>,
}

// The file's shape, as serde sees it; each section's own shape is in its module.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timezone: Option<String>,
    bms: Option<bms::RawBms>,
    gx: Option<gx::RawGx>,
    peak: Option<Vec<window::RawWindow>>,
    #[serde(default)]
    schedule: schedule::RawSchedule,
    ev: Option<ev::RawEv>,
    drain: Option<drain::RawDrain>,
    simulate: Option<simulate::RawSimulate>,
    site: Option<site::RawSite>,
}

impl Config {
    /// Reads and validates the file at `path`, applying command-line overrides.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
            &mut text,
        )
        .map_err(read_error)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Config::parse(&text, overrides).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        // TOML's own message (the line, the column and a caret under the spot), with its last
        // line in words and the full key.
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: toml_words::toml_error_in_words(text, &e),
        })?;
        build(raw, overrides)
    }

    /// The GX address as `host:port`.
    pub fn gx_address(&self) -> String {
        join_host_port(&self.gx.host, self.gx.port)
    }
}

/// An IANA zone, for `timezone` and `gx.timezone`.
fn parse_zone(key: &str, text: &str) -> Result<Tz, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("`{text}` is not an IANA time zone (e.g. \"Australia/Hobart\")"),
        )
    })
}

/// A device's timeout, `bms.timeout_s` or `gx.timeout_s`: 1-60 seconds.
fn device_timeout(key: &str, value: Option<u64>) -> Result<u64, ConfigError> {
    let value = value.unwrap_or(DEFAULT_TIMEOUT_S);
    if (1..=60).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{value} must be 1-60 seconds"),
        ))
    }
}

fn build_zone(text: Option<String>) -> Result<Tz, ConfigError> {
    let text = text.ok_or_else(|| {
        ConfigError::invalid(
            "timezone",
            "is required: the IANA zone of all wall-clock times, e.g. \"Australia/Hobart\"",
        )
    })?;
    parse_zone("timezone", &text)
}

/// A problem with a value the command line gave is the flag's, not the config key's.
fn as_flag<T>(
    r: Result<T, ConfigError>,
    flag: &'static str,
    given: &Option<String>,
) -> Result<T, ConfigError> {
    r.map_err(|e| match (e, given) {
        (ConfigError::Invalid { message, .. }, Some(_)) => ConfigError::Flag { flag, message },
        (e, _) => e,
    })
}

/// The value, or `None` with the problem noted.
fn keep<T>(problems: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| problems.push(e)).ok()
}

/// Builds the configuration section by section, and reports every section's first problem
/// at once, so an owner fixes them in one go.
fn build(raw: RawConfig, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let zone = build_zone(overrides.timezone.clone().or(raw.timezone));
    let timezone = keep(
        &mut problems,
        as_flag(zone, "--timezone", &overrides.timezone),
    );
    let bms = bms::build_bms(raw.bms, overrides.bms.clone());
    let bms = keep(&mut problems, as_flag(bms, "--bms", &overrides.bms));
    let gx = match timezone {
        Some(tz) => keep(
            &mut problems,
            gx::build_gx(raw.gx, overrides.gx.as_deref(), tz),
        ),
        None => None,
    };
    let peaks = keep(&mut problems, schedule::build_peaks(raw.peak));
    let schedule = keep(&mut problems, schedule::build_schedule(raw.schedule));
    if let (Some(s), Some(p)) = (&schedule, &peaks) {
        keep(&mut problems, schedule::check_no_charge_in_peaks(s, p));
    }
    if let (Some(s), Some(tz), Some(g)) = (&schedule, timezone, &gx) {
        keep(
            &mut problems,
            schedule::check_fits_the_gx_clock(s, tz, g.timezone),
        );
    }
    let ev = keep(&mut problems, raw.ev.map(ev::build_ev).transpose());
    let drain = keep(&mut problems, raw.drain.map(drain::build_drain).transpose());
    let simulate = keep(
        &mut problems,
        raw.simulate.map(simulate::build_simulate).transpose(),
    );
    let site = keep(&mut problems, raw.site.map(site::build_site).transpose());
    let (
        Some(timezone),
        Some(bms),
        Some(gx),
        Some(peaks),
        Some(schedule),
        Some(ev),
        Some(drain),
        Some(simulate),
        Some(site),
    ) = (
        timezone, bms, gx, peaks, schedule, ev, drain, simulate, site,
    )
    else {
        return Err(ConfigError::several(problems));
    };
    if !problems.is_empty() {
        return Err(ConfigError::several(problems));
    }
    let (drain, simulate) = (drain.unwrap_or_default(), simulate.unwrap_or_default());
    Ok(Config {
        timezone,
        bms,
        gx,
        peaks,
        schedule,
        ev,
        drain,
        simulate,
        site,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const MINIMAL: &str = r#"
timezone = "Australia/Hobart"
[bms]
url = "http://127.0.0.1:3000"
[gx]
host = "127.0.0.1"
"#;

    pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &Overrides::default())
    }

    pub(super) fn err_text(text: &str) -> String {
        match parse(text) {
            Ok(_) => String::from("<accepted>"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_flag_s_problem_is_named_as_the_flag() {
        let over = Overrides {
            bms: Some("ftp://x".into()),
            timezone: Some("Mars/Base".into()),
            ..Overrides::default()
        };
        let e = Config::parse("[bms]\nurl = 'http://x:1'\n[gx]\nhost = 'x'\n", &over)
            .unwrap_err()
            .to_string();
        assert!(e.contains("flag --timezone: `Mars/Base`"), "{e}");
        assert!(e.contains("flag --bms: "), "{e}");
        assert!(!e.contains("config key"), "{e}");
    }

    #[test]
    fn every_section_s_problem_in_one_run() {
        let e = Config::parse(
            "timezone = 'Mars/Base'\n[bms]\nurl = 'ftp://x'\n[gx]\nhost = 'x'\n[schedule]\nreserve_soc = 300\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("the config has 3 problems:"), "{e}");
        for key in ["`timezone`", "`bms.url`", "`schedule.reserve_soc`"] {
            assert!(e.contains(key), "{key} in {e}");
        }
    }

    #[test]
    fn required_keys_are_named() {
        assert!(err_text("[bms]\nurl='http://x'\n[gx]\nhost='x'").contains("`timezone`"));
        assert!(err_text("timezone='UTC'\n[gx]\nhost='x'").contains("`bms.url`"));
        assert!(err_text("timezone='UTC'\n[bms]\nurl='http://x'").contains("`gx.host`"));
    }

    #[test]
    fn overrides_win() {
        let o = Overrides {
            gx: Some("10.9.9.9:1502".into()),
            bms: Some("http://127.0.0.1:9".into()),
            timezone: Some("Europe/London".into()),
        };
        let c = Config::parse(MINIMAL, &o).unwrap();
        assert_eq!(c.gx_address(), "10.9.9.9:1502");
        assert_eq!(c.bms.url, "http://127.0.0.1:9");
        assert_eq!(c.timezone, chrono_tz::Europe::London);
        let o = Overrides {
            gx: Some("gx.local".into()),
            ..Overrides::default()
        };
        assert_eq!(
            Config::parse(MINIMAL, &o).unwrap().gx_address(),
            "gx.local:502"
        );
    }

    #[test]
    fn a_file_over_1_mib_is_refused() {
        let path = std::env::temp_dir().join(format!("zcell-big-{}.toml", std::process::id()));
        let mut text = MINIMAL.to_string();
        text.push_str(&"#".repeat(MAX_CONFIG_BYTES as usize));
        std::fs::write(&path, text).unwrap();
        let e = Config::load(&path, &Overrides::default()).unwrap_err();
        assert!(matches!(e, ConfigError::TooLarge { .. }), "{e}");
        std::fs::remove_file(&path).ok();
    }
}
