//! A Victron GX simulator: a real Modbus-TCP server on loopback, served by tokio-modbus.
//!
//! It serves unit 100 (system and settings) and unit 40 (the evcharger service) with the
//! readable blocks of the real GX's register map, answers exceptions as the GX does (02 for an
//! address it lacks or a read-only register, 03 for a bad quantity, 0x0A for a unit with no
//! service or an evcharger address on unit 100), reads reserved addresses inside a block as
//! 0xFFFF and paths with no value as 0. It counts requests and bytes, logs every write, and can
//! misbehave on purpose (`Fault`). It also serves an EV charging station's own Modbus-TCP
//! server (unit 1, registers 50xx) when started with [`GxSim::start_evcs`].
//!
//! **Venus OS lines.** [`GxSim::start_line`] picks a firmware line ([`Firmware`]) and a slot-0
//! register map ([`SlotMap`]): the old map (Strategy at 5429 for a request that starts there,
//! no 5430) or the new one (Strategy at 5430). The line decides the firmware version registers
//! 834-835, which Strategy values the settings store takes, whether a global Restrictions
//! setting adds to the slot's, whether Soc 0 is a target, whether a stale TargetSoc beats
//! register 5427, and which clock slot 0 is compared on (the GX's naive wall clock, or UTC on
//! v3.80). [`GxSim::start`] is v3.70's control code on the new map (late v3.7x builds).
//!
//! **Write timing.** Like the real server, every write is acknowledged at once and applied
//! later, after [`State::apply_delay`] (5 ms unless told): a read before that sees the old
//! value. A multi-register write is not atomic: each register (an int32 pair counts as one
//! value) is its own write, range-checked on its own; an out-of-range one is dropped alone and
//! silently, as the GX's settings store does. Pending writes are applied in order when due, at
//! the start of every request and in [`GxSim::state`]; [`GxSim::settle`] waits for them.
//!
//! Two faults are below what a Modbus library will produce, a wrong transaction id and an
//! answer cut off half-way; a connection accepted while one of them is set is answered by
//! [`raw_fault`] on the socket instead.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// Where the simulator keeps slot 0's Strategy on either map (see [`State::get`]).
pub const STRATEGY: u16 = 5430;
/// On the old map, a request that starts at this address addresses Strategy.
pub const OLD_MAP_STRATEGY: u16 = 5429;
/// The apply delay a simulator starts with.
pub const DEFAULT_APPLY_DELAY: Duration = Duration::from_millis(5);

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

/// A Venus OS line, as far as Dynamic ESS and the Modbus-TCP server differ between them.
///
/// | line | server | 834-835 | Strategy taken | Restrictions in force | Soc 0 | stale TargetSoc | slot clock |
/// |---|---|---|---|---|---|---|---|
/// | `V350` | before v1.0.82 | 02 (830-835) | 0-1 | slot OR global | a target | ignored | naive local |
/// | `V360` | v1.0.82+ | 0x00036000 | 0-3 | slot OR global | a target | ignored | naive local |
/// | `V370` | v1.0.82+ | 0x00037000 | 0-3 | slot only | self-consumption | wins | naive local |
/// | `V380` | v1.0.96+ | 0x00038000 | 0-3 | slot only | self-consumption | wins | UTC (elapsed) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Firmware {
    V350,
    V360,
    V370,
    V380,
}

impl Firmware {
    pub const ALL: [Firmware; 4] = [
        Firmware::V350,
        Firmware::V360,
        Firmware::V370,
        Firmware::V380,
    ];

    /// `"3.50"`, `"3.60"`, `"3.70"` or `"3.80"` (a leading `v` is allowed).
    pub fn parse(text: &str) -> Option<Firmware> {
        Some(match text.strip_prefix('v').unwrap_or(text) {
            "3.50" => Firmware::V350,
            "3.60" => Firmware::V360,
            "3.70" => Firmware::V370,
            "3.80" => Firmware::V380,
            _ => return None,
        })
    }

