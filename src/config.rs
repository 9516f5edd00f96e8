//! The configuration file: TOML, parsed into typed values and validated.
//!
//! Every key except `timezone`, `bms.url` and `gx.host` has a default, and the defaults
//! reproduce the original owner's schedule (keep the battery full outside the weekday peaks,
//! 13:00-16:00 to 50 % before maintenance, 03:00-07:00 to 100 % after it). Validation is
//! strict: an unknown key or a window that overlaps a peak is an error that names the key,
//! because a typo in a battery schedule must never be silently ignored.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

/// Where the configuration lives on a GX unless `--config` or the environment says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/data/zcell-scheduler/config.toml";
/// The environment variable that overrides [`DEFAULT_CONFIG_PATH`].
pub const CONFIG_ENV: &str = "ZCELL_SCHEDULER_CONFIG";
/// A config file larger than this is refused: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// What `scripts/config.example.toml` holds for the BMS until the owner sets it: a value that
/// fails validation, so an unedited config never reaches a device.
pub const BMS_PLACEHOLDER: &str = "http://BMS-ADDRESS:3000";
/// As [`BMS_PLACEHOLDER`], for the GX.
pub const GX_PLACEHOLDER: &str = "GX-ADDRESS";
/// A window may span at most this much wall-clock time: the GX counts slot 0's 16-bit
/// duration (at most 65 535 s) on its own wall clock, so with `gx.timezone` equal to
/// `timezone` a window's wall-clock length is the duration written, on every night.
pub const MAX_WINDOW_MINUTES: u32 = 65_535 / 60;
/// With a GX on another zone than the windows, a daylight-saving night can add an hour.
pub const MAX_WINDOW_MINUTES_OTHER_GX_ZONE: u32 = MAX_WINDOW_MINUTES - 60;

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

/// A wall-clock time of day with minute resolution, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| ClockTime {
            minutes: (hour * 60 + minute) as u16,
        })
    }

    /// Minutes since midnight, 0..1440.
    pub fn minutes(self) -> u32 {
        u32::from(self.minutes)
    }

    pub fn naive(self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.minutes() / 60, self.minutes() % 60, 0)
            .unwrap_or(NaiveTime::MIN)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let hour: u32 = h.parse().ok()?;
        let minute: u32 = m.parse().ok()?;
        ClockTime::new(hour, minute)
    }

    pub fn from_naive(time: NaiveTime) -> Self {
        ClockTime {
            minutes: (time.hour() * 60 + time.minute()) as u16,
        }
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes() / 60, self.minutes() % 60)
    }
}

/// Which days of the week a window applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaySet {
    All,
    /// Monday to Friday, except holidays.
    Weekdays,
    /// Saturday, Sunday and holidays.
    Weekends,
    /// Exactly these calendar days; holidays do not change them.
    Days(BTreeSet<u8>),
}

impl DaySet {
    /// Whether a window of this set applies on `date`.
    pub fn contains(&self, date: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> bool {
        let weekend =
            matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || holidays.contains(&date);
        match self {
            DaySet::All => true,
            DaySet::Weekdays => !weekend,
            DaySet::Weekends => weekend,
            DaySet::Days(days) => days.contains(&(date.weekday().num_days_from_monday() as u8)),
        }
    }
}

impl fmt::Display for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySet::All => f.write_str("every day"),
            DaySet::Weekdays => f.write_str("weekdays"),
            DaySet::Weekends => f.write_str("weekends"),
            DaySet::Days(days) => {
                let names: Vec<&str> = days.iter().map(|d| DAY_NAMES[usize::from(*d)]).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A wall-clock window, half-open: `[start, end)`. `end <= start` means it ends the next day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The key it came from, e.g. `schedule.normal[1]`, used in reasons and errors.
    pub key: String,
    pub start: ClockTime,
    pub end: ClockTime,
    pub days: DaySet,
    /// Months 1-12 in which it applies.
    pub months: BTreeSet<u8>,
    /// Target SoC, % (charge windows only; 0 for peaks); [`AUTO_SOC`] for `soc = "auto"`.
    pub soc: u8,
}

/// A maintenance window's `soc = "auto"`: the plan chooses the target from the forecast.
pub const AUTO_SOC: u8 = u8::MAX;

impl Window {
    /// Whether the plan chooses this window's target (`soc = "auto"`).
    pub fn is_auto(&self) -> bool {
        self.soc == AUTO_SOC
    }

    /// Wall-clock length in minutes (1..1440).
    pub fn minutes(&self) -> u32 {
        (self.end.minutes() + 1440 - self.start.minutes()) % 1440
    }

