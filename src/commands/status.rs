//! `status`: read both devices (and the charger with `[ev]`), check whether the GX follows
//! slot 0, and report it as JSON or text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::bms;
use crate::config::Config;
use crate::drain;
use crate::ev::charger;
use crate::ev::parts::{ChargerPart, EvStatus, charger_part_text, record_text};
use crate::ev::state;
use crate::exit_codes::Exit;
use crate::follow::{self, SlotCheck};
use crate::gx::{self, GxError, System};
use crate::modbus::Device;
use crate::output::parts::{BmsPart, DrainDoc, SlotRegisters, bms_text, drain_text};
use crate::output::{CommandName, Failures, Head, Output, Part, long_local};
use crate::plan;
use crate::registers as reg;
use crate::registers::Snapshot;
use crate::victron::GxSettings;
use crate::victron::{Line, SlotMap};
use crate::writes;

/// `status`: read both devices (and the charger with `[ev]`); a failing part does not hide
/// the others. With `check`, only the GX decides the exit code: 4 when it cannot be read or
/// does not follow a slot in force.
pub fn status(config: &Config, now: DateTime<Utc>, check: bool) -> StatusReport {
    let tz = config.timezone;
    let bms = bms::read(&config.bms);
    let (gx, device) = match gx::connect(&config.gx) {
        Ok(mut d) => (read_status_gx(&mut d), Some(d)),
        Err(e) => (Err(GxError::from(e)), None),
    };
    let mut failures = Failures::default();
    failures.push_if(gx.as_ref().err());
    let live = gx.as_ref().map(|(system, dess, settings)| {
        let slot_check = follow::check(
            config.gx.timezone,
            now,
            &settings.slot,
            gx::dess_state(settings.dess_mode, dess),
            system.firmware.map_or(Line::Unknown, |f| f.line()),
        );
        let warnings: Vec<String> = writes::battery_life_warning(settings).into_iter().collect();
        if check {
            if slot_check.failed() {
                failures.add(Exit::Device, &slot_check.message);
            }
            for w in &warnings {
                failures.add(Exit::Device, w);
            }
        }
        GxLive::new(
            tz,
            config.gx.timezone,
            GxRead {
                system,
                dess,
                settings,
                slot_check,
                warnings,
            },
        )
    });
    if !check {
        failures.push_if(bms.as_ref().err());
    }
    let ev_charger = config.ev.as_ref().filter(|ev| ev.enabled).map(|ev| {
        let reached = charger::reach(config, ev, device);
        if let (false, Some(Err(e))) = (check, &reached.reading) {
            failures.push(e);
        }
        let part = ChargerPart::new(
            &reached.at,
            reached.reading.as_ref().map(|r| r.as_ref().copied()),
        );
        EvStatus::new(part, &state::load(&ev.state_file))
    });
    let system = gx.as_ref().ok().map(|(system, _, _)| &system.snapshot);
    let forecast = status_forecast(config, now, &bms, system, ev_charger.as_ref());
    let (errors, exit_code) = failures.finish();
    StatusReport {
        command: CommandName::Status,
        check,
        head: Head::new(tz, now),
        bms: BmsPart::new(tz, now, &bms),
        gx: Part::new(live),
        drain: forecast.as_ref().map(DrainDoc::new),
        ev_charger,
        errors,
        exit_code,
    }
}

/// Everything `status` reads from the GX: the system values (with the firmware version), the
/// Dynamic ESS live block, and the settings on the GX's map.
fn read_status_gx(
    device: &mut Device,
) -> Result<
    (
        gx::System,
        crate::registers::Snapshot,
        crate::victron::GxSettings,
    ),
    GxError,
> {
    let system = gx::read_system(device, &gx::LIVE[..5])?;
    let dess = gx::read(device, &gx::LIVE[5..])?;
    let settings = gx::read_settings(device)?;
    Ok((system, dess, settings))
}

/// The drain forecast from what `status` read: the rules' stage from the BMS, the battery and
/// the loads from the GX, the charger when `[ev]` is enabled.
fn status_forecast(
    config: &Config,
    now: DateTime<Utc>,
    bms: &Result<crate::redflow::BmsReading, bms::BmsError>,
    snap: Option<&crate::registers::Snapshot>,
    ev: Option<&EvStatus>,
) -> Option<drain::Forecast> {
    let plan = plan::plan(config, now, bms.as_ref().ok()?);
    let charger = ev
        .and_then(|e| e.charger.charger)
        .map(|c| (c.registers.power_w, c.registers.status));
    let readings = gx::drain_readings(snap?, charger);
    crate::decide::decide(config, plan, Some(&readings)).forecast
}

