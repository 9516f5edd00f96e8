//! Modbus-TCP to a device (the GX, or an EV charging station's own server) through
//! tokio-modbus's blocking client, with `timeout_s` on every connection and every request.
//!
//! Reads are planned with [`registers::coalesce`], so one request covers each block of
//! registers the device really has. After a timeout or a broken exchange the connection is
//! dropped and a new one is made before the next request, so a late answer is never taken for
//! the answer to the next request. Errors name the device, its address, the register and what
//! to do.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::ser::SerializeStruct;
use thiserror::Error;
use tokio_modbus::Slave;
use tokio_modbus::client::sync::{self, Reader as _, Writer as _};
use tokio_modbus::slave::SlaveContext as _;

use crate::net::{self, Failure};
use crate::registers::{self, Kind, Register};

/// What went wrong talking Modbus to a device.
#[derive(Debug, Error)]
pub enum ModbusError {
    #[error("{device} {address} refused the connection: {hint}")]
    Refused {
        device: &'static str,
        address: String,
        hint: &'static str,
    },
    #[error(
        "{device} {address} is unreachable ({detail}): check the address in the config and that this machine is on the device's network"
    )]
    Unreachable {
        device: &'static str,
        address: String,
        detail: String,
    },
    #[error("{device} {address}: {detail}: check the host name in the config")]
    NameNotFound {
        device: &'static str,
        address: String,
        detail: String,
    },
    #[error(
        "{device} {address} could not be reached ({detail}): check the address in the config and the network"
    )]
    Network {
        device: &'static str,
        address: String,
        detail: String,
    },
    #[error(
        "{device} {address} did not answer {what} within {timeout_s} s: check the device is up and its Modbus TCP server is enabled, or raise timeout_s"
    )]
    Timeout {
        device: &'static str,
        address: String,
        what: String,
        timeout_s: u64,
    },
    #[error(
        "{device} {address} (unit {unit}) answered {what} with exception {code:#04x} ({meaning}): {hint}"
    )]
    Exception {
        device: &'static str,
        address: String,
        unit: u8,
        what: String,
        register: u16,
        code: u8,
        meaning: &'static str,
        hint: String,
    },
    #[error(
        "{device} {address} broke the Modbus exchange {what} ({detail}): check nothing else is using that address, then retry"
    )]
    Protocol {
        device: &'static str,
        address: String,
        what: String,
        detail: String,
    },
    #[error("internal: register {0} is outside every block the device serves")]
    NotInMap(u16),
}

impl ModbusError {
    /// The register and exception code, if the device answered with an exception.
    pub fn exception(&self) -> Option<(u16, u8)> {
        match self {
            ModbusError::Exception { register, code, .. } => Some((*register, *code)),
            _ => None,
        }
    }
}

/// One Modbus write request: FC06 for one value, FC16 for several (one request, so the device
/// never sees half of a multi-register value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub address: u16,
    pub values: Vec<u16>,
    /// One line for a person: what changes, from what to what.
    pub summary: String,
}

impl Write {
    pub fn function_code(&self) -> u8 {
        if self.values.len() == 1 { 6 } else { 16 }
    }
}

/// `{function, address, values, summary}`, the README's shape of a write.
impl serde::Serialize for Write {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Write", 4)?;
        s.serialize_field("function", &self.function_code())?;
        s.serialize_field("address", &self.address)?;
        s.serialize_field("values", &self.values)?;
        s.serialize_field("summary", &self.summary)?;
        s.end()
    }
}

/// Register values read from a device, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    words: BTreeMap<u16, u16>,
}

impl Snapshot {
    pub fn insert(&mut self, first: u16, words: &[u16]) {
        for (i, w) in words.iter().enumerate() {
            self.words.insert(first.wrapping_add(i as u16), *w);
        }
    }

    pub fn word(&self, address: u16) -> Option<u16> {
        self.words.get(&address).copied()
    }

    /// The raw (unscaled) value of a register, sign-extended by its kind.
    pub fn raw(&self, r: Register) -> Option<i64> {
        let hi = self.word(r.address)?;
        Some(match r.kind {
            Kind::U16 => i64::from(hi),
            Kind::I16 => i64::from(hi as i16),
            Kind::I32 => {
                let lo = self.word(r.address + 1)?;
                registers::i32_from_words(hi, lo)
            }
        })
    }

    /// The physical value: raw divided by the register's scale.
    pub fn value(&self, r: Register) -> Option<f64> {
        self.raw(r).map(|v| v as f64 / f64::from(r.scale))
    }