    /// Whether an instance starting on `date` exists (day and month allowed).
    pub fn applies_on(&self, date: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> bool {
        self.months.contains(&(date.month() as u8)) && self.days.contains(date, holidays)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BmsConfig {
    pub url: String,
    pub timeout_s: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GxConfig {
    pub host: String,
    pub port: u16,
    pub unit: u8,
    pub timeout_s: u64,
    pub take_over_dess: bool,
    /// The GX's own time zone (Settings → System → Time zone): the clock it counts slot time on.
    pub timezone: Tz,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `false` pauses the tool: the next `apply` or `ev-kick` hands the GX back (`release`),
    /// and every run after that does nothing until it is `true` again.
    pub enabled: bool,
    pub holidays: BTreeSet<NaiveDate>,
    pub battery_capacity_kwh: f64,
    pub reserve_soc: Option<u8>,
    pub maintenance_min_soc: u8,
    pub maintenance_lead_hours: u32,
    pub grid_charge: bool,
    pub normal: Vec<Window>,
    pub maintenance: Vec<Window>,
    pub after_maintenance: Vec<Window>,
}

impl Schedule {
    /// Every charge window: normal, maintenance, after-maintenance.
    pub fn charge_windows(&self) -> impl Iterator<Item = &Window> {
        self.normal
            .iter()
            .chain(&self.maintenance)
            .chain(&self.after_maintenance)
    }
}

/// How the EV charger is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvVia {
    /// Through the GX's evcharger service (registers 38xx).
    Gx,
    /// The charger's own Modbus-TCP server (registers 50xx).
    Evcs,
}

/// Which charger mode to put back when a kick ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    Previous,
    Auto,
    Manual,
    Scheduled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvConfig {
    pub enabled: bool,
    pub via: EvVia,
    pub host: Option<String>,
    pub port: u16,
    pub unit: u8,
    pub current_a: u16,
    pub min_battery_soc: f64,
    pub start_below_w: u32,
    pub stop_above_w: u32,
    pub phases: Vec<u8>,
    pub restore_mode: RestoreMode,
    pub state_file: PathBuf,
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

/// `[site]`: the site's position, degrees (north and east positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteConfig {
    pub latitude: f64,
    pub longitude: f64,
}

/// `[simulate]`: the battery model `simulate` runs the rules on. Defaults suit one ZCell.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateConfig {
    /// Largest charge power, W.
    pub charge_w: f64,
    /// Largest discharge power, W.
    pub discharge_w: f64,
    /// How long the strip lasts after the battery is empty, hours.
    pub strip_hours: f64,
    /// Hours from one maintenance cycle's end to the next one's due.
    pub maintenance_interval_hours: f64,
    /// The GX's ESS minimum SoC when the tool does not manage it (no `reserve_soc`), %.
    pub ess_min_soc: f64,
    /// The SoC at which the model counts the maintenance discharge done and the strip starts,
    /// %: 1 by default, the lowest target the GX takes (a drain slot aims for it).
    pub empty_soc: f64,
    /// House load per local hour 0-23, W; `None`: a constant (`--load`, else 400 W).
    pub load_w: Option<[f64; 24]>,
    /// Solar energy on a day, kWh, on a daylight curve 06:00-18:00; `None`: no solar.
    pub solar_kwh_per_day: Option<f64>,
    /// When an EV is plugged in, local `[from, to)`, for `[ev]`'s kick.
    pub ev_connected: Option<(ClockTime, ClockTime)>,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        SimulateConfig {
            charge_w: 3000.0,
            discharge_w: 3000.0,
            strip_hours: 2.0,
            maintenance_interval_hours: 72.0,
            ess_min_soc: 10.0,
            empty_soc: 1.0,
            load_w: None,
            solar_kwh_per_day: None,
            ev_connected: None,
        }
    }
}

/// `[drain]`: the maintenance drain's forecast, and the opt-in drain to the grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainConfig {
    /// The house's load during the drain, W; unset: the GX's AC loads when the tool runs.
    pub night_load_w: Option<u32>,
    /// The drain's deadline, wall-clock; unset: the start of the first after-maintenance window.
    pub by: Option<ClockTime>,
    /// Drain to the grid when the forecast says the drain will be late.
    pub export: bool,
}

// ---- the file's shape, as serde sees it ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timezone: Option<String>,
    bms: Option<RawBms>,
    gx: Option<RawGx>,
    peak: Option<Vec<RawWindow>>,
    #[serde(default)]
    schedule: RawSchedule,
    ev: Option<RawEv>,
    drain: Option<RawDrain>,
    simulate: Option<RawSimulate>,
    site: Option<RawSite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    latitude: f64,
    longitude: f64,
}

/// A window's `soc`: a number, or `"auto"` for a maintenance window.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawSoc {
    Number(i64),
    Word(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulate {
    charge_w: Option<f64>,
    discharge_w: Option<f64>,
    strip_hours: Option<f64>,
    maintenance_interval_hours: Option<f64>,
    ess_min_soc: Option<f64>,
    empty_soc: Option<f64>,
    load_w: Option<Vec<f64>>,
    solar_kwh_per_day: Option<f64>,
    ev_connected: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrain {
    night_load_w: Option<u32>,
    by: Option<String>,
    export: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBms {
    url: Option<String>,
    timeout_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGx {
    host: Option<String>,
    port: Option<u16>,
    unit: Option<u8>,
    timeout_s: Option<u64>,
    take_over_dess: Option<bool>,
    timezone: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawDays {
    Named(String),
    List(Vec<String>),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: Option<RawDays>,
    months: Option<Vec<i64>>,
    start: String,
    end: String,
    soc: Option<RawSoc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    enabled: Option<bool>,
    holidays: Option<Vec<String>>,
    battery_capacity_kwh: Option<f64>,
    reserve_soc: Option<i64>,
    maintenance_min_soc: Option<i64>,
    maintenance_lead_hours: Option<u32>,
    grid_charge: Option<bool>,
    normal: Option<Vec<RawWindow>>,
    maintenance: Option<Vec<RawWindow>>,
    after_maintenance: Option<Vec<RawWindow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEv {
    enabled: Option<bool>,
    via: Option<EvVia>,
    host: Option<String>,
    port: Option<u16>,
    unit: Option<u8>,
    current_a: Option<i64>,
    min_battery_soc: Option<f64>,
    start_below_w: Option<u32>,
    stop_above_w: Option<u32>,
    phases: Option<Vec<i64>>,
    restore_mode: Option<RestoreMode>,
    state_file: Option<PathBuf>,
}

fn raw_window(days: &str, start: &str, end: &str, soc: Option<i64>) -> RawWindow {
    RawWindow {
        days: Some(RawDays::Named(days.to_string())),
        months: None,
        start: start.to_string(),
        end: end.to_string(),
        soc: soc.map(RawSoc::Number),
    }
}

/// Command-line values that take precedence over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `HOST` or `HOST:PORT`.
    pub gx: Option<String>,
    pub bms: Option<String>,
    pub timezone: Option<String>,
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
            message: toml_error_in_words(text, &e),
        })?;
        build(raw, overrides)
    }

    /// The GX address as `host:port`.
    pub fn gx_address(&self) -> String {
        join_host_port(&self.gx.host, self.gx.port)
    }
}

/// A TOML error for an owner: `key \`schedule.reserve_soc\`: expected a whole number, found
/// text "30"`, then TOML's lines with the caret, without Rust's type names.
fn toml_error_in_words(text: &str, e: &toml::de::Error) -> String {
    let full = e.to_string();
    let detail = e.message().trim();
    let snippet = full
        .trim_end()
        .strip_suffix(detail)
        .unwrap_or(&full)
        .trim_end();
    // The caret's line is the owner's own text: a URL's token or password never goes to a log.
    let snippet = snippet
        .lines()
        .map(redact_url)
        .collect::<Vec<_>>()
        .join("\n");
    let key = e.span().and_then(|span| key_at(text, span.start));
    let words = type_words(detail);
    match key {
        Some(key) => format!("key `{key}`: {words}\n{snippet}"),
        None => format!("{words}\n{snippet}"),
    }
}

/// A line with any URL's user info, query and fragment replaced by `…`.
fn redact_url(line: &str) -> String {
    let Some(scheme) = line.find("://") else {
        return line.to_string();
    };
    let (head, rest) = line.split_at(scheme + 3);
    let end = rest
        .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    let (url, tail) = rest.split_at(end);
    let url = match url.find('@') {
        Some(at) if !url[..at].contains('/') => format!("…@{}", &url[at + 1..]),
        _ => url.to_string(),
    };
    let url = match url.find(['?', '#']) {
        Some(cut) => format!("{}{}…", &url[..cut], &url[cut..=cut]),
        None => url,
    };
    format!("{head}{url}{tail}")
}

/// The dotted key of the line holding byte `at`: its table header and the key before `=`.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let key = line.split('=').next()?.trim();
    let table = before[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    let key = (!key.is_empty() && !key.starts_with('[')).then_some(key);
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// serde's type names in words: `invalid type: string "30", expected i64` → `expected a whole
/// number, found text "30"`.
fn type_words(detail: &str) -> String {
    let name = |t: &str| -> String {
        let t = t.trim();
        let words = match t {
            "i64" | "i32" | "u64" | "u32" | "u16" | "u8" | "integer" => "a whole number",
            "f64" | "f32" | "a float" | "float" => "a number",
            "a boolean" | "bool" | "boolean" => "true or false",
            "a string" | "string" => "text in quotes",
            "a sequence" | "sequence" => "a list in [ ]",
            "a map" | "map" => "a table",
            _ => {
                return t
                    .replace("string ", "text ")
                    .replace("integer ", "the number ");
            }
        };
        words.to_string()
    };
    if let Some(rest) = detail.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, found {}", name(expected), name(found));
        }
    }
    detail.replace("unknown field", "unknown key")
}

/// `host:port`, bracketing IPv6 literals.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn soc_value(key: &str, value: i64) -> Result<u8, ConfigError> {
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| ConfigError::invalid(key, format!("SoC {value} is outside 0-100")))
}

