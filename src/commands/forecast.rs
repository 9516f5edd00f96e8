//! The maintenance drain's forecast as `plan`, `apply` and `status` show it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::drain::{Forecast, LoadSource};
use crate::plan::short_local;
use crate::serial::{hundredths, rfc3339, rfc3339_opt};

/// The maintenance drain's forecast (`null` outside the maintenance phase).
#[derive(Debug, Clone, Serialize)]
pub struct DrainDoc {
    pub energy_kwh: f64,
    /// The house load, W (without the EV charger's own power).
    pub load_w: u32,
    pub load_source: LoadSource,
    pub ev_w: u32,
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    /// `null`: never (nothing to drain into).
    #[serde(serialize_with = "rfc3339_opt")]
    pub finish: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub deadline: Option<DateTime<Utc>>,
    pub on_time: bool,
}

impl DrainDoc {
    pub fn new(f: &Forecast) -> DrainDoc {
        DrainDoc {
            energy_kwh: hundredths(f.energy_kwh),
            load_w: f.load_w,
            load_source: f.load_source,
            ev_w: f.ev_w,
            start: f.start,
            finish: f.finish,
            deadline: f.deadline,
            on_time: f.on_time,
        }
    }
}

/// The drain forecast in a few lines.
pub fn drain_text(tz: Tz, d: &DrainDoc) -> String {
    let source = match d.load_source {
        crate::drain::LoadSource::Gx => "the GX's loads now",
        crate::drain::LoadSource::Config => "drain.night_load_w",
    };
    let finish = match d.finish {
        Some(f) => format!("empty {}", short_local(tz, f)),
        None => "never empty (nothing to drain into)".to_string(),
    };
    let deadline = match d.deadline {
        Some(t) => format!(
            ", deadline {} → {}",
            short_local(tz, t),
            if d.on_time { "on time" } else { "LATE" }
        ),
        None => ", no deadline".to_string(),
    };
    format!(
        "\nMaintenance drain (forecast)\n  {:.1} kWh from {} at {} W (house {} W from {source}, EV {} W): {finish}{deadline}\n",
        d.energy_kwh,
        short_local(tz, d.start),
        d.load_w + d.ev_w,
        d.load_w,
        d.ev_w
    )
}
