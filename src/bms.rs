//! The Redflow BMS: an HTTP GET of `/rest/1.0/status`, parsed strictly, asked again before
//! giving up.
//!
//! The answer decides whether the battery may be held charged, so anything doubtful is an
//! error (and the caller falls back to the safe state): a body over 1 MiB, a missing `list`, a
//! battery without its state of charge, stripping flag or the two maintenance timers, or a
//! value of the wrong type or outside a plausible range. Unknown fields are ignored.
//!
//! One failed request would cost a day (the safe state holds until the next cron run), so a
//! failure that can heal in seconds (a server error, a timeout, a refused or dropped
//! connection, a half-ready answer) is asked again: at most [`TRIES`] tries, each within
//! `bms.timeout_s`, with a short pause between, and the retries never take the run past
//! [`RETRY_WINDOW`]. A failure that cannot heal so fast (an HTTP 404 from a wrong path, a
//! host name that does not resolve, a body far too large) is not asked again.

use std::time::{Duration, Instant};

use thiserror::Error;

use crate::config::BmsConfig;
use crate::exit_codes::{Exit, HasExit};
use crate::net::Failure;
use crate::redflow::{BmsReading, parse};

/// The path of the status document under the BMS base URL.
pub const STATUS_PATH: &str = "/rest/1.0/status";
/// The largest body accepted; the real answer is a few kilobytes per battery.
pub const MAX_BODY: u64 = 1024 * 1024;
/// Requests per run at most, before the safe state.
pub const TRIES: u32 = 3;
/// No retry runs past this, counted from the first request. (The first try always has the
/// whole `bms.timeout_s`: a longer one than this leaves no room for a retry after a timeout.)
pub const RETRY_WINDOW: Duration = Duration::from_secs(10);
/// The pauses before the second and the third try.
pub const PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];
/// A retry with less time than this left in the window is not started.
const SHORTEST_TRY: Duration = Duration::from_millis(500);

/// Why the BMS answer cannot be used: what went wrong (the last try's), and how often and for
/// how long it was asked. Every such error leads to the safe state and exit code 3.
/// The URL is safe to print: the config refuses one with user info, a query or a fragment.
#[derive(Debug, Error)]
#[error("BMS {url} {problem}{}", tries_note(*.tries, *.elapsed))]
pub struct BmsError {
    /// The status URL asked.
    pub url: String,
    pub problem: Problem,
    /// Requests made (1 when the failure cannot heal in seconds).
    pub tries: u32,
    /// From the first request to giving up.
    pub elapsed: Duration,
}

/// What went wrong with one request, and what to do about it. A BMS that fails (a server
/// error, no answer in time, a refused connection) is told apart from an address that is not
/// the BMS's (a 404 or another client error: check `bms.url`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    #[error(
        "refused the connection: check bms.url's port (the BMS's REST port is 3000) and that the BMS is powered on and its REST service runs"
    )]
    Refused,
    #[error(
        "is unreachable ({0}): check bms.url and that this machine is on the BMS's network, and that the BMS is powered on"
    )]
    Unreachable(String),
    #[error("the host name does not resolve: check bms.url (or write the BMS's IP address)")]
    NameNotFound,
    #[error("could not be reached ({0}): check the BMS and the network")]
    Network(String),
    #[error(
        "did not answer within {timeout_s} s: check the BMS and the network, or raise bms.timeout_s"
    )]
    Timeout { timeout_s: u64 },
    #[error("answered HTTP {status}: {}", status_advice(*.status))]
    Status { status: u16 },
    #[error(
        "sent a body over 1 MiB: that is not a BMS status document: check bms.url is the BMS's address and REST port (3000)"
    )]
    TooLarge,
    #[error("sent an unusable answer: {0}")]
    Unusable(String),
}