fn parse_gx_override(text: &str) -> Result<(String, Option<u16>), ConfigError> {
    let bad = || ConfigError::Flag {
        flag: "--gx",
        message: format!("`{text}` is not HOST or HOST:PORT"),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if tail.is_empty() => None,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            if host.is_empty() {
                return Err(bad());
            }
            Ok((host.to_string(), Some(port.parse().map_err(|_| bad())?)))
        }
        _ if text.is_empty() => Err(bad()),
        _ => Ok((text.to_string(), None)),
    }
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
    let bms = build_bms(raw.bms, overrides.bms.clone());
    let bms = keep(&mut problems, as_flag(bms, "--bms", &overrides.bms));
    let gx = match timezone {
        Some(tz) => keep(&mut problems, build_gx(raw.gx, overrides.gx.as_deref(), tz)),
        None => None,
    };
    let peaks = keep(&mut problems, build_peaks(raw.peak));
    let schedule = keep(&mut problems, build_schedule(raw.schedule));
    if let (Some(s), Some(p)) = (&schedule, &peaks) {
        keep(&mut problems, check_no_charge_in_peaks(s, p));
    }
    if let (Some(s), Some(tz), Some(g)) = (&schedule, timezone, &gx) {
        keep(&mut problems, check_fits_the_gx_clock(s, tz, g.timezone));
    }
    let ev = keep(&mut problems, raw.ev.map(build_ev).transpose());
    let drain = keep(&mut problems, raw.drain.map(build_drain).transpose());
    let simulate = keep(&mut problems, raw.simulate.map(build_simulate).transpose());
    let site = keep(&mut problems, raw.site.map(build_site).transpose());
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

fn build_site(raw: RawSite) -> Result<SiteConfig, ConfigError> {
    if !(-90.0..=90.0).contains(&raw.latitude) {
        return Err(ConfigError::invalid(
            "site.latitude",
            format!(
                "{} is not a latitude -90 to 90 (south negative)",
                raw.latitude
            ),
        ));
    }
    if !(-180.0..=180.0).contains(&raw.longitude) {
        return Err(ConfigError::invalid(
            "site.longitude",
            format!(
                "{} is not a longitude -180 to 180 (west negative)",
                raw.longitude
            ),
        ));
    }
    Ok(SiteConfig {
        latitude: raw.latitude,
        longitude: raw.longitude,
    })
}

/// `[simulate] load_w`: 24 hourly loads, W.
fn simulate_load(values: Option<Vec<f64>>) -> Result<Option<[f64; 24]>, ConfigError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let hourly: [f64; 24] = values.clone().try_into().map_err(|_| {
        ConfigError::invalid(
            "simulate.load_w",
            format!(
                "has {} values; give 24, one per hour from 00:00",
                values.len()
            ),
        )
    })?;
    if let Some(bad) = hourly.iter().find(|w| !(0.0..=100_000.0).contains(*w)) {
        return Err(ConfigError::invalid(
            "simulate.load_w",
            format!("{bad} W is outside 0-100000"),
        ));
    }
    Ok(Some(hourly))
}

/// `[simulate] ev_connected`: a span like `18:00-07:00`.
fn simulate_span(text: String) -> Result<(ClockTime, ClockTime), ConfigError> {
    text.split_once('-')
        .and_then(|(a, b)| Some((ClockTime::parse(a)?, ClockTime::parse(b)?)))
        .filter(|(a, b)| a != b)
        .ok_or_else(|| {
            ConfigError::invalid(
                "simulate.ev_connected",
                format!("`{text}` is not a span like \"18:00-07:00\""),
            )
        })
}

fn build_simulate(raw: RawSimulate) -> Result<SimulateConfig, ConfigError> {
    let d = SimulateConfig::default();
    let within = |key: &str, v: Option<f64>, default: f64, lo: f64, hi: f64| {
        let v = v.unwrap_or(default);
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(ConfigError::invalid(
                key,
                format!("{v} is outside {lo}-{hi}"),
            ))
        }
    };
    let load_w = simulate_load(raw.load_w)?;
    let ev_connected = raw.ev_connected.map(simulate_span).transpose()?;
    Ok(SimulateConfig {
        charge_w: within("simulate.charge_w", raw.charge_w, d.charge_w, 1.0, 1e6)?,
        discharge_w: within(
            "simulate.discharge_w",
            raw.discharge_w,
            d.discharge_w,
            1.0,
            1e6,
        )?,
        strip_hours: within(
            "simulate.strip_hours",
            raw.strip_hours,
            d.strip_hours,
            0.0,
            48.0,
        )?,
        maintenance_interval_hours: within(
            "simulate.maintenance_interval_hours",
            raw.maintenance_interval_hours,
            d.maintenance_interval_hours,
            1.0,
            24.0 * 31.0,
        )?,
        ess_min_soc: within(
            "simulate.ess_min_soc",
            raw.ess_min_soc,
            d.ess_min_soc,
            0.0,
            100.0,
        )?,
        empty_soc: within("simulate.empty_soc", raw.empty_soc, d.empty_soc, 0.0, 5.0)?,
        load_w,
        solar_kwh_per_day: raw
            .solar_kwh_per_day
            .map(|v| within("simulate.solar_kwh_per_day", Some(v), 0.0, 0.0, 1000.0))
            .transpose()?,
        ev_connected,
    })
}

