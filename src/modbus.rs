//! A small blocking Modbus-TCP client (function codes 03, 06 and 16), with a timeout on every
//! operation.
//!
//! The tool is a one-shot CLI that sends a handful of requests, so a plain blocking socket with
//! a deadline per request is all it needs: an async runtime would be most of the binary's size
//! on the GX. Reads are planned with [`registers::coalesce`], so one request covers each
//! block of registers the device really has. Errors name the device, its address, the
//! register and what to do.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::net::{self, ResolveError};

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
    stream: TcpStream,
    transaction: u16,
    /// Set after a timeout or a broken exchange: a late answer could still arrive, so the
    /// connection is not used again.
    broken: bool,
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

enum CallError {
    Timeout,
    Exception(u8),
    Transport(String),
}

fn io_call_error(e: std::io::Error) -> CallError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => CallError::Timeout,
        std::io::ErrorKind::UnexpectedEof => {
            CallError::Transport("the connection closed mid-answer".to_string())
        }
        _ => CallError::Transport(e.to_string()),
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
        let deadline = Instant::now() + timeout;
        let timed_out = |what: &str| ModbusError::Timeout {
            device: label,
            address: address.clone(),
            what: what.to_string(),
            timeout_s,
        };
        let target = net::resolve(host, port, deadline).map_err(|e| match e {
            ResolveError::Timeout => timed_out("a name lookup"),
            ResolveError::NotFound(detail) => ModbusError::Unreachable {
                device: label,
                address: address.clone(),
                detail,
            },
        })?;
        let wait = net::remaining(deadline).ok_or_else(|| timed_out("the connection"))?;
        let stream = TcpStream::connect_timeout(&target, wait).map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ModbusError::Refused {
                device: label,
                address: address.clone(),
                hint: refused_hint,
            },
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                timed_out("the connection")
            }
            _ => ModbusError::Unreachable {
                device: label,
                address: address.clone(),
                detail: e.to_string(),
            },
        })?;
        let _ = stream.set_nodelay(true);
        Ok(Device {
            label,
            address,
            unit,
            timeout,
            stream,
            transaction: 0,
            broken: false,
            requests: 0,
        })
    }

    /// Whether an earlier timeout or broken exchange has retired this connection; after an
    /// exception it stays usable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Talks to another unit id on the same connection.
    pub fn set_unit(&mut self, unit: u8) {
        self.unit = unit;
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

    /// Sends one request PDU and returns the answer's PDU (after the function code), all
    /// within the per-request timeout.
    fn call(&mut self, pdu: &[u8]) -> Result<Vec<u8>, CallError> {
        if self.broken {
            return Err(CallError::Transport(
                "an earlier request on this connection failed".to_string(),
            ));
        }
        self.requests += 1;
        log::debug!(
            "{} {} unit {}: request {:02x?}",
            self.label,
            self.address,
            self.unit,
            pdu
        );
        let result = self.exchange(pdu);
        if matches!(result, Err(CallError::Timeout | CallError::Transport(_))) {
            self.broken = true;
        }
        result
    }

    fn exchange(&mut self, pdu: &[u8]) -> Result<Vec<u8>, CallError> {
        let deadline = Instant::now() + self.timeout;
        let left = || net::remaining(deadline).ok_or(CallError::Timeout);
        self.transaction = self.transaction.wrapping_add(1);
        let tid = self.transaction;
        let mut frame = Vec::with_capacity(7 + pdu.len());
        frame.extend_from_slice(&tid.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
        frame.push(self.unit);
        frame.extend_from_slice(pdu);
        self.stream
            .set_write_timeout(Some(left()?))
            .map_err(io_call_error)?;
        self.stream.write_all(&frame).map_err(io_call_error)?;

        let mut header = [0u8; 7];
        self.read_exact(&mut header, deadline)?;
        let answer_tid = u16::from_be_bytes([header[0], header[1]]);
        let protocol = u16::from_be_bytes([header[2], header[3]]);
        let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
        if answer_tid != tid {
            return Err(CallError::Transport(format!(
                "the answer's transaction id is {answer_tid}, not {tid}"
            )));
        }
        if protocol != 0 || !(2..=254).contains(&length) {
            return Err(CallError::Transport(format!(
                "not a Modbus-TCP header (protocol {protocol}, length {length})"
            )));
        }
        let mut body = vec![0u8; length - 1];
        self.read_exact(&mut body, deadline)?;
        let function = pdu.first().copied().unwrap_or(0);
        match body.first() {
            Some(f) if *f == function => Ok(body[1..].to_vec()),
            Some(f) if *f == function | 0x80 => {
                Err(CallError::Exception(body.get(1).copied().unwrap_or(0)))
            }
            other => Err(CallError::Transport(format!(
                "answered function {other:?} to function {function}"
            ))),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<(), CallError> {
        let mut filled = 0;
        while filled < buf.len() {
            let left = net::remaining(deadline).ok_or(CallError::Timeout)?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(io_call_error)?;
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(CallError::Transport(
                        "the connection closed mid-answer".to_string(),
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_call_error(e)),
            }
        }
        Ok(())
    }

    /// Reads `count` holding registers from `first` in one request (function 03).
    pub fn read_range(&mut self, first: u16, count: u16) -> Result<Vec<u16>, ModbusError> {
        let what = format!("a read of {first}-{}", first + count.saturating_sub(1));
        let mut pdu = vec![0x03];
        pdu.extend_from_slice(&first.to_be_bytes());
        pdu.extend_from_slice(&count.to_be_bytes());
        let answer = self.call(&pdu).and_then(|data| {
            let bytes = usize::from(data.first().copied().unwrap_or(0));
            let words: Vec<u16> = data
                .get(1..1 + bytes)
                .unwrap_or_default()
                .chunks_exact(2)
                .map(|w| u16::from_be_bytes([w[0], w[1]]))
                .collect();
            if words.len() == usize::from(count) && bytes == 2 * usize::from(count) {
                Ok(words)
            } else {
                Err(CallError::Transport(format!(
                    "asked for {count} registers, got {}",
                    words.len()
                )))
            }
        });
        answer.map_err(|e| self.fail(&what, first, e))
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

    /// Writes `values` from `first`: function 06 for one register, 16 for several (one request).
    pub fn write(&mut self, first: u16, values: &[u16]) -> Result<(), ModbusError> {
        let what = format!("a write to {first}");
        let mut pdu;
        if let [single] = values {
            pdu = vec![0x06];
            pdu.extend_from_slice(&first.to_be_bytes());
            pdu.extend_from_slice(&single.to_be_bytes());
        } else {
            pdu = vec![0x10];
            pdu.extend_from_slice(&first.to_be_bytes());
            pdu.extend_from_slice(&(values.len() as u16).to_be_bytes());
            pdu.push((values.len() * 2) as u8);
            for v in values {
                pdu.extend_from_slice(&v.to_be_bytes());
            }
        }
        let expected_echo = pdu[1..5].to_vec();
        let answer = self.call(&pdu).and_then(|data| {
            if data.get(..4) == Some(&expected_echo[..]) {
                Ok(())
            } else {
                Err(CallError::Transport(format!(
                    "the write's answer {data:02x?} does not echo the request"
                )))
            }
        });
        answer.map_err(|e| self.fail(&what, first, e))
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
}
