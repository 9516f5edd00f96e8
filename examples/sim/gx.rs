//! A Victron GX simulator: a real Modbus-TCP server on loopback, served by tokio-modbus.
//!
//! It serves unit 100 (system and settings) and unit 40 (the evcharger service) with the
//! readable blocks of the real GX, answers exceptions as the GX does (02 for an address it
//! lacks or a read-only register, 03 for a bad quantity, 0x0A for a unit with no service),
//! and, like the GX's settings store, acknowledges an out-of-range write and silently drops
//! it. It counts requests and bytes, logs every write, and can misbehave on purpose (`Fault`).
//! It also serves an EV charging station's own Modbus-TCP server (unit 1, registers 50xx)
//! when started with [`GxSim::start_evcs`].
//!
//! Two faults are below what a Modbus library will produce, a wrong transaction id and an
//! answer cut off half-way; a connection accepted while one of them is set is answered by
//! [`raw_fault`] on the socket instead.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// Ways to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Accept the connection, read requests, never answer.
    Hang,
    /// Send half of the first response, then close.
    CloseMidResponse,
    /// Answer with a transaction id one higher than asked.
    WrongTransactionId,
    /// Firmware before v3.50: exception 02 for anything in 5400-5430.
    OldFirmware,
    /// Acknowledge every write and store none of them.
    DropWrites,
}

impl Fault {
    pub fn parse(text: &str) -> Option<Fault> {
        Some(match text {
            "none" => Fault::None,
            "hang" => Fault::Hang,
            "close-mid-response" => Fault::CloseMidResponse,
            "wrong-transaction-id" => Fault::WrongTransactionId,
            "old-firmware" => Fault::OldFirmware,
            "drop-writes" => Fault::DropWrites,
            _ => return None,
        })
    }
}

/// One served unit: readable blocks, writable registers with their accepted ranges, values.
#[derive(Debug, Clone)]
pub struct Unit {
    pub blocks: Vec<(u16, u16)>,
    pub writable: BTreeMap<u16, (u16, u16)>,
    pub values: BTreeMap<u16, u16>,
}

/// Everything the simulator holds and has counted.
#[derive(Debug, Clone)]
pub struct State {
    pub units: BTreeMap<u8, Unit>,
    pub fault: Fault,
    pub requests: u64,
    pub write_requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// (unit, first address, values) of every write request, dropped or not.
    pub writes: Vec<(u8, u16, Vec<u16>)>,
    pub connections: u64,
    /// The GX's own time zone (Settings → System → Time zone): the clock slot 0 is counted on.
    pub timezone: chrono_tz::Tz,
    /// A `/Settings/DynamicEss/Schedule/0/TargetSoc` left behind by VRM, which the GX prefers
    /// to slot 0's Soc and which is not on Modbus.
    pub stale_target_soc: Option<u16>,
}

impl State {
    pub fn get(&self, unit: u8, address: u16) -> u16 {
        self.units
            .get(&unit)
            .and_then(|u| u.values.get(&address).copied())
            .unwrap_or(0)
    }

    pub fn set(&mut self, unit: u8, address: u16, value: u16) {
        if let Some(u) = self.units.get_mut(&unit) {
            u.values.insert(address, value);
        }
    }

    /// The slot 0 registers 5424-5430.
    pub fn slot(&self) -> [u16; 7] {
        let mut s = [0u16; 7];
        for (i, v) in s.iter_mut().enumerate() {
            *v = self.get(100, 5424 + i as u16);
        }
        s
    }

    pub fn reset_counters(&mut self) {
        self.requests = 0;
        self.write_requests = 0;
        self.bytes_in = 0;
        self.bytes_out = 0;
        self.writes.clear();
        self.connections = 0;
    }
}

/// The GX as shipped with ESS optimized, Dynamic ESS off, no capacity, an empty slot.
pub fn gx_unit() -> Unit {
    let blocks = vec![
        (800, 919),
        (2700, 2724),
        (2900, 2903),
        (4701, 4704),
        (5400, 5407),
        (5420, 5430),
        (5700, 5707),
    ];
    let writable: BTreeMap<u16, (u16, u16)> = [
        (2900, (1, 12)),
        (2901, (0, 1000)),
        (2902, (1, 3)),
        (5420, (1, 65535)),
        (5423, (0, 4)),
        (5424, (0, 1)),
        (5425, (0, 65535)),
        (5426, (0, 3)),
        (5427, (0, 100)),
        (5428, (0, 65535)),
        (5429, (0, 65535)),
        (5430, (0, 1)),
    ]
    .into_iter()
    .collect();
    let values: BTreeMap<u16, u16> = [
        (817, 350),
        (818, 0),
        (819, 0),
        (842, (-400i16) as u16),
        (843, 64),
        (2900, 10),
        (2901, 100),
        (2902, 1),
        (5404, 3),
        (5420, 0),
        (5423, 0),
    ]
    .into_iter()
    .collect();
    Unit {
        blocks,
        writable,
        values,
    }
}