fn build_drain(raw: RawDrain) -> Result<DrainConfig, ConfigError> {
    let by = raw
        .by
        .map(|text| {
            ClockTime::parse(&text).ok_or_else(|| {
                ConfigError::invalid(
                    "drain.by",
                    format!("`{text}` is not a time HH:MM between 00:00 and 23:59"),
                )
            })
        })
        .transpose()?;
    if raw.night_load_w == Some(0) {
        return Err(ConfigError::invalid(
            "drain.night_load_w",
            "0 W would never drain the battery: leave it unset to use the GX's loads",
        ));
    }
    Ok(DrainConfig {
        night_load_w: raw.night_load_w,
        by,
        export: raw.export.unwrap_or(false),
    })
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

fn parse_zone(key: &str, text: &str) -> Result<Tz, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("`{text}` is not an IANA time zone (e.g. \"Australia/Hobart\")"),
        )
    })
}

fn build_bms(raw: Option<RawBms>, url_override: Option<String>) -> Result<BmsConfig, ConfigError> {
    let raw = raw.unwrap_or(RawBms {
        url: None,
        timeout_s: None,
    });
    let url = url_override.or(raw.url).ok_or_else(|| {
        ConfigError::invalid("bms.url", "is required, e.g. \"http://192.168.1.50:3000\"")
    })?;
    if url == BMS_PLACEHOLDER {
        return Err(ConfigError::invalid(
            "bms.url",
            "still holds the example placeholder: set your BMS's address, e.g. \"http://192.168.1.50:3000\"",
        ));
    }
    Ok(BmsConfig {
        url: check_bms_url(&url)?,
        timeout_s: timeout_value("bms.timeout_s", raw.timeout_s.unwrap_or(5))?,
    })
}

fn build_gx(
    raw: Option<RawGx>,
    address_override: Option<&str>,
    timezone: Tz,
) -> Result<GxConfig, ConfigError> {
    let raw = raw.unwrap_or(RawGx {
        host: None,
        port: None,
        unit: None,
        timeout_s: None,
        take_over_dess: None,
        timezone: None,
    });
    let (mut host, mut port) = (raw.host, raw.port.unwrap_or(502));
    if let Some(text) = address_override {
        let (h, p) = parse_gx_override(text)?;
        host = Some(h);
        if let Some(p) = p {
            port = p;
        }
    }
    let host = host
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ConfigError::invalid("gx.host", "is required, e.g. \"192.168.1.60\""))?;
    if host == GX_PLACEHOLDER {
        return Err(ConfigError::invalid(
            "gx.host",
            "still holds the example placeholder: set the GX's address (\"127.0.0.1\" when the tool runs on the GX itself)",
        ));
    }
    Ok(GxConfig {
        host,
        port,
        unit: raw.unit.unwrap_or(100),
        timeout_s: timeout_value("gx.timeout_s", raw.timeout_s.unwrap_or(5))?,
        take_over_dess: raw.take_over_dess.unwrap_or(false),
        timezone: match raw.timezone {
            Some(text) => parse_zone("gx.timezone", &text)?,
            None => timezone,
        },
    })
}

/// With the GX on another zone than the windows, a window's length on the GX's wall clock can
/// differ from its own by a daylight-saving hour: keep room for it.
fn check_fits_the_gx_clock(schedule: &Schedule, timezone: Tz, gx: Tz) -> Result<(), ConfigError> {
    if gx == timezone {
        return Ok(());
    }
    for w in schedule.charge_windows() {
        if w.minutes() > MAX_WINDOW_MINUTES_OTHER_GX_ZONE {
            return Err(ConfigError::invalid(
                w.key.clone(),
                format!(
                    "{}-{} is {} h {:02} min; with gx.timezone ({}) other than timezone ({}), at most {} h {:02} min fits the GX slot (65 535 s) on a daylight-saving night",
                    w.start,
                    w.end,
                    w.minutes() / 60,
                    w.minutes() % 60,
                    gx.name(),
                    timezone.name(),
                    MAX_WINDOW_MINUTES_OTHER_GX_ZONE / 60,
                    MAX_WINDOW_MINUTES_OTHER_GX_ZONE % 60
                ),
            ));
        }
    }
    Ok(())
}

fn build_peaks(raw: Option<Vec<RawWindow>>) -> Result<Vec<Window>, ConfigError> {
    let raw = raw.unwrap_or_else(|| {
        vec![
            raw_window("weekdays", "07:00", "10:00", None),
            raw_window("weekdays", "16:00", "21:00", None),
        ]
    });
    raw.iter()
        .enumerate()
        .map(|(i, w)| window(&format!("peak[{i}]"), w, false))
        .collect()
}

fn build_holidays(raw: Option<Vec<String>>) -> Result<BTreeSet<NaiveDate>, ConfigError> {
    let mut holidays = BTreeSet::new();
    for (i, text) in raw.unwrap_or_default().iter().enumerate() {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ConfigError::invalid(
                format!("schedule.holidays[{i}]"),
                format!("`{text}` is not a date like \"2026-12-25\""),
            )
        })?;
        holidays.insert(date);
    }
    Ok(holidays)
}

fn charge_windows(
    name: &str,
    raw: Option<Vec<RawWindow>>,
    default: Vec<RawWindow>,
) -> Result<Vec<Window>, ConfigError> {
    raw.unwrap_or(default)
        .iter()
        .enumerate()
        .map(|(i, w)| window(&format!("schedule.{name}[{i}]"), w, true))
        .collect()
}

