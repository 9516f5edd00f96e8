//! What every command's report shares: the head (when, in which zone) and the failures that
//! decide the exit code, with the serializers for times. No command is known here.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::error::Exit;

/// The errors of a run, each with the exit code it stands for; the exit code of the run is
/// decided from them in [`Exit::worst`], the one place that ranks them.
#[derive(Debug, Default)]
pub struct Failures(Vec<(Exit, String)>);

impl Failures {
    pub fn add(&mut self, exit: Exit, error: &impl ToString) {
        self.0.push((exit, error.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add_if<E: ToString>(&mut self, exit: Exit, error: Option<&E>) {
        if let Some(e) = error {
            self.add(exit, e);
        }
    }

    /// (errors most important first, exit code)
    pub fn finish(mut self) -> (Vec<String>, Exit) {
        self.0
            .sort_by_key(|(exit, _)| std::cmp::Reverse(exit.rank()));
        let exit = Exit::worst(self.0.iter().map(|(e, _)| *e));
        (self.0.into_iter().map(|(_, m)| m).collect(), exit)
    }
}

// ---------------------------------------------------------------- times

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
