//! A minimal blocking HTTP/1.1 GET, for the BMS's plain-HTTP REST port on the LAN.
//!
//! One request per run, `Connection: close`, no redirects, no TLS: all the BMS needs, in a few
//! kilobytes of code instead of a general client (which, with URL and IDNA handling, would be a
//! fifth of the binary on the GX). The whole exchange runs against one deadline, and the body is
//! capped: a declared length over the cap is refused before any of it is read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::net::{self, ResolveError};

/// The largest header block accepted.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Bad URL, name not found, connection refused or reset.
    Unreachable(String),
    /// The deadline passed.
    Timeout,
    /// The body is (or is declared) larger than the cap.
    TooLarge,
    /// The answer is not HTTP, or broke off.
    Broken(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The parts of an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
    /// The `Host` header's value.
    pub authority: String,
}

/// Splits `http://host[:port][/path]`; IPv6 literals in brackets.
pub fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` does not start with http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{url}`: unclosed [ in the host"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("`{url}`: junk after the host")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(format!("`{url}` has no usable host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("`{url}`: port `{p}` is not a number 0-65535"))?,
        None => 80,
    };
    Ok(Target {
        host: host.to_string(),
        port,
        path: path.to_string(),
        authority: authority.to_string(),
    })
}

fn remaining(deadline: Instant) -> Result<Duration, HttpError> {
    net::remaining(deadline).ok_or(HttpError::Timeout)
}

fn resolve(host: &str, port: u16, deadline: Instant) -> Result<SocketAddr, HttpError> {
    net::resolve(host, port, deadline).map_err(|e| match e {
        ResolveError::Timeout => HttpError::Timeout,
        ResolveError::NotFound(detail) => HttpError::Unreachable(detail),
    })
}

fn io_error(e: std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => HttpError::Timeout,
        std::io::ErrorKind::ConnectionRefused => HttpError::Unreachable(e.to_string()),
        _ => HttpError::Broken(e.to_string()),
    }
}

/// Reads into `buf` until EOF or until it holds at least `limit` bytes, within the deadline.
fn read_until_eof(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: usize,
    deadline: Instant,
) -> Result<(), HttpError> {
    let mut chunk = [0u8; 8192];
    while buf.len() < limit {
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(io_error)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

/// GETs `url`, the whole exchange within `timeout`, refusing a body over `max_body` bytes.
pub fn get(url: &str, timeout: Duration, max_body: u64) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let target = parse_url(url).map_err(HttpError::Unreachable)?;
    let addr = resolve(&target.host, target.port, deadline)?;
    let mut stream = TcpStream::connect_timeout(&addr, remaining(deadline)?).map_err(io_error)?;
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(io_error)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: zcell-scheduler/{}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).map_err(io_error)?;

    // The header block.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if raw.len() > MAX_HEAD {
            return Err(HttpError::Broken("the header block is over 16 KiB".into()));
        }
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(io_error)?;
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(HttpError::Broken(
                    "the connection closed before the headers ended".into(),
                ));
            }
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let (status, content_length, chunked) = parse_head(&head)?;
    if status != 200 {
        return Ok(Response {
            status,
            body: Vec::new(),
        });
    }
    if content_length.is_some_and(|n| n > max_body) {
        return Err(HttpError::TooLarge);
    }
    let mut body = raw.split_off(head_end);
    let cap = usize::try_from(max_body).unwrap_or(usize::MAX);
    match (chunked, content_length) {
        (true, _) => {
            // Chunk framing adds a few bytes per chunk; allow for it, then decode with the cap.
            read_until_eof(&mut stream, &mut body, cap.saturating_mul(2), deadline)?;
            body = decode_chunked(&body, cap)?;
        }
        (false, Some(n)) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            read_until_eof(&mut stream, &mut body, n, deadline)?;
            if body.len() < n {
                return Err(HttpError::Broken(format!(
                    "the body broke off after {} of {n} bytes",
                    body.len()
                )));
            }
            body.truncate(n);
        }
        (false, None) => {
            read_until_eof(&mut stream, &mut body, cap.saturating_add(1), deadline)?;
            if body.len() > cap {
                return Err(HttpError::TooLarge);
            }
        }
    }
    Ok(Response { status, body })
}

/// The status code, Content-Length and whether the body is chunked.
fn parse_head(head: &str) -> Result<(u16, Option<u64>, bool), HttpError> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Broken(format!("not an HTTP answer: `{status_line}`")))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<u64>().map_err(|_| {
                HttpError::Broken(format!("Content-Length `{value}` is not a number"))
            })?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    Ok((status, length, chunked))
}

/// Decodes a chunked body, refusing one that decodes to more than `cap` bytes.
pub fn decode_chunked(mut raw: &[u8], cap: usize) -> Result<Vec<u8>, HttpError> {
    let broken = |what: &str| HttpError::Broken(format!("bad chunked body: {what}"));
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| broken("a chunk size line broke off"))?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| broken(&format!("chunk size `{size_hex}`")))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > cap {
            return Err(HttpError::TooLarge);
        }
        if raw.len() < size + 2 || &raw[size..size + 2] != b"\r\n" {
            return Err(broken("a chunk broke off"));
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://192.168.1.50:3000/rest/1.0/status").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.path.as_str(),
                t.authority.as_str()
            ),
            (
                "192.168.1.50",
                3000,
                "/rest/1.0/status",
                "192.168.1.50:3000"
            )
        );
        let t = parse_url("http://bms.local").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("bms.local", 80, "/")
        );
        let t = parse_url("http://[::1]:3000/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 3000));
        for bad in [
            "https://x",
            "http://",
            "http://:80/",
            "http://x:99999/",
            "http://[::1/",
            "http://u@x/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn heads() {
        assert_eq!(
            parse_head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").unwrap(),
            (200, Some(12), false)
        );
        assert_eq!(
            parse_head("HTTP/1.0 404 Not Found\r\ntransfer-encoding: Chunked\r\n\r\n").unwrap(),
            (404, None, true)
        );
        assert!(parse_head("SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head("HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            decode_chunked(b"4\r\n{\"li\r\n5;x=y\r\nst\":1\r\n0\r\n\r\n", 100).unwrap(),
            b"{\"list\":1"
        );
        assert_eq!(
            decode_chunked(b"a\r\n0123456789\r\n0\r\n\r\n", 9),
            Err(HttpError::TooLarge)
        );
        assert!(decode_chunked(b"zz\r\n", 100).is_err());
        assert!(decode_chunked(b"10\r\nshort\r\n", 100).is_err());
        assert!(decode_chunked(b"", 100).is_err());
    }
}