fn build_schedule(s: RawSchedule) -> Result<Schedule, ConfigError> {
    let capacity = s.battery_capacity_kwh.unwrap_or(10.0);
    if !(capacity >= 0.05 && capacity * 10.0 <= f64::from(u16::MAX)) {
        return Err(ConfigError::invalid(
            "schedule.battery_capacity_kwh",
            format!("{capacity} must be 0.1 to 6553.5 kWh (the GX stores tenths)"),
        ));
    }
    let lead_hours = s.maintenance_lead_hours.unwrap_or(24);
    if lead_hours > 24 * 14 {
        return Err(ConfigError::invalid(
            "schedule.maintenance_lead_hours",
            "must be at most 336 (two weeks)",
        ));
    }
    Ok(Schedule {
        enabled: s.enabled.unwrap_or(true),
        holidays: build_holidays(s.holidays)?,
        battery_capacity_kwh: capacity,
        reserve_soc: s
            .reserve_soc
            .map(|v| soc_value("schedule.reserve_soc", v))
            .transpose()?,
        maintenance_min_soc: soc_value(
            "schedule.maintenance_min_soc",
            s.maintenance_min_soc.unwrap_or(0),
        )?,
        maintenance_lead_hours: lead_hours,
        grid_charge: s.grid_charge.unwrap_or(true),
        normal: charge_windows(
            "normal",
            s.normal,
            vec![
                raw_window("all", "10:00", "16:00", Some(100)),
                raw_window("all", "21:00", "07:00", Some(100)),
            ],
        )?,
        maintenance: charge_windows(
            "maintenance",
            s.maintenance,
            vec![raw_window("all", "13:00", "16:00", Some(50))],
        )?,
        after_maintenance: charge_windows(
            "after_maintenance",
            s.after_maintenance,
            vec![raw_window("all", "03:00", "07:00", Some(100))],
        )?,
    })
}

/// No charge window may overlap a peak on a day both apply: the battery must stay free to
/// discharge in peaks.
fn check_no_charge_in_peaks(schedule: &Schedule, peaks: &[Window]) -> Result<(), ConfigError> {
    for charge in schedule.charge_windows() {
        for peak in peaks {
            if let Some(date) = overlap_date(charge, peak, &schedule.holidays) {
                return Err(ConfigError::invalid(
                    charge.key.clone(),
                    format!(
                        "{}-{} overlaps {} ({}-{}) on days both apply (e.g. {}); \
                         the battery must stay free to discharge in peaks",
                        charge.start,
                        charge.end,
                        peak.key,
                        peak.start,
                        peak.end,
                        date.format("%a %Y-%m-%d")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the BMS base URL: `http://HOST[:PORT]` with at most a trailing `/` (no user info, no
/// path, query or fragment), and returns it as `http://HOST[:PORT]`. A message never echoes
/// user info, a query or a fragment back: they may hold a password or token, and messages go to
/// cron logs and syslog.
fn check_bms_url(url: &str) -> Result<String, ConfigError> {
    let shown = shown_url(url);
    let bad = |why: &str| ConfigError::invalid("bms.url", format!("`{shown}` {why}"));
    // What comes before a query or fragment; anything up to its last `@` is user info.
    let cut = url.find(['?', '#']);
    let front = &url[..cut.unwrap_or(url.len())];
    if front.contains('@') {
        return Err(bad(
            "holds a user name or password: the BMS needs none, and the tool's messages go to cron logs and syslog that others can read; remove it",
        ));
    }
    let uri: ureq::http::Uri = front.parse().map_err(|e| {
        bad(&format!(
            "is not a URL ({e}): write it as http://HOST:3000, e.g. \"http://192.168.1.50:3000\""
        ))
    })?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "uses https, but the BMS serves plain HTTP on the LAN: use http://",
            ));
        }
        _ => return Err(bad("must start with http:// (the BMS serves plain HTTP)")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| bad("has no host: write it as http://HOST:3000"))?;
    if authority.host().is_empty() || authority.host() == "[]" {
        return Err(bad("has no host: write it as http://HOST:3000"));
    }
    if authority.as_str().ends_with(':') {
        return Err(bad("has an empty port: write it as http://HOST:3000"));
    }
    // `http::Uri` drops a port it cannot read as 16 bits rather than refusing it.
    let after_host = authority.as_str().rsplit(']').next().unwrap_or_default();
    if after_host.contains(':') && authority.port_u16().is_none_or(|p| p == 0) {
        return Err(bad("has a port that is not a number 1-65535"));
    }
    let base = format!("http://{}", authority.as_str());
    let instead = format!(
        "write only the BMS's address and port, \"{base}\" (the tool adds /rest/1.0/status itself)"
    );
    match cut.map(|at| &url[at..at + 1]) {
        Some("?") => {
            return Err(bad(&format!(
                "has a query (`?…`): {instead}; the BMS needs no query, and one may hold a token that would end up in logs"
            )));
        }
        Some(_) => return Err(bad(&format!("has a fragment (`#…`): {instead}"))),
        None => {}
    }
    if !matches!(uri.path(), "" | "/") {
        return Err(bad(&format!("has a path (`{}`): {instead}", uri.path())));
    }
    Ok(base)
}

/// The URL as messages may show it: user info (anything before the last `@` ahead of a query
/// or fragment) replaced by `…@`, and a query or fragment by `?…` or `#…`.
fn shown_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let (front, tail) = url.split_at(cut);
    let tail = match tail.chars().next() {
        Some(mark) => format!("{mark}…"),
        None => String::new(),
    };
    let (scheme, rest) = match front.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), front),
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}…@{}{tail}", &rest[at + 1..]),
        None => format!("{scheme}{rest}{tail}"),
    }
}

fn timeout_value(key: &str, value: u64) -> Result<u64, ConfigError> {
    if (1..=60).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{value} must be 1-60 seconds"),
        ))
    }
}

fn build_ev(raw: RawEv) -> Result<EvConfig, ConfigError> {
    let via = raw.via.unwrap_or(EvVia::Gx);
    let current = raw.current_a.unwrap_or(6);
    if !(6..=32).contains(&current) {
        return Err(ConfigError::invalid(
            "ev.current_a",
            format!("{current} A must be 6-32 (6 A is the least IEC 61851 allows)"),
        ));
    }
    let min_soc = raw.min_battery_soc.unwrap_or(10.0);
    if !(0.0..=100.0).contains(&min_soc) {
        return Err(ConfigError::invalid(
            "ev.min_battery_soc",
            format!("{min_soc} is outside 0-100"),
        ));
    }
    let mut phases = Vec::new();
    for p in raw.phases.unwrap_or_else(|| vec![1, 2, 3]) {
        match u8::try_from(p) {
            Ok(n @ 1..=3) if !phases.contains(&n) => phases.push(n),
            _ => {
                return Err(ConfigError::invalid(
                    "ev.phases",
                    format!("{p} is not a phase 1, 2 or 3 (each at most once)"),
                ));
            }
        }
    }
    if phases.is_empty() {
        return Err(ConfigError::invalid(
            "ev.phases",
            "needs at least one phase",
        ));
    }
    let start_below_w = raw.start_below_w.unwrap_or(1000);
    let stop_above_w = raw.stop_above_w.unwrap_or(2500);
    if stop_above_w < start_below_w {
        return Err(ConfigError::invalid(
            "ev.stop_above_w",
            format!("{stop_above_w} W is below ev.start_below_w ({start_below_w} W)"),
        ));
    }
    if via == EvVia::Evcs && raw.host.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(
            "ev.host",
            "is required with via = \"evcs\": the charger's own IP address",
        ));
    }
    Ok(EvConfig {
        enabled: raw.enabled.unwrap_or(true),
        via,
        host: raw.host,
        port: raw.port.unwrap_or(502),
        unit: raw.unit.unwrap_or(match via {
            EvVia::Gx => 40,
            EvVia::Evcs => 1,
        }),
        current_a: current as u16,
        min_battery_soc: min_soc,
        start_below_w,
        stop_above_w,
        phases,
        restore_mode: raw.restore_mode.unwrap_or(RestoreMode::Previous),
        state_file: raw
            .state_file
            .unwrap_or_else(|| PathBuf::from("/data/zcell-scheduler/ev-kick.json")),
    })
}