/// What an HTTP status other than 200 says about the BMS or the address.
fn status_advice(status: u16) -> &'static str {
    match status {
        404 => {
            "there is a web server at that address, but no BMS status page at /rest/1.0/status: check bms.url is the BMS's address and REST port, written as http://HOST:3000 (the tool adds the path)"
        }
        408 | 429 => "the BMS is busy: check the BMS if this repeats",
        500..=599 => {
            "the BMS was reached but failed to report (a fault in the BMS, not in bms.url): check the BMS's own web page, and restart the BMS if this repeats"
        }
        _ => {
            "that address does not answer like the BMS: check bms.url is the BMS's address and REST port, written as http://HOST:3000"
        }
    }
}

/// `" (3 tries over 3.1 s)"` after more than one try; nothing after one.
fn tries_note(tries: u32, elapsed: Duration) -> String {
    if tries > 1 {
        format!(" ({tries} tries over {:.1} s)", elapsed.as_secs_f64())
    } else {
        String::new()
    }
}

impl Problem {
    /// Whether asking again a few seconds later may get an answer.
    pub fn may_heal(&self) -> bool {
        match self {
            Problem::Refused
            | Problem::Unreachable(_)
            | Problem::Network(_)
            | Problem::Timeout { .. }
            | Problem::Unusable(_) => true,
            Problem::Status { status } => matches!(status, 408 | 429 | 500..=599),
            Problem::NameNotFound | Problem::TooLarge => false,
        }
    }

    /// What happened, in a few words, for the retry notice.
    fn what(&self) -> String {
        match self {
            Problem::Refused => "refused the connection".to_string(),
            Problem::Unreachable(_) | Problem::Network(_) => "could not be reached".to_string(),
            Problem::NameNotFound => "did not resolve".to_string(),
            Problem::Timeout { timeout_s } => format!("did not answer within {timeout_s} s"),
            Problem::Status { status } => format!("answered HTTP {status}"),
            Problem::TooLarge => "sent a body over 1 MiB".to_string(),
            Problem::Unusable(_) => "sent an unusable answer".to_string(),
        }
    }
}

impl BmsError {
    /// A few words for the plan's reasons: why the safe state.
    pub fn short(&self) -> &'static str {
        match self.problem {
            Problem::Refused => "connection refused",
            Problem::Unreachable(_) | Problem::Network(_) => "unreachable",
            Problem::NameNotFound => "host name not found",
            Problem::Timeout { .. } => "no answer in time",
            Problem::Status { status: 500..=599 } => "BMS error",
            Problem::Status { .. } => "HTTP error",
            Problem::TooLarge => "answer too large",
            Problem::Unusable(_) => "answer unusable",
        }
    }
}

/// The full status URL for a configured base URL.
pub fn status_url(config: &BmsConfig) -> String {
    format!("{}{STATUS_PATH}", config.url)
}

/// How often, and with which pauses, a failed request is asked again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub tries: u32,
    pub window: Duration,
    pub pauses: [Duration; 2],
}

/// The retry every run uses.
pub const RETRY: Retry = Retry {
    tries: TRIES,
    window: RETRY_WINDOW,
    pauses: PAUSES,
};

/// Fetches and parses the status document, asking again (see [`RETRY`]) while the failure may
/// heal; each retry is noted as a warning. In the normal case this is one request.
pub fn read(config: &BmsConfig) -> Result<BmsReading, BmsError> {
    read_with(config, &RETRY, |url, problem, next, pause| {
        log::warn!(
            "BMS {url} {} (try {} of {TRIES}): asking again in {} s",
            problem.what(),
            next - 1,
            pause.as_secs()
        );
    })
}