    /// The slot-0 map the line ships with: the old one up to v3.70, the new one on v3.80.
    /// (Late v3.7x builds have the new map: pass it explicitly.)
    pub fn default_map(self) -> SlotMap {
        match self {
            Firmware::V380 => SlotMap::New,
            _ => SlotMap::Old,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Firmware::V350 => "v3.50",
            Firmware::V360 => "v3.60",
            Firmware::V370 => "v3.70",
            Firmware::V380 => "v3.80",
        }
    }
}

/// The firmware version the simulator serves at 834-835 (uint32, high word first), in
/// Victron-style hex digits: v3.60 → `0x00036000`, v3.70 → `0x00037000`, v3.80 →
/// `0x00038000`, i.e. `0x000M_mm00` for vM.mm with the low byte (a beta/build number) 0.
/// v3.50 gives `0x00035000`, but its server (older than `dbus_modbustcp` v1.0.82) has no
/// 834-835 and answers 02 there.
pub fn firmware_version_word(firmware: Firmware) -> u32 {
    match firmware {
        Firmware::V350 => 0x0003_5000,
        Firmware::V360 => 0x0003_6000,
        Firmware::V370 => 0x0003_7000,
        Firmware::V380 => 0x0003_8000,
    }
}

/// Slot 0's register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotMap {
    /// `dbus_modbustcp` up to v1.0.95 and the venus-3.7x line before the fix: Strategy at
    /// 5429 for a request that starts there, otherwise 5429 is Start's low word; no 5430.
    Old,
    /// v1.0.96 and later: slot 0 is 5424-5430, Strategy at 5430.
    New,
}

impl SlotMap {
    /// `"old"` or `"new"`.
    pub fn parse(text: &str) -> Option<SlotMap> {
        match text {
            "old" => Some(SlotMap::Old),
            "new" => Some(SlotMap::New),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SlotMap::Old => "old",
            SlotMap::New => "new",
        }
    }
}

/// One served unit: readable blocks, reserved addresses, writable registers with their
/// accepted ranges, values.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Inclusive address ranges a read may cover; a read outside them answers 02.
    pub blocks: Vec<(u16, u16)>,
    /// Reserved addresses inside the blocks (inclusive ranges): they read 0xFFFF.
    pub reserved: Vec<(u16, u16)>,
    /// First addresses of the writable int32 registers: both words written in one request
    /// are one value, applied (or dropped) together.
    pub int32: Vec<u16>,
    pub writable: BTreeMap<u16, (u16, u16)>,
    pub values: BTreeMap<u16, u16>,
}

impl Unit {
    fn in_blocks(&self, a: u16) -> bool {
        self.blocks.iter().any(|(f, l)| *f <= a && a <= *l)
    }

    fn is_reserved(&self, a: u16) -> bool {
        self.reserved.iter().any(|(f, l)| *f <= a && a <= *l)
    }
}

/// A write acknowledged and not yet applied.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    pub due: Instant,
    pub unit: u8,
    /// The simulator's own address of the value (Strategy is [`STRATEGY`] on both maps).
    pub address: u16,
    /// One word, or two for an int32 (high word first).
    pub words: Vec<u16>,
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
    /// (unit, first address, values) of every write request, dropped or not, as sent.
    pub writes: Vec<(u8, u16, Vec<u16>)>,
    pub connections: u64,
    /// The GX's own time zone (Settings → System → Time zone): the clock slot 0 is counted on
    /// (up to v3.70).
    pub timezone: chrono_tz::Tz,
    /// A `/Settings/DynamicEss/Schedule/0/TargetSoc` left behind by VRM, which the GX (from
    /// v3.70) prefers to slot 0's Soc when above 0, and which is not on Modbus.
    pub stale_target_soc: Option<u16>,
    /// The Venus OS line whose control code and server this is.
    pub firmware: Firmware,
    /// Slot 0's register map. Unit 100's blocks are built for the map the simulator started
    /// with; changing this later changes only the 5429/5430 rules.
    pub map: SlotMap,
    /// How long after its acknowledgement a write is applied.
    pub apply_delay: Duration,
    /// Writes acknowledged and not yet applied, in order.
    pub pending: VecDeque<PendingWrite>,
    /// A global `/Settings/DynamicEss/Restrictions` (VRM may leave one; not on Modbus), ORed
    /// into the slot's on v3.50 and v3.60 and ignored from v3.70.
    pub global_restrictions: u16,
    /// Whether Dynamic ESS's loop runs: started by a change of mode 5423 from 0 to 1 or 4,
    /// stopped by a change to 0, 2 or 3; a change from 2 or 3 to 1 or 4 leaves it stopped.
    pub dess_running: bool,
    /// A fixed GX clock in unix seconds; `None` is the wall clock.
    pub clock: Option<i64>,
}