/// A window's `days`: all when absent, a name, or a non-empty list of day names.
fn window_days(key: &str, days: Option<&RawDays>) -> Result<DaySet, ConfigError> {
    let days = match days {
        None => DaySet::All,
        Some(RawDays::Named(name)) => match name.as_str() {
            "all" => DaySet::All,
            "weekdays" => DaySet::Weekdays,
            "weekends" => DaySet::Weekends,
            other => {
                return Err(ConfigError::invalid(
                    format!("{key}.days"),
                    format!(
                        "`{other}` is not \"all\", \"weekdays\", \"weekends\" or a list like [\"mon\", \"tue\"]"
                    ),
                ));
            }
        },
        Some(RawDays::List(names)) => {
            let mut set = BTreeSet::new();
            for name in names {
                let day: Weekday = name.to_ascii_lowercase().parse().map_err(|_| {
                    ConfigError::invalid(
                        format!("{key}.days"),
                        format!("`{name}` is not a day name (mon, tue, wed, thu, fri, sat, sun)"),
                    )
                })?;
                let index = day.num_days_from_monday();
                set.insert(index as u8);
            }
            if set.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.days"),
                    "an empty list never applies; remove the window instead",
                ));
            }
            DaySet::Days(set)
        }
    };
    Ok(days)
}

/// A window's `months`: all twelve when absent, never an empty list.
fn window_months(key: &str, months: Option<&[i64]>) -> Result<BTreeSet<u8>, ConfigError> {
    let months = match months {
        None => (1..=12).collect(),
        Some(list) => {
            let mut set = BTreeSet::new();
            for m in list {
                match u8::try_from(*m) {
                    Ok(n @ 1..=12) => {
                        set.insert(n);
                    }
                    _ => {
                        return Err(ConfigError::invalid(
                            format!("{key}.months"),
                            format!("{m} is not a month 1-12"),
                        ));
                    }
                }
            }
            if set.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.months"),
                    "an empty list never applies; remove the window instead",
                ));
            }
            set
        }
    };
    Ok(months)
}

fn window(key: &str, raw: &RawWindow, charge: bool) -> Result<Window, ConfigError> {
    let time = |name: &str, text: &str| {
        ClockTime::parse(text).ok_or_else(|| {
            ConfigError::invalid(
                format!("{key}.{name}"),
                format!("`{text}` is not a time HH:MM between 00:00 and 23:59"),
            )
        })
    };
    let start = time("start", &raw.start)?;
    let end = time("end", &raw.end)?;
    if start == end {
        return Err(ConfigError::invalid(
            format!("{key}.end"),
            format!("equals start ({start}): a window needs a length"),
        ));
    }
    let days = window_days(key, raw.days.as_ref())?;
    let months = window_months(key, raw.months.as_deref())?;
    let soc = match (charge, raw.soc.clone()) {
        (true, Some(RawSoc::Number(v))) => soc_value(&format!("{key}.soc"), v)?,
        (true, Some(RawSoc::Word(w)))
            if w == "auto" && key.starts_with("schedule.maintenance[") =>
        {
            AUTO_SOC
        }
        (true, Some(RawSoc::Word(w))) => {
            return Err(ConfigError::invalid(
                format!("{key}.soc"),
                format!(
                    "`{w}` is not a SoC 0-100 (\"auto\" is for schedule.maintenance windows only)"
                ),
            ));
        }
        (true, None) => 100,
        (false, Some(_)) => {
            return Err(ConfigError::invalid(
                format!("{key}.soc"),
                "a peak window has no SoC",
            ));
        }
        (false, None) => 0,
    };
    let w = Window {
        key: key.to_string(),
        start,
        end,
        days,
        months,
        soc,
    };
    if charge && w.minutes() > MAX_WINDOW_MINUTES {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{start}-{end} is {} h {:02} min; at most {} h {:02} min fits the GX slot (65 535 s)",
                w.minutes() / 60,
                w.minutes() % 60,
                MAX_WINDOW_MINUTES / 60,
                MAX_WINDOW_MINUTES % 60
            ),
        ));
    }
    Ok(w)
}