    /// The words from `first`, `count` long, if all were read.
    pub fn words(&self, first: u16, count: u16) -> Option<Vec<u16>> {
        (first..first + count).map(|a| self.word(a)).collect()
    }
}

/// Where a device is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `GX` or `EVCS`, for messages.
    pub label: &'static str,
    pub host: String,
    pub port: u16,
    pub unit: u8,
    pub timeout_s: u64,
    /// What to do when the device refuses the connection.
    pub refused_hint: &'static str,
}

/// One device: a tokio-modbus context, made again after a timeout or a broken exchange.
pub struct Device {
    pub label: &'static str,
    /// `host:port`, for messages.
    pub address: String,
    target: SocketAddr,
    unit: u8,
    timeout_s: u64,
    refused_hint: &'static str,
    context: Option<sync::Context>,
    /// Set after a timeout or a broken exchange on this device.
    failed: bool,
    /// Requests sent (reads and writes).
    pub requests: u32,
}

fn exception_meaning(code: u8) -> &'static str {
    match code {
        0x01 => "illegal function",
        0x02 => "illegal data address",
        0x03 => "illegal data value",
        0x04 => "server device failure",
        0x06 => "server busy",
        0x0A => "gateway path unavailable",
        0x0B => "gateway target failed to respond",
        _ => "unknown exception",
    }
}

/// How one request went wrong, before it is put into words.
enum CallError {
    Exception(u8),
    Timeout,
    Broken(String),
}