impl State {
    /// A register as the simulator stores it: slot 0's Strategy is at [`STRATEGY`] (5430) and
    /// 5429 is Start's low word, on both maps. Live registers (5400-5407, 830-835, 842, 2903)
    /// are computed on a Modbus read and are not here.
    pub fn get(&self, unit: u8, address: u16) -> u16 {
        self.units
            .get(&unit)
            .and_then(|u| u.values.get(&address).copied())
            .unwrap_or(0)
    }

    /// Stores a value at once (no apply delay, no range check), as the settings store does
    /// when it applies a write: a change of Dynamic ESS mode (5423) starts or stops its loop.
    pub fn set(&mut self, unit: u8, address: u16, value: u16) {
        if unit == 100 && address == 5423 {
            let old = self.get(100, 5423);
            if old != value {
                self.dess_running = dess_runs_after(old, value, self.dess_running);
            }
        }
        if let Some(u) = self.units.get_mut(&unit) {
            u.values.insert(address, value);
        }
    }

    /// Slot 0 in the order feed-in 5424, duration 5425, restrictions 5426, soc 5427, start-hi
    /// 5428, start-lo 5429, strategy (5430 on the new map, 5429-as-first on the old one).
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

    /// Applies the pending writes that are due, in order.
    pub fn apply_due(&mut self) {
        let now = Instant::now();
        while self.pending.front().is_some_and(|w| w.due <= now) {
            if let Some(w) = self.pending.pop_front() {
                self.apply(w);
            }
        }
    }

    /// The GX clock, unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.clock.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        })
    }

    /// The ESS active SoC limit, % × 10 (register 2903): with BatteryLife (2900 = 1..8) its
    /// own limit, never below 2901 and at least 10 %; without it, 2901.
    pub fn active_soc_limit(&self) -> u16 {
        let minimum = self.get(100, 2901);
        if (1..=8).contains(&self.get(100, 2900)) {
            minimum.max(100)
        } else {
            minimum
        }
    }

    /// One write as the settings store applies it: each word range-checked (an out-of-range
    /// value drops the whole value silently), then the charger reacts.
    fn apply(&mut self, w: PendingWrite) {
        let Some(unit) = self.units.get(&w.unit) else {
            return;
        };
        let v350 = self.firmware == Firmware::V350;
        let in_range = w.words.iter().enumerate().all(|(i, v)| {
            let a = w.address.wrapping_add(i as u16);
            let range = unit.writable.get(&a).copied();
            // v3.50's settings store takes Strategy 0 and 1 only.
            let range = match (w.unit, a, v350) {
                (100, STRATEGY, true) => range.map(|(lo, hi)| (lo, hi.min(1))),
                _ => range,
            };
            range.is_some_and(|(lo, hi)| (lo..=hi).contains(v))
        });
        if in_range {
            for (i, v) in w.words.iter().enumerate() {
                self.set(w.unit, w.address.wrapping_add(i as u16), *v);
            }
        }
        charger_reacts(self, w.unit);
    }

    fn new(units: BTreeMap<u8, Unit>, firmware: Firmware, map: SlotMap) -> State {
        let mode = units
            .get(&100)
            .and_then(|u| u.values.get(&5423).copied())
            .unwrap_or(0);
        State {
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
            firmware,
            map,
            apply_delay: DEFAULT_APPLY_DELAY,
            pending: VecDeque::new(),
            global_restrictions: 0,
            dess_running: matches!(mode, 1 | 4),
            clock: None,
        }
    }
}