/// The first date on which an instance of `charge` and an instance of `peak` overlap in
/// wall-clock time, if any.
///
/// Whether a window applies depends only on the weekday, the month and whether the date is a
/// holiday, so checking every date of eight consecutive years (every weekday in every month,
/// leap years included) plus each holiday covers every case.
fn overlap_date(
    charge: &Window,
    peak: &Window,
    holidays: &BTreeSet<NaiveDate>,
) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1)?;
    let years = (0..8 * 366).filter_map(|n| first.checked_add_days(chrono::Days::new(n)));
    let holiday_days = holidays
        .iter()
        .flat_map(|h| h.pred_opt().into_iter().chain([*h]));
    years.chain(holiday_days).find(|&day| {
        // Instances starting on `day` and on the day before (which may run into `day`).
        let intervals = |w: &Window| -> Vec<(i64, i64)> {
            [(day.pred_opt(), -1440i64), (Some(day), 0)]
                .into_iter()
                .filter_map(|(d, offset)| {
                    let d = d?;
                    w.applies_on(d, holidays).then(|| {
                        let start = offset + i64::from(w.start.minutes());
                        (start, start + i64::from(w.minutes()))
                    })
                })
                .collect()
        };
        let peaks = intervals(peak);
        intervals(charge)
            .iter()
            .any(|c| peaks.iter().any(|p| c.0 < p.1 && p.0 < c.1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_in_words_with_the_full_key() {
        let e = Config::parse(
            "timezone = 'UTC'\n[bms]\nurl = 'http://x:1'\n[gx]\nhost = 'x'\n[schedule]\nreserve_soc = \"30\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("key `schedule.reserve_soc`: expected a whole number, found text \"30\""),
            "{e}"
        );
        assert!(e.contains("^^^^"), "the caret is kept: {e}");
        assert!(!e.contains("i64"), "{e}");
        assert_eq!(
            type_words("invalid type: integer `1`, expected a boolean"),
            "expected true or false, found the number `1`"
        );
        // A TOML error on a URL's line never shows its token or password.
        let e = Config::parse(
            "[bms]\nurl = \"http://u:pw@x:1/?token=abc\" x\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("abc") && !e.contains("pw"), "{e}");
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

    const MINIMAL: &str = r#"
timezone = "Australia/Hobart"
[bms]
url = "http://127.0.0.1:3000"
[gx]
host = "127.0.0.1"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &Overrides::default())
    }

    fn err_text(text: &str) -> String {
        match parse(text) {
            Ok(_) => String::from("<accepted>"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_reproduce_the_original_schedule() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.timezone, chrono_tz::Australia::Hobart);
        assert_eq!(c.gx.port, 502);
        assert_eq!(c.gx.unit, 100);
        assert_eq!(c.peaks.len(), 2);
        assert_eq!(c.peaks[1].start.to_string(), "16:00");
        assert_eq!(c.schedule.normal.len(), 2);
        assert_eq!(c.schedule.normal[1].minutes(), 10 * 60);
        assert_eq!(c.schedule.maintenance[0].soc, 50);
        assert_eq!(c.schedule.after_maintenance[0].start.to_string(), "03:00");
        assert_eq!(c.schedule.reserve_soc, None);
        assert!(c.ev.is_none());
    }

    #[test]
    fn required_keys_are_named() {
        assert!(err_text("[bms]\nurl='http://x'\n[gx]\nhost='x'").contains("`timezone`"));
        assert!(err_text("timezone='UTC'\n[gx]\nhost='x'").contains("`bms.url`"));
        assert!(err_text("timezone='UTC'\n[bms]\nurl='http://x'").contains("`gx.host`"));
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let cases = [
            ("timezone = \"Mars/Olympus\"", "timezone"),
            ("[schedule]\nreserve_soc = 101", "schedule.reserve_soc"),
            ("[schedule]\nbogus = 1", "bogus"),
            (
                "[[schedule.normal]]\nstart = \"24:00\"\nend = \"07:00\"",
                "schedule.normal[0].start",
            ),
            (
                "[[schedule.normal]]\nstart = \"11:00\"\nend = \"11:00\"",
                "schedule.normal[0].end",
            ),
            (
                "[[schedule.normal]]\nstart = \"21:00\"\nend = \"15:00\"",
                "schedule.normal[0]",
            ),
            (
                "[[schedule.normal]]\nstart = \"09:00\"\nend = \"11:00\"",
                "overlaps peak[0]",
            ),
            (
                "[[schedule.maintenance]]\nstart = \"10:00\"\nend = \"12:00\"\nsoc = -1",
                "schedule.maintenance[0].soc",
            ),
            (
                "[[peak]]\ndays = \"someday\"\nstart = \"07:00\"\nend = \"09:00\"",
                "peak[0].days",
            ),
            (
                "[[peak]]\nmonths = [13]\nstart = \"07:00\"\nend = \"09:00\"",
                "peak[0].months",
            ),
        ];
        for (extra, key) in cases {
            let text = if extra.starts_with("timezone") {
                MINIMAL.replace("timezone = \"Australia/Hobart\"", extra)
            } else {
                format!("{MINIMAL}\n{extra}\n")
            };
            let e = err_text(&text);
            assert!(e.contains(key), "{extra:?}: expected {key:?} in {e:?}");
        }
    }

    #[test]
    fn eighteen_hours_twelve_is_the_longest_window() {
        let ok = format!(
            "{MINIMAL}[[peak]]\ndays=['sun']\nstart='11:00'\nend='12:00'\n[[schedule.normal]]\nstart = \"12:48\"\nend = \"07:00\"\n"
        );
        assert!(parse(&ok).is_ok(), "{}", err_text(&ok));
        let long = ok.replace("12:48", "12:47");
        assert!(
            err_text(&long).contains("18 h 12 min"),
            "{}",
            err_text(&long)
        );
        // A GX on another zone needs an hour's room.
        let utc_gx = ok.replace(
            "host = \"127.0.0.1\"",
            "host = \"127.0.0.1\"\ntimezone = \"UTC\"",
        );
        assert!(
            err_text(&utc_gx).contains("gx.timezone"),
            "{}",
            err_text(&utc_gx)
        );
        let c = parse(&utc_gx.replace("12:48", "13:48")).unwrap();
        assert_eq!(c.gx.timezone, chrono_tz::UTC);
        assert_eq!(
            parse(MINIMAL).unwrap().gx.timezone,
            chrono_tz::Australia::Hobart
        );
    }

    #[test]
    fn touching_windows_do_not_overlap() {
        let text = format!(
            "{MINIMAL}[[schedule.normal]]\nstart = \"10:00\"\nend = \"16:00\"\n[[schedule.normal]]\nstart = \"21:00\"\nend = \"07:00\"\n"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn overlap_only_matters_on_days_both_apply() {
        // A weekend-only morning charge does not clash with weekday peaks...
        let weekend = format!(
            "{MINIMAL}[[schedule.normal]]\ndays = \"weekends\"\nstart = \"06:00\"\nend = \"12:00\"\n"
        );
        assert!(parse(&weekend).is_ok(), "{}", err_text(&weekend));
        // ...but an explicit Wednesday peak on a holiday Wednesday does.
        let holiday = format!(
            "{MINIMAL}[[peak]]\ndays = [\"wed\"]\nstart = \"07:00\"\nend = \"09:00\"\n[schedule]\nholidays = [\"2026-12-23\"]\n[[schedule.normal]]\ndays = \"weekends\"\nstart = \"06:00\"\nend = \"12:00\"\n"
        );
        assert!(
            err_text(&holiday).contains("2026-12-23"),
            "{}",
            err_text(&holiday)
        );
        // A Friday-night charge that runs into a Saturday peak clashes on Saturday.
        let overnight = format!(
            "{MINIMAL}[[peak]]\ndays = [\"sat\"]\nstart = \"05:00\"\nend = \"06:00\"\n[[schedule.normal]]\ndays = [\"fri\"]\nstart = \"22:00\"\nend = \"07:00\"\n"
        );
        assert!(err_text(&overnight).contains("overlaps peak[0]"));
        // Months: a winter-only charge does not clash with a summer-only peak.
        let months = format!(
            "{MINIMAL}[[peak]]\nmonths = [12, 1, 2]\nstart = \"11:00\"\nend = \"12:00\"\n[[schedule.normal]]\nmonths = [6, 7, 8]\nstart = \"10:00\"\nend = \"15:00\"\n"
        );
        assert!(parse(&months).is_ok(), "{}", err_text(&months));
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
    fn bms_url_is_checked_and_never_echoes_credentials() {
        let bms = |url: &str| err_text(&MINIMAL.replace("http://127.0.0.1:3000", url));
        for (url, expect) in [
            ("https://192.168.1.50:3000", "uses https"),
            ("ftp://192.168.1.50", "must start with http://"),
            ("192.168.1.50:3000", "must start with http://"),
            ("http://[::1", "is not a URL"),
            ("http://host:3000:4000", "is not a URL"),
            ("http://host:99999", "1-65535"),
            ("http://host:", "empty port"),
            ("http://", "is not a URL"),
            ("http://host:3000/?x=1", "query"),
        ] {
            let e = bms(url);
            assert!(e.contains("bms.url") && e.contains(expect), "{url}: {e}");
        }
        let e = bms("http://owner:s3cret@192.168.1.50:3000");
        assert!(e.contains("user name or password"), "{e}");
        assert!(!e.contains("s3cret") && !e.contains("owner"), "{e}");
        assert!(e.contains("…@192.168.1.50:3000"), "{e}");
        for good in [
            "http://192.168.1.50:3000",
            "http://bms.local:3000/",
            "http://[::1]:3000",
        ] {
            let c = parse(&MINIMAL.replace("http://127.0.0.1:3000", good)).unwrap();
            assert_eq!(c.bms.url, good.trim_end_matches('/'));
        }
    }

    #[test]
    fn bms_url_is_the_base_only_and_says_what_to_write_instead() {
        let bms = |url: &str| err_text(&MINIMAL.replace("http://127.0.0.1:3000", url));
        // The URL the BMS's help page shows: its path is refused, with the base to write.
        let e = bms("http://BMS:3000/rest/1.0/status");
        assert!(
            e.contains("bms.url")
                && e.contains("has a path (`/rest/1.0/status`)")
                && e.contains("\"http://BMS:3000\""),
            "{e}"
        );
        for (url, expect) in [
            ("http://bms:3000#status", "has a fragment (`#…`)"),
            ("http://bms:3000/#x?y", "has a fragment (`#…`)"),
            ("http://bms:3000/x/", "has a path (`/x/`)"),
            ("http://bms:3000//", "has a path (`//`)"),
            ("http://bms:3000/?", "has a query (`?…`)"),
        ] {
            let e = bms(url);
            assert!(
                e.contains(expect) && e.contains("\"http://bms:3000\""),
                "{url}: {e}"
            );
        }
        // No user info, query or fragment is ever shown, whatever else is wrong.
        for (url, expect) in [
            (
                "http://bms:3000/?token=s3cret",
                "`http://bms:3000/?…` has a query",
            ),
            (
                "http://bms:3000/rest/1.0/status?token=s3cret",
                "`http://bms:3000/rest/1.0/status?…` has a query",
            ),
            ("http://bms:3000?token=s3cret#x", "`http://bms:3000?…`"),
            ("https://bms:3000/?token=s3cret", "uses https"),
            ("ftp://bms?token=s3cret", "must start with http://"),
            ("bms:3000?token=s3cret", "must start with http://"),
            ("http://bms:3000#s3cret", "`http://bms:3000#…`"),
            ("http://owner:s3cret/x@bms:3000", "`http://…@bms:3000`"),
            ("http://owner@bms?u=a@s3cret", "`http://…@bms?…`"),
            ("http://[::1?token=s3cret", "is not a URL"),
        ] {
            let e = bms(url);
            assert!(e.contains(expect), "{url}: {e}");
            assert!(!e.contains("s3cret") && !e.contains("owner"), "{url}: {e}");
        }
        // Written in capitals or with a trailing slash: stored as http://HOST:PORT.
        let c = parse(&MINIMAL.replace("http://127.0.0.1:3000", "HTTP://Bms.local:3000/")).unwrap();
        assert_eq!(c.bms.url, "http://Bms.local:3000");
    }

    #[test]
    fn placeholders_name_what_to_set() {
        let e = err_text(&MINIMAL.replace("http://127.0.0.1:3000", BMS_PLACEHOLDER));
        assert!(
            e.contains("bms.url") && e.contains("placeholder: set your BMS's address"),
            "{e}"
        );
        let e = err_text(&MINIMAL.replace("host = \"127.0.0.1\"", "host = \"GX-ADDRESS\""));
        assert!(e.contains("gx.host") && e.contains("placeholder"), "{e}");
    }

    #[test]
    fn toml_errors_keep_line_column_and_caret() {
        let e = err_text(&format!("{MINIMAL}[schedule]\nreserve_soc = = 3\n"));
        assert!(e.contains("line 8, column"), "{e}");
        assert!(e.lines().count() >= 3 && e.contains('^'), "{e}");
    }

    #[test]
    fn flags_are_called_flags() {
        let o = Overrides {
            gx: Some("host:port".into()),
            ..Overrides::default()
        };
        let e = Config::parse(MINIMAL, &o).unwrap_err().to_string();
        assert!(e.starts_with("flag --gx:"), "{e}");
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

    #[test]
    fn ev_section() {
        let c = parse(&format!("{MINIMAL}[ev]\n")).unwrap();
        let ev = c.ev.unwrap();
        assert_eq!((ev.via, ev.unit, ev.current_a), (EvVia::Gx, 40, 6));
        assert!(err_text(&format!("{MINIMAL}[ev]\ncurrent_a = 5\n")).contains("ev.current_a"));
        assert!(err_text(&format!("{MINIMAL}[ev]\nvia = \"evcs\"\n")).contains("ev.host"));
        let evcs = parse(&format!(
            "{MINIMAL}[ev]\nvia = \"evcs\"\nhost = \"127.0.0.1\"\n"
        ))
        .unwrap()
        .ev
        .unwrap();
        assert_eq!(evcs.unit, 1);
    }
}