/// The GX's live values and settings, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct GxLive {
    /// `v3.70`, or `null` where the GX's Modbus server does not publish it (before
    /// `dbus_modbustcp` v1.0.82).
    pub firmware: Option<String>,
    /// The firmware line whose control code the tool allows for (`unknown` without a version).
    pub firmware_line: Line,
    /// Which register map serves slot 0.
    pub slot_map: SlotMap,
    pub battery_soc: Option<f64>,
    pub battery_power_w: Option<f64>,
    pub ac_loads_w: [Option<f64>; 3],
    pub ess_state: u16,
    pub ess_state_text: &'static str,
    pub ess_min_soc: Option<f64>,
    /// The SoC the GX really stops a discharge at: BatteryLife's own limit, or the minimum.
    pub ess_soc_limit: Option<f64>,
    pub hub4_mode: u16,
    pub hub4_mode_text: &'static str,
    pub dess_mode: u16,
    pub dess_mode_text: &'static str,
    pub dess_active: bool,
    pub dess_error: u16,
    pub dess_error_text: &'static str,
    pub dess_target_soc: Option<f64>,
    pub battery_capacity_kwh: Option<f64>,
    pub slot: SlotRegisters,
    /// Whether the GX follows slot 0 now.
    pub slot_check: SlotCheck,
    /// What keeps maintenance from completing on this GX, with the fix.
    pub warnings: Vec<String>,
}

/// What `status` read from the GX, for [`GxLive::new`].
pub struct GxRead<'a> {
    pub system: &'a System,
    /// 5400-5407.
    pub dess: &'a Snapshot,
    pub settings: &'a GxSettings,
    pub slot_check: SlotCheck,
    pub warnings: Vec<String>,
}

impl GxLive {
    pub fn new(tz: Tz, gx_tz: Tz, read: GxRead) -> GxLive {
        let (snap, dess, s) = (&read.system.snapshot, read.dess, read.settings);
        let word = |r: reg::Register| dess.word(r.address).unwrap_or(0);
        let mode = crate::victron::DessMode::from_raw(s.dess_mode);
        GxLive {
            firmware: read.system.firmware.map(|f| f.text()),
            firmware_line: read.system.firmware.map_or(Line::Unknown, |f| f.line()),
            slot_map: s.map,
            battery_soc: snap.value(reg::BATTERY_SOC),
            battery_power_w: snap.value(reg::BATTERY_POWER),
            ac_loads_w: reg::AC_CONSUMPTION.map(|r| snap.value(r)),
            ess_state: s.ess_state.0,
            ess_state_text: s.ess_state.name(),
            ess_min_soc: Some(s.min_soc_percent()),
            ess_soc_limit: Some(reg::ESS_SOC_LIMIT.physical(i64::from(s.soc_limit_raw))),
            hub4_mode: s.hub4_mode.0,
            hub4_mode_text: s.hub4_mode.name(),
            dess_mode: s.dess_mode,
            dess_mode_text: mode.name(),
            dess_active: word(reg::DESS_ACTIVE) == 1,
            dess_error: word(reg::DESS_ERROR),
            dess_error_text: crate::victron::dess_error_name(word(reg::DESS_ERROR)),
            dess_target_soc: dess.value(reg::DESS_TARGET_SOC),
            battery_capacity_kwh: Some(s.capacity_kwh()),
            slot: SlotRegisters::new(tz, gx_tz, &s.slot),
            slot_check: read.slot_check,
            warnings: read.warnings,
        }
    }
}

/// `status`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub command: CommandName,
    /// `status --check`: only whether the GX follows slot 0 decides the exit code.
    pub check: bool,
    #[serde(flatten)]
    pub head: Head,
    pub bms: BmsPart,
    pub gx: Part<GxLive>,
    pub drain: Option<DrainDoc>,
    pub ev_charger: Option<EvStatus>,
    pub errors: Vec<String>,
    pub exit_code: Exit,
}