/// Whether Dynamic ESS runs after its mode changes from `old` to `new`: 0, 2 and 3 stop it;
/// 1 or 4 from 0 starts it; from 2 or 3 it stays off (3 → 4 left it off on the real services,
/// 0 → 4 started it); between 1 and 4 it keeps running or not.
fn dess_runs_after(old: u16, new: u16, running: bool) -> bool {
    match (old, new) {
        (_, 1 | 4) => match old {
            0 => true,
            1 | 4 => running,
            _ => false,
        },
        _ => false,
    }
}

/// The GX as shipped with ESS optimized, Dynamic ESS off, no capacity, an empty slot, on the
/// new map.
pub fn gx_unit() -> Unit {
    gx_unit_for(SlotMap::New)
}

/// Unit 100 (system and settings) with the blocks Victron's register list serves on `map`:
/// the new map as `dbus_modbustcp` v1.0.101 (817-846 with reserved 827-829 and 836-839,
/// 847-919 with its reserved gaps, 2700-2724, 2900-2903, 4701-4704, 5400-5407, 5420-5430,
/// 5700-5707); the old map as the venus-3.7x line (no reserved entries past 846, so 847-849,
/// 852-854, 856-859 and 861-864 are holes; 2700-2718; 5420-5429; no 5700).
pub fn gx_unit_for(map: SlotMap) -> Unit {
    let (blocks, reserved) = match map {
        SlotMap::New => (
            vec![
                (800, 919),
                (2700, 2724),
                (2900, 2903),
                (4701, 4704),
                (5400, 5407),
                (5420, 5430),
                (5700, 5707),
            ],
            vec![
                (827, 829),
                (836, 839),
                (847, 849),
                (852, 854),
                (856, 859),
                (861, 864),
                (867, 867),
                (2719, 2719),
            ],
        ),
        SlotMap::Old => (
            vec![
                (800, 846),
                (850, 851),
                (855, 855),
                (860, 860),
                (865, 919),
                (2700, 2718),
                (2900, 2903),
                (4701, 4704),
                (5400, 5407),
                (5420, 5429),
            ],
            vec![(827, 829), (836, 839), (867, 867)],
        ),
    };
    let writable: BTreeMap<u16, (u16, u16)> = [
        (2900, (1, 12)),
        (2901, (0, 1000)),
        (2902, (1, 3)),
        (5420, (1, 65535)),
        // Full-charge duration (h) and interval (days): their limits are not modelled.
        (5421, (0, 65535)),
        (5422, (0, 65535)),
        (5423, (0, 4)),
        (5424, (0, 1)),
        (5425, (0, 65535)),
        (5426, (0, 3)),
        (5427, (0, 100)),
        (5428, (0, 65535)),
        (5429, (0, 65535)),
        (STRATEGY, (0, 3)),
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
        reserved,
        int32: vec![5428],
        writable,
        values,
    }
}

/// The GX's evcharger service (unit 40): an EV connected, auto mode, not charging.
pub fn evcharger_unit() -> Unit {
    evcharger_unit_for(SlotMap::New)
}