impl Device {
    /// Resolves the endpoint and connects, within its timeout.
    pub fn connect(endpoint: &Endpoint) -> Result<Device, ModbusError> {
        let address = crate::config::join_host_port(&endpoint.host, endpoint.port);
        let deadline = Instant::now() + Duration::from_secs(endpoint.timeout_s);
        let mut device = Device {
            label: endpoint.label,
            address,
            target: SocketAddr::from(([0, 0, 0, 0], 0)),
            unit: endpoint.unit,
            timeout_s: endpoint.timeout_s,
            refused_hint: endpoint.refused_hint,
            context: None,
            failed: false,
            requests: 0,
        };
        device.target = net::resolve(&endpoint.host, endpoint.port, deadline)
            .map_err(|f| device.network_error(f, "a name lookup"))?;
        device.reconnect()?;
        Ok(device)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_s)
    }

    fn reconnect(&mut self) -> Result<(), ModbusError> {
        let context = sync::tcp::connect_slave_with_timeout(
            self.target,
            Slave(self.unit),
            Some(self.timeout()),
        )
        .map_err(|e| self.network_error(Failure::from_io(&e), "the connection"))?;
        self.context = Some(context);
        Ok(())
    }

    fn network_error(&self, failure: Failure, what: &str) -> ModbusError {
        let (device, address) = (self.label, self.address.clone());
        match failure {
            Failure::Refused => ModbusError::Refused {
                device,
                address,
                hint: self.refused_hint,
            },
            Failure::TimedOut => ModbusError::Timeout {
                device,
                address,
                what: what.to_string(),
                timeout_s: self.timeout_s,
            },
            Failure::Unreachable(detail) => ModbusError::Unreachable {
                device,
                address,
                detail,
            },
            Failure::NameNotFound(detail) => ModbusError::NameNotFound {
                device,
                address,
                detail,
            },
            Failure::Other(detail) => ModbusError::Network {
                device,
                address,
                detail,
            },
        }
    }

    /// Whether a timeout or a broken exchange has happened on this device: another unit behind
    /// the same address is then not worth a further wait.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Talks to another unit id behind the same address.
    pub fn set_unit(&mut self, unit: u8) {
        self.unit = unit;
        if let Some(c) = &mut self.context {
            c.set_slave(Slave(unit));
        }
    }

    /// Runs one request on a live context, dropping the context when the exchange broke.
    fn call<T>(
        &mut self,
        what: &str,
        register: u16,
        request: impl FnOnce(&mut sync::Context) -> tokio_modbus::Result<T>,
    ) -> Result<T, ModbusError> {
        if self.context.is_none() {
            self.reconnect()?;
        }
        let Some(context) = self.context.as_mut() else {
            return Err(self.fail(what, register, CallError::Broken("not connected".into())));
        };
        self.requests += 1;
        log::debug!("{} {} unit {}: {what}", self.label, self.address, self.unit);
        let error = match request(context) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(code)) => CallError::Exception(u8::from(code)),
            Err(tokio_modbus::Error::Transport(e)) if Failure::from_io(&e) == Failure::TimedOut => {
                CallError::Timeout
            }
            Err(tokio_modbus::Error::Transport(e)) => CallError::Broken(e.to_string()),
            Err(tokio_modbus::Error::Protocol(e)) => CallError::Broken(e.to_string()),
        };
        if !matches!(error, CallError::Exception(_)) {
            // A late answer may still arrive on this connection: never read it.
            self.context = None;
            self.failed = true;
        }
        Err(self.fail(what, register, error))
    }

    fn fail(&self, what: &str, register: u16, error: CallError) -> ModbusError {
        let (device, address) = (self.label, self.address.clone());
        match error {
            CallError::Timeout => ModbusError::Timeout {
                device,
                address,
                what: what.to_string(),
                timeout_s: self.timeout_s,
            },
            CallError::Exception(code) => ModbusError::Exception {
                device,
                address,
                unit: self.unit,
                what: what.to_string(),
                register,
                code,
                meaning: exception_meaning(code),
                hint: match code {
                    0x02 => format!(
                        "register {register} is not served on unit {}: check the unit id and the firmware version",
                        self.unit
                    ),
                    0x0A | 0x0B => format!(
                        "no service answers on unit id {}: check the unit id in the config",
                        self.unit
                    ),
                    _ => "check the device's settings".to_string(),
                },
            },
            CallError::Broken(detail) => ModbusError::Protocol {
                device,
                address,
                what: what.to_string(),
                detail,
            },
        }
    }

    /// Reads `count` holding registers from `first` in one request (function 03).
    pub fn read_range(&mut self, first: u16, count: u16) -> Result<Vec<u16>, ModbusError> {
        let what = format!("a read of {first}-{}", first + count.saturating_sub(1));
        let words = self.call(&what, first, |c| c.read_holding_registers(first, count))?;
        if words.len() != usize::from(count) {
            self.context = None;
            self.failed = true;
            let detail = format!("asked for {count} registers, got {}", words.len());
            return Err(self.fail(&what, first, CallError::Broken(detail)));
        }
        Ok(words)
    }

    /// Reads every register in `registers`, one request per block they fall in.
    pub fn read(&mut self, registers: &[Register]) -> Result<Snapshot, ModbusError> {
        let ranges = registers::coalesce(registers).map_err(ModbusError::NotInMap)?;
        let mut snapshot = Snapshot::default();
        for range in ranges {
            let words = self.read_range(range.first, range.count)?;
            snapshot.insert(range.first, &words);
        }
        Ok(snapshot)
    }

    /// Sends one write: function 06 for one value, 16 for several.
    pub fn write(&mut self, write: &Write) -> Result<(), ModbusError> {
        let (first, values) = (write.address, write.values.as_slice());
        let what = format!("a write to {first}");
        match values {
            [single] => self.call(&what, first, |c| c.write_single_register(first, *single)),
            _ => self.call(&what, first, |c| c.write_multiple_registers(first, values)),
        }
    }

    /// Sends `writes` in order, then reads every written register back (coalesced, so a slot
    /// and its neighbours come back in one request) and returns the first register whose
    /// value is not the last one written to it: `(address, written, read)`.
    pub fn write_and_read_back(
        &mut self,
        writes: &[Write],
    ) -> Result<Option<(u16, u16, u16)>, ModbusError> {
        let mut expected: BTreeMap<u16, u16> = BTreeMap::new();
        for w in writes {
            self.write(w)?;
            for (i, v) in w.values.iter().enumerate() {
                expected.insert(w.address + i as u16, *v);
            }
        }
        let ranges = registers::coalesce_spans(expected.keys().map(|a| *a..*a + 1))
            .map_err(ModbusError::NotInMap)?;
        let mut back = Snapshot::default();
        for range in ranges {
            let words = self.read_range(range.first, range.count)?;
            back.insert(range.first, &words);
        }
        Ok(expected.into_iter().find_map(|(address, written)| {
            let read = back.word(address).unwrap_or(u16::MAX);
            (read != written).then_some((address, written, read))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::{BATTERY_POWER, SLOT_START};

    #[test]
    fn snapshot_decodes_kinds() {
        let mut s = Snapshot::default();
        s.insert(842, &[0xFF38]);
        s.insert(5428, &[0x6A5F, 0x1234]);
        assert_eq!(s.raw(BATTERY_POWER), Some(-200));
        assert_eq!(s.raw(SLOT_START), Some(0x6A5F_1234));
        assert_eq!(s.words(5428, 3), None);
    }

    #[test]
    fn a_write_serializes_with_its_function_code() {
        let w = Write {
            address: 5424,
            values: vec![0, 1],
            summary: "s".into(),
        };
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"function":16,"address":5424,"values":[0,1],"summary":"s"}"#
        );
    }
}