pub fn status_text(out: Output, config: &Config, s: &StatusReport) -> String {
    if s.check && !out.verbose {
        return match (&s.gx.data, &s.gx.error) {
            (Some(live), _) => {
                let mut t = format!("slot 0 check: {}", live.slot_check.message);
                for w in &live.warnings {
                    t += &format!("\nwarning: {w}");
                }
                t
            }
            (None, e) => format!(
                "slot 0 check: the GX could not be read: {}",
                e.as_deref().unwrap_or_default()
            ),
        };
    }
    let tz = config.timezone;
    let now = s.head.now;
    let mut t = format!("Status at {} ({})\n", long_local(tz, now), tz.name());
    t += &format!("\nBMS {}\n", crate::bms::status_url(&config.bms));
    t += &bms_text(tz, now, &s.bms, "unreachable or unusable");
    t += &format!("\nGX {} (unit {})\n", config.gx_address(), config.gx.unit);
    match (&s.gx.data, &s.gx.error) {
        (Some(live), _) => t += &gx_text(live),
        (None, e) => {
            t += &format!(
                "  unreachable or refusing: {}\n",
                e.as_deref().unwrap_or_default()
            )
        }
    }
    if let Some(d) = &s.drain {
        t += &drain_text(tz, d);
    }
    if let Some(ev) = &s.ev_charger {
        t += &format!("\nEV charger ({})\n", ev.charger.at);
        t += &format!("  {}\n", charger_part_text(&ev.charger));
        t += &format!(
            "  ev-kick: {}\n",
            match &ev.ev_kick_problem {
                Some(problem) => format!("state file unusable ({problem})"),
                None => record_text(tz, ev.ev_kick.as_ref()),
            }
        );
    }
    t
}

/// A value read, or `?` when it was not.
fn or_unknown(v: Option<f64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

fn gx_text(g: &GxLive) -> String {
    let mut t = String::new();
    t += &format!(
        "  firmware: {}; {}\n",
        match &g.firmware {
            Some(v) => format!("Venus OS {v}"),
            None => "not published by this GX (Modbus TCP server before v1.0.82)".to_string(),
        },
        g.slot_map.describe()
    );
    t += &format!(
        "  battery: SoC {} %, power {} W ({})\n",
        or_unknown(g.battery_soc),
        or_unknown(g.battery_power_w),
        if g.battery_power_w.unwrap_or(0.0) < 0.0 {
            "discharging"
        } else {
            "charging or idle"
        }
    );
    t += &format!(
        "  AC loads: L1 {} W, L2 {} W, L3 {} W\n",
        or_unknown(g.ac_loads_w[0]),
        or_unknown(g.ac_loads_w[1]),
        or_unknown(g.ac_loads_w[2])
    );
    t += &format!(
        "  ESS: state {} ({}), mode {} ({}), minimum SoC {} %\n",
        g.ess_state,
        g.ess_state_text,
        g.hub4_mode,
        g.hub4_mode_text,
        or_unknown(g.ess_min_soc)
    );
    t += &format!(
        "  Dynamic ESS: mode {} ({}), {}, error {} ({}), target SoC {} %, battery capacity {} kWh\n",
        g.dess_mode,
        g.dess_mode_text,
        if g.dess_active {
            "active"
        } else {
            "not active"
        },
        g.dess_error,
        g.dess_error_text,
        or_unknown(g.dess_target_soc),
        or_unknown(g.battery_capacity_kwh)
    );
    let slot = &g.slot;
    t += &format!(
        "  slot 0: {} (restrictions {}{}, strategy {}, grid feed-in {})\n",
        slot.text,
        slot.restrictions,
        restriction_words(slot.restrictions),
        slot.strategy,
        if slot.registers[0] == 1 {
            "allowed"
        } else {
            "not allowed"
        }
    );
    t += &format!("  slot 0 check: {}\n", g.slot_check.message);
    for w in &g.warnings {
        t += &format!("  warning: {w}\n");
    }
    t
}

fn restriction_words(bits: u16) -> String {
    let mut parts = Vec::new();
    if bits & crate::victron::RESTRICT_BATTERY_TO_GRID != 0 {
        parts.push("battery→grid blocked");
    }
    if bits & crate::victron::RESTRICT_GRID_TO_BATTERY != 0 {
        parts.push("grid→battery blocked");
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}
