//! What every command's output shares: how the command line asked for it, printing that
//! survives a closed pipe, local times in words, the head of every JSON document, a part that
//! may have failed, and the failures that decide the exit code. No command is known here.

use std::io::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::exit_codes::{Exit, HasExit};

pub mod parts;

#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// Prints to stdout, ignoring a closed pipe rather than panicking.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Prints to stderr, ignoring a closed pipe.
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A local date-time with zone abbreviation: `Mon 23 Nov 2026 07:00 AEDT`.
pub fn long_local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%a %d %b %Y %H:%M %Z")
        .to_string()
}

/// The errors of a run, each with the exit code it stands for; the exit code of the run is
/// decided from them in [`Exit::worst`], the one place that ranks them.
#[derive(Debug, Default)]
pub struct Failures(Vec<(Exit, String)>);

impl Failures {
    /// A message that stands for `exit` (a check that failed, not an error value).
    pub fn add(&mut self, exit: Exit, message: &impl ToString) {
        self.0.push((exit, message.to_string()));
    }

    /// An error, with the exit code it knows.
    pub fn push(&mut self, error: &impl HasExit) {
        self.add(error.exit(), error);
    }

    pub fn push_if(&mut self, error: Option<&impl HasExit>) {
        if let Some(e) = error {
            self.push(e);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (errors most important first, exit code)
    pub fn finish(mut self) -> (Vec<String>, Exit) {
        self.0
            .sort_by_key(|(exit, _)| std::cmp::Reverse(exit.rank()));
        let exit = Exit::worst(self.0.iter().map(|(e, _)| *e));
        (self.0.into_iter().map(|(_, m)| m).collect(), exit)
    }
}

pub fn rfc3339<S: Serializer, Z: TimeZone>(t: &DateTime<Z>, s: S) -> Result<S::Ok, S::Error>
where
    Z::Offset: std::fmt::Display,
{
    s.collect_str(&t.to_rfc3339())
}

pub fn rfc3339_opt<S: Serializer, Z: TimeZone>(
    t: &Option<DateTime<Z>>,
    s: S,
) -> Result<S::Ok, S::Error>
where
    Z::Offset: std::fmt::Display,
{
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

pub fn zone_name<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Which command a document reports on: the same type in every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandName {
    Plan,
    Apply,
    Status,
    EvKick,
    Simulate,
    Release,
}

impl CommandName {
    /// As typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Plan => "plan",
            CommandName::Apply => "apply",
            CommandName::Status => "status",
            CommandName::EvKick => "ev-kick",
            CommandName::Simulate => "simulate",
            CommandName::Release => "release",
        }
    }
}

impl std::fmt::Display for CommandName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The head every document starts with.
#[derive(Debug, Clone, Serialize)]
pub struct Head {
    #[serde(serialize_with = "rfc3339")]
    pub now: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub now_local: DateTime<Tz>,
    #[serde(serialize_with = "zone_name")]
    pub timezone: Tz,
}

impl Head {
    pub fn new(tz: Tz, now: DateTime<Utc>) -> Head {
        Head {
            now,
            now_local: now.with_timezone(&tz),
            timezone: tz,
        }
    }
}

/// A part that may have failed: its fields, or only `ok` and `error`.
#[derive(Debug, Clone, Serialize)]
pub struct Part<T> {
    pub ok: bool,
    pub error: Option<String>,
    #[serde(flatten)]
    pub data: Option<T>,
}

impl<T> Part<T> {
    pub fn new<E: ToString>(result: Result<T, &E>) -> Part<T> {
        match result {
            Ok(data) => Part {
                ok: true,
                error: None,
                data: Some(data),
            },
            Err(e) => Part {
                ok: false,
                error: Some(e.to_string()),
                data: None,
            },
        }
    }
}
