//! Modbus-TCP to a device (the GX, or an EV charging station's own server) through
//! tokio-modbus's blocking client, with `timeout_s` on every connection and every request.
//!
//! Reads are planned with [`registers::coalesce`], so one request covers each block of
//! registers the device really has. After a timeout or a broken exchange the connection is
//! dropped and a new one is made before the next request, so a late answer is never taken for
//! the answer to the next request. Errors name the device, its address, the register and what
//! to do.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio_modbus::Slave;
use tokio_modbus::client::sync::{self, Reader as _, Writer as _};
use tokio_modbus::slave::SlaveContext as _;

use crate::net::{self, Failure};
use crate::registers::{self, Mismatch, Register, Snapshot, Write};

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
        "{device} {address} broke the Modbus exchange during {what} ({detail}): check nothing else is using that address, then retry"
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

/// A protocol failure in words, without the library's debug dump of the answer.
fn protocol_words(e: &tokio_modbus::ProtocolError) -> String {
    match e {
        tokio_modbus::ProtocolError::HeaderMismatch { .. } => {
            "it answered another request than the one asked (the transaction id or unit did not match)"
                .to_string()
        }
        tokio_modbus::ProtocolError::FunctionCodeMismatch { .. } => {
            "it answered with another function than the one asked".to_string()
        }
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

    pub fn timeout(&self) -> Duration {
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
            Err(tokio_modbus::Error::Protocol(e)) => CallError::Broken(protocol_words(&e)),
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

    /// Sends `writes` in order, then reads them back until every register holds the last value
    /// written to it, or `within` has passed: the GX acknowledges a write before its settings
    /// store has applied it, so a read straight after often sees the old value. Returns the
    /// registers that still differ at the deadline (empty when all stuck).
    pub fn write_and_read_back(
        &mut self,
        writes: &[Write],
        within: Duration,
    ) -> Result<Vec<Mismatch>, ModbusError> {
        for w in writes {
            self.write(w)?;
        }
        let deadline = Instant::now() + within;
        let mut pending = read_back_groups(writes);
        let mut pause = FIRST_READ_BACK;
        loop {
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            let mut mismatches = Vec::new();
            let mut still = Vec::new();
            for group in pending {
                let words = self.read_range(group.first, group.count)?;
                let found = group.mismatches(&words);
                if !found.is_empty() {
                    mismatches.extend(found);
                    still.push(group);
                }
            }
            if still.is_empty() || Instant::now() >= deadline {
                return Ok(mismatches);
            }
            pending = still;
            pause = (pause * 2).min(LAST_READ_BACK_PAUSE);
        }
    }
}

/// The first read-back waits this long: on the GX's own loopback most writes have reached
/// its settings store by then.
const FIRST_READ_BACK: Duration = Duration::from_millis(10);
/// The longest pause between two read-backs (they double from [`FIRST_READ_BACK`]).
const LAST_READ_BACK_PAUSE: Duration = Duration::from_millis(250);

/// One read that checks one or more writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadBackGroup {
    first: u16,
    count: u16,
    /// (the write's first address, its values) for each write this read checks.
    checks: Vec<(u16, Vec<u16>)>,
}

impl ReadBackGroup {
    fn mismatches(&self, words: &[u16]) -> Vec<Mismatch> {
        let mut out = Vec::new();
        for (first, values) in &self.checks {
            let mut i = 0;
            while i < values.len() {
                let address = first + i as u16;
                let register = registers::in_request(*first, address).filter(|r| {
                    r.address == address && r.span().end <= first + values.len() as u16
                });
                let width = register.map_or(1, |r| usize::from(r.kind.words()));
                let at = usize::from(address - self.first);
                let decode = |w: &[u16]| match register {
                    Some(r) => registers::raw_at(w, address, r),
                    None => w.first().map(|v| i64::from(*v)),
                };
                let written = decode(&values[i..]).unwrap_or_default();
                let read = words.get(at..at + width).and_then(decode);
                if read != Some(written) {
                    out.push(Mismatch {
                        register,
                        address,
                        written,
                        read,
                    });
                }
                i += width;
            }
        }
        out
    }
}

/// The reads that check `writes`: a later write to the same addresses replaces an earlier
/// one (its value is the one that must stick); writes inside one readable block share a
/// read, unless they overlap another write, because the GX maps a register by the request's
/// first address (on the old map a request starting at 5429 is Strategy, one starting at
/// 5424 reaches Start's low word there).
fn read_back_groups(writes: &[Write]) -> Vec<ReadBackGroup> {
    let mut checks: Vec<(u16, Vec<u16>)> = Vec::new();
    for w in writes {
        match checks
            .iter_mut()
            .find(|(a, v)| *a == w.address && v.len() == w.values.len())
        {
            Some(check) => check.1 = w.values.clone(),
            None => checks.push((w.address, w.values.clone())),
        }
    }
    let span = |(a, v): &(u16, Vec<u16>)| *a..*a + v.len() as u16;
    let overlaps = |c: &(u16, Vec<u16>)| {
        checks
            .iter()
            .filter(|o| span(o) != span(c))
            .any(|o| span(o).start < span(c).end && span(c).start < span(o).end)
    };
    let mut groups: Vec<ReadBackGroup> = Vec::new();
    for check in &checks {
        let s = span(check);
        let block = registers::BLOCKS
            .iter()
            .find(|b| b.first <= s.start && s.end - 1 <= b.last)
            .filter(|_| !overlaps(check));
        let shared = block.and_then(|b| {
            groups.iter_mut().find(|g| {
                g.checks.iter().all(|c| !overlaps(c))
                    && b.first <= g.first
                    && g.first + g.count - 1 <= b.last
            })
        });
        match shared {
            Some(g) => {
                let end = (g.first + g.count).max(s.end);
                g.first = g.first.min(s.start);
                g.count = end - g.first;
                g.checks.push(check.clone());
            }
            None => groups.push(ReadBackGroup {
                first: s.start,
                count: s.end - s.start,
                checks: vec![check.clone()],
            }),
        }
    }
    groups
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

    fn write(address: u16, values: &[u16]) -> Write {
        Write {
            address,
            values: values.to_vec(),
            summary: String::new(),
        }
    }

    #[test]
    fn read_backs_share_a_read_per_block_unless_writes_overlap() {
        // Capacity and mode share one read; the new map's whole slot (through 5430, outside
        // every block) and 2901 are read on their own.
        let groups = read_back_groups(&[
            write(5420, &[100]),
            write(5424, &[0; 7]),
            write(2901, &[0]),
            write(5423, &[4]),
        ]);
        let reads: Vec<(u16, u16)> = groups.iter().map(|g| (g.first, g.count)).collect();
        assert_eq!(reads, vec![(5420, 4), (5424, 7), (2901, 1)]);
        // The old map: the slot (5424-5429) and Strategy (a read starting at 5429) overlap,
        // so each is read by a request starting where it was written.
        let groups = read_back_groups(&[write(5424, &[0; 6]), write(5429, &[0])]);
        let reads: Vec<(u16, u16)> = groups.iter().map(|g| (g.first, g.count)).collect();
        assert_eq!(reads, vec![(5424, 6), (5429, 1)]);
        // The same register written twice: the last value is the one that must stick.
        let groups = read_back_groups(&[write(3826, &[0]), write(3815, &[1]), write(3826, &[1])]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].checks, vec![(3826, vec![1]), (3815, vec![1])]);
    }

    #[test]
    fn mismatches_are_decoded_where_they_were_written() {
        let groups = read_back_groups(&[
            write(2901, &[0]),
            write(5424, &[0, 3600, 1, 80, 0x6A5F, 0x1234, 0]),
        ]);
        let found = groups[0].mismatches(&[100]);
        assert_eq!(
            (found[0].address, found[0].written, found[0].read),
            (2901, 0, Some(100))
        );
        let found = groups[1].mismatches(&[0, 3600, 1, 70, 0x6A5F, 0x1234, 1]);
        let got: Vec<(u16, i64, Option<i64>)> = found
            .iter()
            .map(|m| (m.address, m.written, m.read))
            .collect();
        assert_eq!(got, vec![(5427, 80, Some(70)), (5430, 0, Some(1))]);
        assert!(
            groups[1]
                .mismatches(&[0, 3600, 1, 80, 0x6A5F, 0x1234, 0])
                .is_empty()
        );
        assert_eq!(groups[0].mismatches(&[])[0].read, None, "a short answer");
        // The old map's Strategy is Strategy, not Start.
        let old = read_back_groups(&[write(5429, &[0])]);
        let m = &old[0].mismatches(&[1])[0];
        assert_eq!(m.register.map(|r| r.address), Some(5429));
        assert_eq!(m.register.map(|r| r.kind.words()), Some(1));
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