/// The GX's evcharger service (unit 40): an EV connected, auto mode, not charging.
pub fn evcharger_unit() -> Unit {
    Unit {
        blocks: vec![(3800, 3847)],
        writable: [
            (3814, (6, 32)),
            (3815, (0, 2)),
            (3825, (0, 32)),
            (3826, (0, 1)),
        ]
        .into_iter()
        .collect(),
        values: [
            (3814, 32),
            (3815, 1),
            (3821, 0),
            (3824, 1),
            (3825, 16),
            (3826, 0),
        ]
        .into_iter()
        .collect(),
    }
}

/// An EVCS's own server (unit 1, registers 50xx).
pub fn evcs_unit() -> Unit {
    Unit {
        blocks: vec![(5000, 5030)],
        writable: [
            (5009, (0, 2)),
            (5010, (0, 1)),
            (5016, (0, 32)),
            (5017, (6, 32)),
        ]
        .into_iter()
        .collect(),
        values: [
            (5009, 1),
            (5010, 0),
            (5014, 0),
            (5015, 1),
            (5016, 16),
            (5017, 32),
            (5026, 0),
        ]
        .into_iter()
        .collect(),
    }
}

/// A running simulator. Its threads end with the process; each connection is bounded in time.
pub struct GxSim {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl GxSim {
    /// A GX with unit 100 and the evcharger service on unit 40, on an ephemeral loopback port.
    pub fn start() -> std::io::Result<GxSim> {
        let units = [(100u8, gx_unit()), (40u8, evcharger_unit())]
            .into_iter()
            .collect();
        GxSim::start_with(units, 0)
    }

    /// An EV charging station's own Modbus server (unit 1).
    pub fn start_evcs() -> std::io::Result<GxSim> {
        GxSim::start_with([(1u8, evcs_unit())].into_iter().collect(), 0)
    }

    pub fn start_with(units: BTreeMap<u8, Unit>, port: u16) -> std::io::Result<GxSim> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            units,
            fault: Fault::None,
            requests: 0,
            write_requests: 0,
            bytes_in: 0,
            bytes_out: 0,
            writes: Vec::new(),
            connections: 0,
            timezone: chrono_tz::Australia::Hobart,
            stale_target_soc: None,
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let shared = Arc::clone(&state);
        std::thread::spawn(move || runtime.block_on(serve(listener, shared)));
        Ok(GxSim { addr, state })
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Accepts connections for as long as the process runs: tokio-modbus's server for each one,
/// or [`raw_fault`] while a fault below the library is set.
async fn serve(listener: std::net::TcpListener, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let server = Server::new(tokio::net::TcpListener::from_std(listener)?);
    let on_connected = |stream: tokio::net::TcpStream, peer: SocketAddr| {
        let state = Arc::clone(&state);
        async move {
            let fault = {
                let mut s = lock(&state);
                s.connections += 1;
                s.fault
            };
            if matches!(fault, Fault::WrongTransactionId | Fault::CloseMidResponse) {
                tokio::spawn(raw_fault(stream, fault, state));
                return Ok(None);
            }
            accept_tcp_connection(stream, peer, |_| {
                Ok(Some(Sim {
                    state: Arc::clone(&state),
                }))
            })
        }
    };
    server.serve(&on_connected, |_| {}).await
}

/// The simulator as a tokio-modbus service.
struct Sim {
    state: Arc<Mutex<State>>,
}

impl tokio_modbus::server::Service for Sim {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Response>, ExceptionCode>> + Send>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let (fault, answer) = {
            let mut s = lock(&self.state);
            s.requests += 1;
            s.bytes_in += request_bytes(&req.request);
            let answer = handle(&mut s, req.slave, &req.request);
            s.bytes_out += answer_bytes(&answer);
            (s.fault, answer)
        };
        Box::pin(async move {
            if fault == Fault::Hang {
                // Hold the connection open without answering, bounded so the task ends.
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(None);
            }
            answer.map(Some)
        })
    }
}

/// The size of a request's frame on the wire (7-byte MBAP header + PDU).
fn request_bytes(r: &Request) -> u64 {
    match r {
        Request::WriteMultipleRegisters(_, words) => 13 + 2 * words.len() as u64,
        _ => 12,
    }
}

/// The size of an answer's frame on the wire.
fn answer_bytes(a: &Result<Response, ExceptionCode>) -> u64 {
    match a {
        Ok(Response::ReadHoldingRegisters(words) | Response::ReadInputRegisters(words)) => {
            9 + 2 * words.len() as u64
        }
        Ok(_) => 12,
        Err(_) => 9,
    }
}

/// Answers on the socket itself, for the faults a Modbus library will not produce: every
/// request gets a well-formed answer under the next transaction id, or half an answer and a
/// closed connection.
async fn raw_fault(mut stream: tokio::net::TcpStream, fault: Fault, state: Arc<Mutex<State>>) {
    let mut header = [0u8; 7];
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut header)).await
    {
        let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let mut pdu = vec![0u8; len.saturating_sub(1)];
        if len < 2 || stream.read_exact(&mut pdu).await.is_err() {
            return;
        }
        lock(&state).requests += 1;
        let reply = match pdu.first() {
            // A read of N registers: N zeros.
            Some(3) | Some(4) => {
                let count = usize::from(u16::from_be_bytes([pdu[3], pdu[4]]));
                let mut r = vec![pdu[0], (2 * count) as u8];
                r.resize(2 + 2 * count, 0);
                r
            }
            // A write: its echo.
            _ => pdu.iter().take(5).copied().collect(),
        };
        let tid = u16::from_be_bytes([header[0], header[1]]).wrapping_add(1);
        let mut frame = tid.to_be_bytes().to_vec();
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&((reply.len() + 1) as u16).to_be_bytes());
        frame.push(header[6]);
        frame.extend_from_slice(&reply);
        if fault == Fault::CloseMidResponse {
            let _ = stream.write_all(&frame[..frame.len() / 2]).await;
            return;
        }
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
}