/// As [`read`] with this retry; `on_retry(url, problem, next try, pause)` is called before
/// each pause.
pub fn read_with(
    config: &BmsConfig,
    retry: &Retry,
    mut on_retry: impl FnMut(&str, &Problem, u32, Duration),
) -> Result<BmsReading, BmsError> {
    let url = status_url(config);
    let full = Duration::from_secs(config.timeout_s);
    let started = Instant::now();
    // The first try always has the whole bms.timeout_s; a retry only what is left of the
    // window, and none starts without room for a try after its pause.
    let window_end = started + retry.window;
    let mut first_problem: Option<Problem> = None;
    for tried in 1..=retry.tries.max(1) {
        let timeout = if tried == 1 {
            full
        } else {
            crate::net::remaining(window_end)
                .unwrap_or(SHORTEST_TRY)
                .min(full)
        };
        let problem = match once(&url, config.timeout_s, timeout) {
            Ok(reading) => {
                if let Some(first) = first_problem {
                    log::warn!(
                        "BMS {url} answered on try {tried} of {} (try 1 {})",
                        retry.tries,
                        first.what()
                    );
                }
                return Ok(reading);
            }
            Err(problem) => problem,
        };
        let pause = retry
            .pauses
            .get(tried as usize - 1)
            .copied()
            .unwrap_or(Duration::ZERO);
        let room =
            crate::net::remaining(window_end).is_some_and(|left| left >= pause + SHORTEST_TRY);
        if !problem.may_heal() || tried >= retry.tries || !room {
            return Err(BmsError {
                url,
                problem,
                tries: tried,
                elapsed: started.elapsed(),
            });
        }
        on_retry(&url, &problem, tried + 1, pause);
        first_problem.get_or_insert(problem);
        std::thread::sleep(pause);
    }
    // Not reached: the last try returns above.
    Err(BmsError {
        url,
        problem: Problem::Network("no request was made".to_string()),
        tries: 0,
        elapsed: started.elapsed(),
    })
}

/// One request, bounded by `timeout` for the whole exchange and by [`MAX_BODY`] in size.
/// `timeout_s` is the configured timeout, for the message.
fn once(url: &str, timeout_s: u64, timeout: Duration) -> Result<BmsReading, Problem> {
    let failed = |e: ureq::Error| request_problem(timeout_s, e);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(failed)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(Problem::Status { status });
    }
    // Refused from its header, before any of it is read.
    if response
        .body()
        .content_length()
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(Problem::TooLarge);
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(failed)?;
    parse(&body).map_err(Problem::Unusable)
}

/// A failed request in the owner's terms.
fn request_problem(timeout_s: u64, e: ureq::Error) -> Problem {
    let failure = match &e {
        ureq::Error::Timeout(_) => Failure::TimedOut,
        ureq::Error::Io(io) => Failure::from_io(io),
        ureq::Error::HostNotFound => return Problem::NameNotFound,
        ureq::Error::BodyExceedsLimit(_) => return Problem::TooLarge,
        ureq::Error::ConnectionFailed => Failure::Other("the connection failed".to_string()),
        other => return Problem::Unusable(other.to_string()),
    };
    match failure {
        Failure::Refused => Problem::Refused,
        Failure::TimedOut => Problem::Timeout { timeout_s },
        Failure::Unreachable(detail) => Problem::Unreachable(detail),
        Failure::NameNotFound(_) => Problem::NameNotFound,
        Failure::Other(detail) => Problem::Network(detail),
    }
}

/// A BMS that failed: the safe state is applied, and the run exits 3.
impl HasExit for BmsError {
    fn exit(&self) -> Exit {
        Exit::Bms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"list":[{"state_of_charge":63.4,"is_stripping":false,
        "strip_pump_run_target":259200,"strip_pump_run_timer":201600,"voltage":52.3}]}"#;

