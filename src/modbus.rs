//! A small blocking Modbus-TCP client over tokio-modbus, with a timeout on every operation.
//!
//! The tool is a one-shot CLI, so a current-thread runtime is built per device and every call
//! blocks on it. Reads are planned with [`registers::coalesce`], so one request covers each
//! block of registers the device really has. Errors name the device, its address, the
//! register and what to do.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::runtime::Runtime;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::{ExceptionCode, Slave};

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
        "{device} {address} could not be reached ({detail}): check the host name and the network"
    )]
    Unreachable {
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
    /// The exception code, if the device answered with one.
    pub fn exception(&self) -> Option<(u16, u8)> {
        match self {
            ModbusError::Exception { register, code, .. } => Some((*register, *code)),
            _ => None,
        }
    }
}

/// Register values read from a device, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    words: std::collections::BTreeMap<u16, u16>,
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

/// One device connection: a label for messages, its address and a unit id.
pub struct Device {
    pub label: &'static str,
    pub address: String,
    unit: u8,
    timeout: Duration,
    runtime: Runtime,
    context: Context,
    /// Requests sent on this connection (reads and writes).
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

impl Device {
    /// Connects to `host:port`, talking to `unit`.
    pub fn connect(
        label: &'static str,
        host: &str,
        port: u16,
        unit: u8,
        timeout_s: u64,
        refused_hint: &'static str,
    ) -> Result<Device, ModbusError> {
        let address = crate::config::join_host_port(host, port);
        let timeout = Duration::from_secs(timeout_s);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| ModbusError::Unreachable {
                device: label,
                address: address.clone(),
                detail: format!("cannot start the I/O runtime: {e}"),
            })?;
        let timed_out = |what: &str| ModbusError::Timeout {
            device: label,
            address: address.clone(),
            what: what.to_string(),
            timeout_s,
        };
        let target = address.clone();
        let addrs: Vec<SocketAddr> = runtime
            .block_on(async {
                tokio::time::timeout(timeout, tokio::net::lookup_host(target)).await
            })
            .map_err(|_| timed_out("a name lookup"))?
            .map_err(|e| ModbusError::Unreachable {
                device: label,
                address: address.clone(),
                detail: e.to_string(),
            })?
            .collect();
        let first = addrs
            .first()
            .copied()
            .ok_or_else(|| ModbusError::Unreachable {
                device: label,
                address: address.clone(),
                detail: "the name has no address".to_string(),
            })?;
        let context = runtime
            .block_on(async {
                tokio::time::timeout(
                    timeout,
                    tokio_modbus::client::tcp::connect_slave(first, Slave(unit)),
                )
                .await
            })
            .map_err(|_| timed_out("the connection"))?
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    ModbusError::Refused {
                        device: label,
                        address: address.clone(),
                        hint: refused_hint,
                    }
                } else {
                    ModbusError::Unreachable {
                        device: label,
                        address: address.clone(),
                        detail: e.to_string(),
                    }
                }
            })?;
        Ok(Device {
            label,
            address,
            unit,
            timeout,
            runtime,
            context,
            requests: 0,
        })
    }

    pub fn unit(&self) -> u8 {
        self.unit
    }

    /// Talks to another unit id on the same connection.
    pub fn set_unit(&mut self, unit: u8) {
        use tokio_modbus::prelude::SlaveContext;
        self.unit = unit;
        self.context.set_slave(Slave(unit));
    }

    fn fail(&self, what: &str, register: u16, error: CallError) -> ModbusError {
        match error {
            CallError::Timeout => ModbusError::Timeout {
                device: self.label,
                address: self.address.clone(),
                what: what.to_string(),
                timeout_s: self.timeout.as_secs(),
            },
            CallError::Exception(code) => {
                let code = u8::from(code);
                let hint = match code {
                    0x02 => format!(
                        "register {register} is not served on unit {}: check the unit id and the firmware version",
                        self.unit
                    ),
                    0x0A | 0x0B => format!(
                        "no service answers on unit id {}: check the unit id in the config",
                        self.unit
                    ),
                    _ => "check the device's settings".to_string(),
                };
                ModbusError::Exception {
                    device: self.label,
                    address: self.address.clone(),
                    unit: self.unit,
                    what: what.to_string(),
                    register,
                    code,
                    meaning: exception_meaning(code),
                    hint,
                }
            }
            CallError::Transport(detail) => ModbusError::Protocol {
                device: self.label,
                address: self.address.clone(),
                what: what.to_string(),
                detail,
            },
        }
    }

    /// Reads `count` holding registers from `first` in one request.
    pub fn read_range(&mut self, first: u16, count: u16) -> Result<Vec<u16>, ModbusError> {
        self.requests += 1;
        let timeout = self.timeout;
        let ctx = &mut self.context;
        let result = self.runtime.block_on(async {
            match tokio::time::timeout(timeout, ctx.read_holding_registers(first, count)).await {
                Err(_) => Err(CallError::Timeout),
                Ok(Err(e)) => Err(CallError::Transport(e.to_string())),
                Ok(Ok(Err(code))) => Err(CallError::Exception(code)),
                Ok(Ok(Ok(words))) if words.len() == usize::from(count) => Ok(words),
                Ok(Ok(Ok(words))) => Err(CallError::Transport(format!(
                    "asked for {count} registers, got {}",
                    words.len()
                ))),
            }
        });
        let what = format!("a read of {first}-{}", first + count.saturating_sub(1));
        result.map_err(|e| self.fail(&what, first, e))
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

    /// Writes `values` from `first`: FC06 for one register, FC16 for several (one request).
    pub fn write(&mut self, first: u16, values: &[u16]) -> Result<(), ModbusError> {
        self.requests += 1;
        let timeout = self.timeout;
        let ctx = &mut self.context;
        let result = self.runtime.block_on(async {
            let call = async {
                if let [single] = values {
                    ctx.write_single_register(first, *single).await
                } else {
                    ctx.write_multiple_registers(first, values).await
                }
            };
            match tokio::time::timeout(timeout, call).await {
                Err(_) => Err(CallError::Timeout),
                Ok(Err(e)) => Err(CallError::Transport(e.to_string())),
                Ok(Ok(Err(code))) => Err(CallError::Exception(code)),
                Ok(Ok(Ok(()))) => Ok(()),
            }
        });
        let what = format!("a write to {first}");
        result.map_err(|e| self.fail(&what, first, e))
    }
}

enum CallError {
    Timeout,
    Exception(ExceptionCode),
    Transport(String),
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
}
