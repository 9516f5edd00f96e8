//! The EV charger and the site's loads over Modbus, for `ev-kick`.
//!
//! With `via = "gx"` the charger is the GX's evcharger service: the same connection as the
//! site readings, another unit id. With `via = "evcs"` it is the charging station's own
//! Modbus-TCP server, a second connection. Either way the same six registers are read in one
//! request, from [`ChargerMap`].

use crate::config::{Config, EvConfig, EvVia, GxConfig, join_host_port};
use crate::ev::codec::Charger;
use crate::ev::rules::Site;
use crate::gx::{self, GxError};
use crate::modbus::{Device, Endpoint, ModbusError};
use crate::registers::Snapshot;
use crate::registers::{self as reg, ChargerMap, Register};

/// Shown when the charging station refuses a connection.
pub const EVCS_REFUSED_HINT: &str = "enable the Modbus TCP server on the EV charging station (its web interface), or use ev.via = \"gx\"";

/// The register map for a way of reaching the charger.
pub fn map_for(via: EvVia) -> ChargerMap {
    match via {
        EvVia::Gx => reg::GX_CHARGER,
        EvVia::Evcs => reg::EVCS_CHARGER,
    }
}

/// The registers that make up [`Site`].
pub const SITE: [Register; 4] = [
    reg::AC_CONSUMPTION_L1,
    reg::AC_CONSUMPTION_L2,
    reg::AC_CONSUMPTION_L3,
    reg::BATTERY_POWER,
];

/// Reads the site's loads and battery power (one request where the GX's server publishes its
/// firmware version, two on older ones).
pub fn read_site(gx: &mut Device) -> Result<Site, GxError> {
    let s = gx::read_system(gx, &SITE)?.snapshot;
    let word = |r: Register| {
        s.word(r.address)
            .ok_or(GxError::Modbus(ModbusError::NotInMap(r.address)))
    };
    Ok(Site {
        phases_w: [
            word(reg::AC_CONSUMPTION_L1)?,
            word(reg::AC_CONSUMPTION_L2)?,
            word(reg::AC_CONSUMPTION_L3)?,
        ],
        battery_power_w: word(reg::BATTERY_POWER)? as i16,
    })
}

/// Reads the charger's registers (one request).
pub fn read_charger(device: &mut Device, map: &ChargerMap) -> Result<Charger, GxError> {
    let s: Snapshot = device.read(&map.all())?;
    let word = |r: Register| {
        s.word(r.address)
            .ok_or(GxError::Modbus(ModbusError::NotInMap(r.address)))
    };
    Ok(Charger {
        mode: word(map.mode)?,
        start_stop: word(map.start_stop)?,
        status: word(map.status)?,
        set_current_a: word(map.set_current)?,
        max_current_a: word(map.max_current)?,
        power_w: word(map.power)?,
    })
}

/// Reads the charger for a command that keeps the GX connection for itself (`apply`): through
/// the GX on the evcharger's unit and back to the GX's own unit, or on a connection of its own.
pub fn read_beside(config: &Config, ev: &EvConfig, gx: &mut Device) -> Result<Charger, GxError> {
    let map = map_for(ev.via);
    match ev.via {
        EvVia::Gx => {
            gx.set_unit(ev.unit);
            let reading = read_charger(gx, &map);
            gx.set_unit(config.gx.unit);
            reading
        }
        EvVia::Evcs => {
            let mut device = connect_evcs(ev, &config.gx)?;
            read_charger(&mut device, &map)
        }
    }
}

/// A connection to the charging station's own server (`via = "evcs"`).
pub fn connect_evcs(ev: &EvConfig, gx: &GxConfig) -> Result<Device, ModbusError> {
    Device::connect(&Endpoint {
        label: "EVCS",
        host: ev.host.clone().unwrap_or_default(),
        port: ev.port,
        unit: ev.unit,
        timeout_s: gx.timeout_s,
        refused_hint: EVCS_REFUSED_HINT,
    })
}

/// The charger reached and read.
pub struct Reached {
    /// The connection, for writing; `None` when the charger could not be reached.
    pub device: Option<Device>,
    /// Where: `GX 127.0.0.1:502 unit 40` or `EVCS 192.168.1.61:502 unit 1`.
    pub at: String,
    /// `None` when not read because the GX connection it shares had failed.
    pub reading: Option<Result<Charger, GxError>>,
}

/// Reads the charger: with `via = "gx"` on `gx` (the GX connection; not used when it failed
/// or is broken), with `via = "evcs"` on a connection of its own.
pub fn reach(config: &Config, ev: &EvConfig, gx: Option<Device>) -> Reached {
    let map = map_for(ev.via);
    match ev.via {
        EvVia::Gx => {
            let at = format!(
                "GX {} unit {}",
                join_host_port(&config.gx.host, config.gx.port),
                ev.unit
            );
            match gx.filter(|d| !d.has_failed()) {
                Some(mut d) => {
                    d.set_unit(ev.unit);
                    let reading = read_charger(&mut d, &map);
                    Reached {
                        device: Some(d),
                        at,
                        reading: Some(reading),
                    }
                }
                None => Reached {
                    device: None,
                    at,
                    reading: None,
                },
            }
        }
        EvVia::Evcs => {
            let at = format!(
                "EVCS {} unit {}",
                join_host_port(ev.host.as_deref().unwrap_or_default(), ev.port),
                ev.unit
            );
            match connect_evcs(ev, &config.gx) {
                Ok(mut d) => {
                    let reading = read_charger(&mut d, &map);
                    Reached {
                        device: Some(d),
                        at,
                        reading: Some(reading),
                    }
                }
                Err(e) => Reached {
                    device: None,
                    at,
                    reading: Some(Err(GxError::from(e))),
                },
            }
        }
    }
}
