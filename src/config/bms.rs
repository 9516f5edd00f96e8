//! `[bms]`: where the Redflow BMS's REST port is, checked strictly, since a wrong URL would
//! otherwise only show as an unreachable BMS, and a URL's secrets must never reach a log.

use serde::Deserialize;

use super::{ConfigError, device_timeout};

/// What `scripts/config.example.toml` holds for the BMS until the owner sets it: a value that
/// fails validation, so an unedited config never reaches a device.
pub const BMS_PLACEHOLDER: &str = "http://BMS-ADDRESS:3000";

#[derive(Debug, Clone, PartialEq)]
pub struct BmsConfig {
    pub url: String,
    pub timeout_s: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBms {
    url: Option<String>,
    timeout_s: Option<u64>,
}

/// `url_override`: `--bms`, which wins over the file.
pub(super) fn build_bms(
    raw: Option<RawBms>,
    url_override: Option<String>,
) -> Result<BmsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
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
        timeout_s: device_timeout("bms.timeout_s", raw.timeout_s)?,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{MINIMAL, err_text, parse};

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
}