    /// A loopback server answering each connection with the next of `answers` (an HTTP
    /// status, 0 for "accept and say nothing"), then closing; the last answer repeats. Returns
    /// the config pointing at it and the count of requests.
    fn server(answers: &[u16]) -> (BmsConfig, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicU32, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(AtomicU32::new(0));
        let seen = std::sync::Arc::clone(&count);
        let answers = answers.to_vec();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(10) {
                let Ok(mut stream) = stream else { continue };
                let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
                let status = answers[n.min(answers.len() - 1)];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                if status == 0 {
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(5));
                        drop(stream);
                    });
                    continue;
                }
                let body = if status == 200 { GOOD } else { "error" };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let config = BmsConfig { url, timeout_s: 1 };
        (config, count)
    }

    const QUICK: Retry = Retry {
        tries: 3,
        window: Duration::from_secs(10),
        pauses: [Duration::from_millis(50), Duration::from_millis(50)],
    };

    fn requests(count: &std::sync::atomic::AtomicU32) -> u32 {
        count.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_good_answer_takes_one_request() {
        let (config, count) = server(&[200]);
        let mut retries = 0;
        let r = read_with(&config, &QUICK, |_, _, _, _| retries += 1).unwrap();
        assert_eq!(r.batteries.len(), 1);
        assert_eq!((requests(&count), retries), (1, 0));
    }

    #[test]
    fn a_server_error_is_asked_again_and_may_heal() {
        let (config, count) = server(&[500, 503, 200]);
        let mut notes = Vec::new();
        let r = read_with(&config, &QUICK, |_, p, next, _| {
            notes.push((p.clone(), next))
        });
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(requests(&count), 3);
        assert_eq!(
            notes,
            vec![
                (Problem::Status { status: 500 }, 2),
                (Problem::Status { status: 503 }, 3)
            ]
        );
    }

    #[test]
    fn a_lasting_server_error_gives_up_after_three_tries_and_blames_the_bms() {
        let (config, count) = server(&[500]);
        let e = read_with(&config, &QUICK, |_, _, _, _| {}).unwrap_err();
        assert_eq!((requests(&count), e.tries), (3, 3));
        let text = e.to_string();
        assert!(text.contains("answered HTTP 500"), "{text}");
        assert!(text.contains("3 tries over"), "{text}");
        assert!(text.contains("check the BMS"), "{text}");
        assert!(!text.contains("check bms.url"), "{text}");
        assert_eq!(e.short(), "BMS error");
    }

    #[test]
    fn a_wrong_path_is_not_asked_again_and_names_bms_url() {
        let (config, count) = server(&[404, 200]);
        let e = read_with(&config, &QUICK, |_, _, _, _| {}).unwrap_err();
        assert_eq!((requests(&count), e.tries), (1, 1));
        let text = e.to_string();
        assert!(
            text.contains("HTTP 404") && text.contains("check bms.url"),
            "{text}"
        );
        assert!(!text.contains("tries"), "{text}");
    }

    #[test]
    fn timeouts_are_retried_within_the_window() {
        // timeout_s = 1, a 1.8 s window: the second try gets what is left (about 0.75 s),
        // and there is no room for a third.
        let (config, count) = server(&[0]);
        let retry = Retry {
            window: Duration::from_millis(1800),
            ..QUICK
        };
        let started = Instant::now();
        let e = read_with(&config, &retry, |_, _, _, _| {}).unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(e.problem, Problem::Timeout { timeout_s: 1 }),
            "{e}"
        );
        assert_eq!((requests(&count), e.tries), (2, 2));
        assert!(took < Duration::from_millis(2300), "{took:?}");
        assert!(e.to_string().contains("did not answer within 1 s"), "{e}");
    }

    #[test]
    fn a_long_timeout_gets_one_whole_try_and_no_retry_past_the_window() {
        let (mut config, count) = server(&[0]);
        config.timeout_s = 2;
        let retry = Retry {
            window: Duration::from_secs(1),
            ..QUICK
        };
        let started = Instant::now();
        let e = read_with(&config, &retry, |_, _, _, _| {}).unwrap_err();
        let took = started.elapsed();
        assert_eq!((requests(&count), e.tries), (1, 1));
        assert!(
            took >= Duration::from_millis(1900),
            "the whole timeout: {took:?}"
        );
        assert!(took < Duration::from_millis(2900), "{took:?}");
    }

    #[test]
    fn the_default_retry_fits_the_window() {
        let worst: Duration = PAUSES.iter().sum();
        assert!(worst + SHORTEST_TRY * TRIES < RETRY_WINDOW);
        assert_eq!(RETRY.tries, 3);
        assert!(Problem::Refused.may_heal() && Problem::Timeout { timeout_s: 5 }.may_heal());
        assert!(!Problem::Status { status: 404 }.may_heal());
        assert!(!Problem::NameNotFound.may_heal() && !Problem::TooLarge.may_heal());
    }
}