/// Addresses of (mode, start/stop, status, set current, power) on a unit that is a charger.
fn charger_registers(unit_id: u8) -> Option<(u16, u16, u16, u16, u16)> {
    match unit_id {
        40 => Some((3815, 3826, 3824, 3825, 3821)),
        1 => Some((5009, 5010, 5015, 5016, 5014)),
        _ => None,
    }
}

/// A charger after a write: manual + start with an EV ready charges at the set current on one
/// 230 V phase; auto + start waits for sun; stop ends a charge. On the GX, the charger's power
/// shows in the AC loads of L1, as it does on a real site with the EVCS on the AC output.
fn charger_reacts(s: &mut State, unit_id: u8) {
    let Some((mode, start_stop, status, current, power)) = charger_registers(unit_id) else {
        return;
    };
    let get = |s: &State, a: u16| s.get(unit_id, a);
    let (m, on, st, amps, before) = (
        get(s, mode),
        get(s, start_stop),
        get(s, status),
        get(s, current),
        get(s, power),
    );
    let (new_status, watts) = match (m, on, st) {
        (0, 1, 1 | 2 | 4 | 6) => (2, amps.saturating_mul(230)),
        (1, 1, 1 | 6) => (4, 0),
        (_, 0, 2 | 4) => (1, 0),
        (_, _, other) => (other, before),
    };
    s.set(unit_id, status, new_status);
    s.set(unit_id, power, watts);
    if unit_id == 40 {
        let loads = i32::from(s.get(100, 817)) + i32::from(watts) - i32::from(before);
        s.set(100, 817, loads.clamp(0, 65535) as u16);
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Whether the GX holds slot 0 in force now, as Victron's dynamicess.py decides it: the
/// window is the naive local time of Start (in the GX's zone) plus Duration seconds, compared
/// with the naive local time now.
fn slot_in_force(s: &State) -> bool {
    slot_seconds_left(s).is_some()
}

/// While slot 0 is in force: the seconds left on the GX's wall clock until it ends.
fn slot_seconds_left(s: &State) -> Option<i64> {
    let slot = s.slot();
    let start = i64::from(((u32::from(slot[4]) << 16) | u32::from(slot[5])) as i32);
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(start, 0).filter(|_| start > 0)?;
    let from = start.with_timezone(&s.timezone).naive_local();
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .with_timezone(&s.timezone)
        .naive_local();
    let end = from + chrono::TimeDelta::seconds(i64::from(slot[1]));
    (from <= now && now < end).then(|| (end - now).num_seconds().max(1))
}

/// A drain slot in force (target below the battery's SoC, grid → battery blocked, feed-in
/// allowed) is a scheduled discharge: the battery power that reaches the target when the slot
/// ends, as the GX's dynamicess.py computes it.
fn drain_power_w(s: &State) -> Option<i16> {
    let slot = s.slot();
    let soc = s.get(100, 843);
    let is_drain = slot[0] == 1 && slot[2] & 2 != 0 && slot[6] == 0 && slot[3] > 0;
    if !is_drain || slot[3] >= soc {
        return None;
    }
    let left_h = slot_seconds_left(s)? as f64 / 3600.0;
    let capacity_wh = f64::from(s.get(100, 5420)) * 100.0;
    let watts = f64::from(soc - slot[3]) / 100.0 * capacity_wh / left_h;
    Some(-(watts.min(f64::from(i16::MAX)).round() as i16))
}

/// Dynamic ESS's live registers (5400 active, 5404 error, 5407 target in force), computed
/// from the settings and slot 0 whenever unit 100 is read.
fn dynamic_ess(s: &State) -> [(u16, u16); 4] {
    let get = |a: u16| s.get(100, a);
    let (active, error, target) = if !matches!(get(5423), 1 | 4) {
        (0, 0, 0)
    } else if get(2900) == 9 || get(2902) == 3 {
        (0, 2, 0)
    } else if get(5420) == 0 {
        (0, 5, 0)
    } else if slot_in_force(s) {
        (1, 0, s.stale_target_soc.unwrap_or(get(5427)))
    } else {
        (0, 3, 0)
    };
    let battery = match (active, drain_power_w(s)) {
        (1, Some(w)) => w as u16,
        _ => s.get(100, 842),
    };
    [
        (5400, active),
        (5404, error),
        (5407, target),
        (842, battery),
    ]
}

/// One request against the state: the answer the GX would give.
fn handle(s: &mut State, unit_id: u8, request: &Request) -> Result<Response, ExceptionCode> {
    let live = if unit_id == 100 {
        dynamic_ess(s)
    } else {
        [(0, 0); 4]
    };
    let fault = s.fault;
    let Some(unit) = s.units.get_mut(&unit_id) else {
        return Err(ExceptionCode::GatewayPathUnavailable);
    };
    let old_firmware = |a: u16| fault == Fault::OldFirmware && (5400..=5430).contains(&a);
    let readable =
        |u: &Unit, a: u16| u.blocks.iter().any(|(f, l)| *f <= a && a <= *l) && !old_firmware(a);
    let (first, values) = match request {
        Request::ReadHoldingRegisters(first, count) | Request::ReadInputRegisters(first, count) => {
            if *count == 0 || *count > 125 {
                return Err(ExceptionCode::IllegalDataValue);
            }
            let addresses = *first..first.saturating_add(*count);
            if addresses.clone().any(|a| !readable(unit, a)) {
                return Err(ExceptionCode::IllegalDataAddress);
            }
            let words = addresses
                .map(
                    |a| match live.iter().find(|(l, _)| *l == a && unit_id == 100) {
                        Some((_, v)) => *v,
                        None => unit.values.get(&a).copied().unwrap_or(0),
                    },
                )
                .collect();
            return Ok(match request {
                Request::ReadInputRegisters(..) => Response::ReadInputRegisters(words),
                _ => Response::ReadHoldingRegisters(words),
            });
        }
        Request::WriteSingleRegister(first, value) => (*first, vec![*value]),
        Request::WriteMultipleRegisters(first, values) => {
            if values.is_empty() || values.len() > 123 {
                return Err(ExceptionCode::IllegalDataValue);
            }
            (*first, values.to_vec())
        }
        _ => return Err(ExceptionCode::IllegalFunction),
    };
    let addresses = first..first.saturating_add(values.len() as u16);
    if addresses
        .clone()
        .any(|a| !unit.writable.contains_key(&a) || old_firmware(a))
    {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    if fault != Fault::DropWrites {
        for (a, v) in addresses.zip(&values) {
            // The settings store acknowledges an out-of-range value and drops it.
            if let Some((lo, hi)) = unit.writable.get(&a) {
                if (*lo..=*hi).contains(v) {
                    unit.values.insert(a, *v);
                }
            }
        }
    }
    s.write_requests += 1;
    s.writes.push((unit_id, first, values.clone()));
    charger_reacts(s, unit_id);
    Ok(match request {
        Request::WriteSingleRegister(a, v) => Response::WriteSingleRegister(*a, *v),
        _ => Response::WriteMultipleRegisters(first, values.len() as u16),
    })
}
