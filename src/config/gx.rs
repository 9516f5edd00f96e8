//! `[gx]`: how the Victron GX is reached over Modbus-TCP, and the clock it counts slot time on.

use chrono_tz::Tz;
use serde::Deserialize;

use super::{ConfigError, device_timeout, parse_zone};

/// As [`BMS_PLACEHOLDER`](super::BMS_PLACEHOLDER), for the GX.
pub const GX_PLACEHOLDER: &str = "GX-ADDRESS";

/// The standard Modbus-TCP port, which the GX and an EV charger's own server listen on.
pub(super) const MODBUS_TCP_PORT: u16 = 502;
/// The unit id of the GX's system and settings registers.
const DEFAULT_UNIT: u8 = 100;
const DEFAULT_TAKE_OVER_DESS: bool = false;

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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGx {
    host: Option<String>,
    port: Option<u16>,
    unit: Option<u8>,
    timeout_s: Option<u64>,
    take_over_dess: Option<bool>,
    timezone: Option<String>,
}

/// `address_override`: `--gx`, which wins over the file; `timezone`: the windows' zone, the
/// GX's unless `gx.timezone` says otherwise.
pub(super) fn build_gx(
    raw: Option<RawGx>,
    address_override: Option<&str>,
    timezone: Tz,
) -> Result<GxConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let (mut host, mut port) = (raw.host, raw.port.unwrap_or(MODBUS_TCP_PORT));
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
        unit: raw.unit.unwrap_or(DEFAULT_UNIT),
        timeout_s: device_timeout("gx.timeout_s", raw.timeout_s)?,
        take_over_dess: raw.take_over_dess.unwrap_or(DEFAULT_TAKE_OVER_DESS),
        timezone: match raw.timezone {
            Some(text) => parse_zone("gx.timezone", &text)?,
            None => timezone,
        },
    })
}

/// `--gx HOST`, `--gx HOST:PORT` or `--gx [IPV6]:PORT`: the host, and the port if given.
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

/// `host:port`, bracketing IPv6 literals.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::MINIMAL;
    use crate::config::{Config, Overrides};

    #[test]
    fn flags_are_called_flags() {
        let o = Overrides {
            gx: Some("host:port".into()),
            ..Overrides::default()
        };
        let e = Config::parse(MINIMAL, &o).unwrap_err().to_string();
        assert!(e.starts_with("flag --gx:"), "{e}");
    }
}