/// The evcharger service's blocks on a server with `map`: 3800-3847 on the new map (3801,
/// 3838-3839 reserved); 3800 and 3802-3827 on the venus-3.7x line (3801 a hole).
pub fn evcharger_unit_for(map: SlotMap) -> Unit {
    let (blocks, reserved) = match map {
        SlotMap::New => (vec![(3800, 3847)], vec![(3801, 3801), (3838, 3839)]),
        SlotMap::Old => (vec![(3800, 3800), (3802, 3827)], vec![]),
    };
    Unit {
        blocks,
        reserved,
        int32: Vec::new(),
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
        reserved: Vec::new(),
        int32: Vec::new(),
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
    /// A GX with unit 100 and the evcharger service on unit 40, on an ephemeral loopback port:
    /// v3.70's control code on the new map, the wall clock, the default apply delay.
    pub fn start() -> std::io::Result<GxSim> {
        GxSim::start_line_on(Firmware::V370, Some(SlotMap::New), 0)
    }

    /// A GX of one Venus OS line, on `map` (the line's own map unless told), on an ephemeral
    /// loopback port.
    pub fn start_line(firmware: Firmware, map: Option<SlotMap>) -> std::io::Result<GxSim> {
        GxSim::start_line_on(firmware, map, 0)
    }

    /// As [`GxSim::start_line`], on `port` (0: an ephemeral one).
    pub fn start_line_on(
        firmware: Firmware,
        map: Option<SlotMap>,
        port: u16,
    ) -> std::io::Result<GxSim> {
        let map = map.unwrap_or(firmware.default_map());
        let units = [(100u8, gx_unit_for(map)), (40u8, evcharger_unit_for(map))]
            .into_iter()
            .collect();
        GxSim::start_full(units, port, firmware, map)
    }

    /// An EV charging station's own Modbus server (unit 1).
    pub fn start_evcs() -> std::io::Result<GxSim> {
        GxSim::start_with([(1u8, evcs_unit())].into_iter().collect(), 0)
    }

    /// These units on `port` (0: an ephemeral one), as v3.70 on the new map.
    pub fn start_with(units: BTreeMap<u8, Unit>, port: u16) -> std::io::Result<GxSim> {
        GxSim::start_full(units, port, Firmware::V370, SlotMap::New)
    }

    fn start_full(
        units: BTreeMap<u8, Unit>,
        port: u16,
        firmware: Firmware,
        map: SlotMap,
    ) -> std::io::Result<GxSim> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::new(units, firmware, map)));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let shared = Arc::clone(&state);
        std::thread::spawn(move || runtime.block_on(serve(listener, shared)));
        Ok(GxSim { addr, state })
    }

    /// The state, with the writes that are due applied.
    pub fn state(&self) -> MutexGuard<'_, State> {
        let mut s = lock(&self.state);
        s.apply_due();
        s
    }

    /// Waits (at most 2 s) until every acknowledged write is applied; whether they all are.
    pub fn settle(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let wait = {
                let mut s = lock(&self.state);
                s.apply_due();
                match s.pending.front() {
                    None => return true,
                    Some(w) => w.due.saturating_duration_since(Instant::now()),
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep(wait.max(Duration::from_micros(200)).min(deadline - now));
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
            s.apply_due();
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

/// A charger after a write applies: manual + start with an EV ready charges at the set
/// current on one 230 V phase; auto + start waits for sun; stop ends a charge. On the GX, the
/// charger's power shows in the AC loads of L1, as it does on a real site with the EVCS on the
/// AC output.
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

/// Whether slot 0 is in force at the GX's clock now (`State::clock` when set), by the line's
/// own rule: for tests that step the GX's clock through a night.
pub fn slot_in_force(s: &State) -> bool {
    slot_seconds_left(s).is_some()
}

/// While slot 0 is in force: the seconds left until it ends. Up to v3.70 as Victron's
/// dynamicess.py decides it, on the GX's wall clock: the window is the naive local time of
/// Start (in the GX's zone) plus Duration seconds, compared with the naive local time now.
/// On v3.80 (venus-dynamicess, which sets no TZ on a UTC system) in elapsed time: Start ..
/// Start + Duration in unix seconds.
fn slot_seconds_left(s: &State) -> Option<i64> {
    let slot = s.slot();
    let start = i64::from(((u32::from(slot[4]) << 16) | u32::from(slot[5])) as i32);
    if start <= 0 {
        return None;
    }
    let now = s.now_unix();
    if s.firmware == Firmware::V380 {
        let end = start + i64::from(slot[1]);
        return (start <= now && now < end).then(|| (end - now).max(1));
    }
    let naive = |t: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0)
            .map(|d| d.with_timezone(&s.timezone).naive_local())
    };
    let (from, now) = (naive(start)?, naive(now)?);
    let end = from + chrono::TimeDelta::seconds(i64::from(slot[1]));
    (from <= now && now < end).then(|| (end - now).num_seconds().max(1))
}

/// Dynamic ESS as the GX's control code sees it now.
#[derive(Debug, Clone, Copy, Default)]
struct Dess {
    active: bool,
    error: u16,
    /// The target SoC in force (0 in self-consumption).
    target: u16,
    strategy: u16,
    restrictions: u16,
    feed_in: u16,
    /// A slot in force that the GX runs as self-consumption (Strategy 1, or from v3.70 a
    /// target of 0 %, which is not a target).
    self_consumption: bool,
}

/// Dynamic ESS's state from the settings and slot 0, per line: mode 1 or 4 with the loop
/// running, ESS optimized, a capacity, slot 0 in force. Restrictions in force are the slot's
/// ORed with the global ones on v3.50/v3.60, the slot's only from v3.70. The target is 5427,
/// or from v3.70 a stale TargetSoc above 0. From v3.70 a target of 0 is not a target: inside
/// the window the GX falls back to self-consumption (Active 1, TargetSoc 0, Strategy 1), as
/// it does for a slot with Strategy 1. On v3.80, ErrorCode 6 = disabled when the mode is 0.
fn dynamic_ess(s: &State) -> Dess {
    let get = |a: u16| s.get(100, a);
    let mode = get(5423);
    if !(s.dess_running && matches!(mode, 1 | 4)) {
        let error = if s.firmware == Firmware::V380 && mode == 0 {
            6
        } else {
            0
        };
        return Dess {
            error,
            ..Dess::default()
        };
    }
    let error = if get(2900) == 9 || get(2902) == 3 {
        2
    } else if get(5420) == 0 {
        5
    } else if slot_seconds_left(s).is_none() {
        3
    } else {
        0
    };
    if error != 0 {
        return Dess {
            error,
            ..Dess::default()
        };
    }
    let slot = s.slot();
    let from_v370 = s.firmware >= Firmware::V370;
    let restrictions = if from_v370 {
        slot[2]
    } else {
        slot[2] | s.global_restrictions
    };
    let target = match s.stale_target_soc.filter(|t| *t > 0) {
        Some(stale) if from_v370 => stale,
        _ => slot[3],
    };
    let self_consumption = slot[6] == 1 || (from_v370 && target == 0);
    Dess {
        active: true,
        error: 0,
        target: if self_consumption { 0 } else { target },
        strategy: if self_consumption { 1 } else { slot[6] },
        restrictions,
        feed_in: slot[0],
        self_consumption,
    }
}

/// The battery power the GX shows (842). A drain slot in force (target below the battery's
/// SoC, restrictions in force exactly 2: grid → battery blocked, battery → grid allowed, feed-in
/// allowed, Strategy 0) is a scheduled discharge at the rate that reaches the target when the
/// slot ends, as dynamicess.py computes it. No discharge takes the SoC below the ESS active
/// SoC limit (2903): at or below it the battery stops discharging (0 W).
fn battery_power(s: &State, d: &Dess) -> u16 {
    let stored = s.get(100, 842) as i16;
    let soc = s.get(100, 843);
    let at_limit = u32::from(soc) * 10 <= u32::from(s.active_soc_limit());
    let drain = d.active
        && !d.self_consumption
        && d.strategy == 0
        && d.feed_in == 1
        && d.restrictions & 3 == 2
        && d.target < soc;
    if drain && !at_limit {
        if let Some(left) = slot_seconds_left(s) {
            let left_h = left as f64 / 3600.0;
            let capacity_wh = f64::from(s.get(100, 5420)) * 100.0;
            let watts = f64::from(soc - d.target) / 100.0 * capacity_wh / left_h;
            return (-(watts.min(f64::from(i16::MAX)).round() as i16)) as u16;
        }
    }
    if at_limit && stored < 0 {
        0
    } else {
        stored as u16
    }
}

/// Unit 100's live registers, computed whenever it is read: the clock (830-833, uint64 UTC
/// seconds), the firmware version (834-835), battery power (842), the active SoC limit
/// (2903) and Dynamic ESS's 5400 active, 5401 feed-in, 5404 error, 5405 restrictions,
/// 5406 strategy and 5407 target in force.
fn live_registers(s: &State) -> Vec<(u16, u16)> {
    let d = dynamic_ess(s);
    let now = s.now_unix().max(0) as u64;
    let version = firmware_version_word(s.firmware);
    let on = |v: u16| if d.active { v } else { 0 };
    vec![
        (830, (now >> 48) as u16),
        (831, (now >> 32) as u16),
        (832, (now >> 16) as u16),
        (833, now as u16),
        (834, (version >> 16) as u16),
        (835, version as u16),
        (842, battery_power(s, &d)),
        (2903, s.active_soc_limit()),
        (5400, u16::from(d.active)),
        (5401, on(d.feed_in)),
        (5404, d.error),
        (5405, on(d.restrictions)),
        (5406, on(d.strategy)),
        (5407, d.target),
    ]
}

/// One request against the state: the answer the GX would give. A write is acknowledged here
/// and queued; it applies after the apply delay.
fn handle(s: &mut State, unit_id: u8, request: &Request) -> Result<Response, ExceptionCode> {
    let live = if unit_id == 100 {
        live_registers(s)
    } else {
        Vec::new()
    };
    let (fault, firmware, map) = (s.fault, s.firmware, s.map);
    let Some(unit) = s.units.get(&unit_id) else {
        return Err(ExceptionCode::GatewayPathUnavailable);
    };
    let gx = unit_id == 100;
    let old_firmware = |a: u16| fault == Fault::OldFirmware && (5400..=5430).contains(&a);
    let readable = |a: u16| {
        unit.in_blocks(a)
            && !old_firmware(a)
            // The server before v1.0.82 (v3.50) has neither the clock nor the version.
            && !(gx && firmware == Firmware::V350 && (830..=835).contains(&a))
            && !(gx && map == SlotMap::Old && a == 5430)
    };
    let (first, values) = match request {
        Request::ReadHoldingRegisters(first, count) | Request::ReadInputRegisters(first, count) => {
            (*first, vec![0; usize::from(*count)])
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
    let is_read = matches!(
        request,
        Request::ReadHoldingRegisters(..) | Request::ReadInputRegisters(..)
    );
    if is_read && (values.is_empty() || values.len() > 125) {
        return Err(ExceptionCode::IllegalDataValue);
    }
    let addresses = first..first.saturating_add(values.len() as u16);
    // An address of another device type (the evcharger's) on unit 100.
    if gx && addresses.clone().any(|a| (3800..=3847).contains(&a)) {
        return Err(ExceptionCode::GatewayPathUnavailable);
    }
    // The simulator's own address of a Modbus address in this request: on the old map, a
    // request that starts at 5429 addresses Strategy.
    let key = |a: u16| {
        if gx && map == SlotMap::Old && first == OLD_MAP_STRATEGY && a == OLD_MAP_STRATEGY {
            STRATEGY
        } else {
            a
        }
    };
    if is_read {
        if addresses.clone().any(|a| !readable(a)) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let words = addresses
            .map(|a| {
                if unit.is_reserved(a) {
                    return 0xFFFF;
                }
                let k = key(a);
                match live.iter().find(|(l, _)| *l == k) {
                    Some((_, v)) => *v,
                    None => unit.values.get(&k).copied().unwrap_or(0),
                }
            })
            .collect();
        return Ok(match request {
            Request::ReadInputRegisters(..) => Response::ReadInputRegisters(words),
            _ => Response::ReadHoldingRegisters(words),
        });
    }
    if addresses
        .clone()
        .any(|a| !readable(a) || unit.is_reserved(a) || !unit.writable.contains_key(&key(a)))
    {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    // Each register, or int32 pair, becomes its own write, applied after the delay.
    let mut queued = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let a = first + i as u16;
        let k = key(a);
        let width = if k == a && unit.int32.contains(&a) && i + 1 < values.len() {
            2
        } else {
            1
        };
        queued.push((k, values[i..i + width].to_vec()));
        i += width;
    }
    s.write_requests += 1;
    s.writes.push((unit_id, first, values.clone()));
    if fault != Fault::DropWrites {
        let due = Instant::now() + s.apply_delay;
        for (address, words) in queued {
            s.pending.push_back(PendingWrite {
                due,
                unit: unit_id,
                address,
                words,
            });
        }
        s.apply_due();
    }
    Ok(match request {
        Request::WriteSingleRegister(a, v) => Response::WriteSingleRegister(*a, *v),
        _ => Response::WriteMultipleRegisters(first, values.len() as u16),
    })
}
