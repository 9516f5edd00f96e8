//! The GX simulator itself, over real Modbus-TCP on loopback: each Venus OS line's register
//! map (old and new slot maps, 830-835, reserved addresses), the write timing (acknowledged at
//! once, applied later, FC16 not atomic) and the control code per line, and its served
//! addresses checked against Victron's own register lists (`attributes-*.csv`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone};
use tokio_modbus::client::sync::{Context, Reader, Writer, tcp};
use tokio_modbus::{ExceptionCode, Slave};

use crate::testenv::gx::{self, Firmware, GxSim, SlotMap, firmware_version_word};

const GX: u8 = 100;
const EV: u8 = 40;
/// A write's exception 02.
const ADDRESS: Result<(), ExceptionCode> = Err(ExceptionCode::IllegalDataAddress);
/// A read's exception 02.
const NOT_THERE: Result<Vec<u16>, ExceptionCode> = Err(ExceptionCode::IllegalDataAddress);

fn connect(sim: &GxSim, unit: u8) -> Context {
    tcp::connect_slave_with_timeout(sim.addr, Slave(unit), Some(Duration::from_secs(2)))
        .expect("connect to the simulator")
}

fn read(c: &mut Context, first: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
    c.read_holding_registers(first, count)
        .unwrap_or_else(|e| panic!("read {first}+{count}: {e}"))
}

fn write1(c: &mut Context, address: u16, value: u16) -> Result<(), ExceptionCode> {
    c.write_single_register(address, value)
        .unwrap_or_else(|e| panic!("FC06 {address}: {e}"))
}

fn write(c: &mut Context, first: u16, values: &[u16]) -> Result<(), ExceptionCode> {
    c.write_multiple_registers(first, values)
        .unwrap_or_else(|e| panic!("FC16 {first}: {e}"))
}

fn settle(sim: &GxSim) {
    assert!(sim.settle(), "writes still pending after 2 s");
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Slot 0 in force now (an hour ago for two hours) to `soc` %, with Dynamic ESS external, a
/// 10 kWh capacity and the given feed-in, restrictions and strategy, stored directly.
fn hold_slot(sim: &GxSim, feed_in: u16, restrictions: u16, soc: u16, strategy: u16) {
    let start = (now_unix() - 3600) as u32;
    let mut s = sim.state();
    for (a, v) in [
        (5420, 100),
        (5423, 4),
        (5424, feed_in),
        (5425, 7200),
        (5426, restrictions),
        (5427, soc),
        (5428, (start >> 16) as u16),
        (5429, start as u16),
        (gx::STRATEGY, strategy),
    ] {
        s.set(GX, a, v);
    }
}

/// Dynamic ESS's (active 5400, error 5404, restrictions 5405, strategy 5406, target 5407).
fn dess(c: &mut Context) -> (u16, u16, u16, u16, u16) {
    let w = read(c, 5400, 8).unwrap();
    (w[0], w[4], w[5], w[6], w[7])
}

fn battery_power(c: &mut Context) -> i16 {
    read(c, 842, 1).unwrap()[0] as i16
}

#[test]
fn the_default_gx_is_v370_on_the_new_map_with_a_5_ms_apply_delay() {
    let sim = GxSim::start().unwrap();
    {
        let s = sim.state();
        assert_eq!((s.firmware, s.map), (Firmware::V370, SlotMap::New));
        assert_eq!(s.apply_delay, Duration::from_millis(5));
        assert_eq!(s.clock, None, "the wall clock");
    }
    assert_eq!(Firmware::V350.default_map(), SlotMap::Old);
    assert_eq!(Firmware::V360.default_map(), SlotMap::Old);
    assert_eq!(Firmware::V370.default_map(), SlotMap::Old);
    assert_eq!(Firmware::V380.default_map(), SlotMap::New);
    assert_eq!(Firmware::parse("3.60"), Some(Firmware::V360));
    assert_eq!(Firmware::parse("v3.80"), Some(Firmware::V380));
    assert_eq!(Firmware::parse("3.90"), None);
    assert_eq!(SlotMap::parse("old"), Some(SlotMap::Old));
    assert_eq!(SlotMap::parse("new"), Some(SlotMap::New));
    assert_eq!(SlotMap::parse("newest"), None);
    let sim = GxSim::start_line(Firmware::V370, Some(SlotMap::New)).unwrap();
    assert_eq!(sim.state().map, SlotMap::New, "an explicit map wins");
}

#[test]
fn the_old_map_has_strategy_at_5429_for_a_request_that_starts_there() {
    for firmware in [Firmware::V350, Firmware::V360, Firmware::V370] {
        let sim = GxSim::start_line(firmware, None).unwrap();
        assert_eq!(sim.state().map, SlotMap::Old);
        let mut c = connect(&sim, GX);
        // 5430 does not exist: any request that includes it answers 02.
        assert_eq!(read(&mut c, 5430, 1), NOT_THERE);
        assert_eq!(read(&mut c, 5420, 11), NOT_THERE);
        assert_eq!(read(&mut c, 5429, 2), NOT_THERE);
        assert_eq!(write1(&mut c, 5430, 0), ADDRESS);
        // FC16 5424-5430: 02, nothing written.
        assert_eq!(
            write(&mut c, 5424, &[1, 3600, 2, 1, 0x6A00, 0x1234, 0]),
            ADDRESS
        );
        settle(&sim);
        {
            let s = sim.state();
            assert_eq!(s.slot(), [0; 7], "{firmware:?}: nothing written");
            assert_eq!(s.write_requests, 0);
            assert!(s.pending.is_empty());
        }
        // FC06 5429 sets Strategy, leaving Start alone.
        sim.state().set(GX, 5429, 0x5555);
        assert_eq!(write1(&mut c, 5429, 1), Ok(()));
        settle(&sim);
        assert_eq!(sim.state().slot()[5..], [0x5555, 1], "{firmware:?}");
        // FC16 5424-5429 writes the slot without Strategy.
        let slot = [1, 3600, 2, 1, 0x6A00, 0x1234];
        assert_eq!(write(&mut c, 5424, &slot), Ok(()));
        settle(&sim);
        assert_eq!(sim.state().slot(), [1, 3600, 2, 1, 0x6A00, 0x1234, 1]);
        // Read 5429 alone: Strategy. Read 5428-5429, 5424-5429, 5420-5429: Start's low word.
        assert_eq!(read(&mut c, 5429, 1), Ok(vec![1]));
        assert_eq!(read(&mut c, 5428, 2), Ok(vec![0x6A00, 0x1234]));
        assert_eq!(read(&mut c, 5424, 6), Ok(slot.to_vec()));
        assert_eq!(read(&mut c, 5420, 10).unwrap()[4..], slot);
        // A lone FC16 at 5429 is Strategy too.
        assert_eq!(write(&mut c, 5429, &[0]), Ok(()));
        settle(&sim);
        assert_eq!(sim.state().slot()[5..], [0x1234, 0]);
        assert_eq!(write(&mut c, 5429, &[0, 0]), ADDRESS, "5429-5430");
    }
}

#[test]
fn the_new_map_has_strategy_at_5430() {
    for (firmware, map) in [(Firmware::V380, None), (Firmware::V370, Some(SlotMap::New))] {
        let sim = GxSim::start_line(firmware, map).unwrap();
        assert_eq!(sim.state().map, SlotMap::New);
        let mut c = connect(&sim, GX);
        let slot = [1, 3600, 2, 1, 0x6A00, 0x1234, 1];
        assert_eq!(write(&mut c, 5424, &slot), Ok(()));
        settle(&sim);
        assert_eq!(sim.state().slot(), slot);
        assert_eq!(read(&mut c, 5430, 1), Ok(vec![1]));
        assert_eq!(read(&mut c, 5420, 11).unwrap()[4..], slot);
        assert_eq!(read(&mut c, 5429, 1), Ok(vec![0x1234]), "Start's low word");
        // FC06 5429 is Start's low word: it corrupts Start, Strategy stays.
        assert_eq!(write1(&mut c, 5429, 0), Ok(()));
        assert_eq!(write1(&mut c, 5430, 0), Ok(()));
        settle(&sim);
        assert_eq!(sim.state().slot()[4..], [0x6A00, 0, 0]);
        assert_eq!(read(&mut c, 5431, 1), NOT_THERE);
    }
}

#[test]
fn a_write_is_acknowledged_at_once_and_applied_after_the_delay() {
    let sim = GxSim::start().unwrap();
    sim.state().apply_delay = Duration::from_millis(300);
    let mut c = connect(&sim, GX);
    let written = Instant::now();
    assert_eq!(write1(&mut c, 2901, 250), Ok(()));
    assert_eq!(
        read(&mut c, 2901, 1),
        Ok(vec![100]),
        "a read straight after: the old value"
    );
    assert_eq!(sim.state().get(GX, 2901), 100);
    assert_eq!(sim.state().pending.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut value = 100;
    while value != 250 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        value = read(&mut c, 2901, 1).unwrap()[0];
    }
    assert_eq!(value, 250, "the new value after the delay");
    assert!(written.elapsed() >= Duration::from_millis(300));
    assert!(sim.state().pending.is_empty());

    // The default delay: a poll sees the value within a few milliseconds; settle() waits.
    let sim = GxSim::start().unwrap();
    let mut c = connect(&sim, GX);
    let written = Instant::now();
    assert_eq!(write(&mut c, 5424, &[1, 60, 2, 1, 0, 1, 0]), Ok(()));
    while read(&mut c, 5427, 1).unwrap() != [1] {
        assert!(written.elapsed() < Duration::from_secs(2), "never applied");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(written.elapsed() >= Duration::from_millis(5));
    assert_eq!(write1(&mut c, 5427, 2), Ok(()));
    settle(&sim);
    assert_eq!(sim.state().get(GX, 5427), 2);

    // Writes apply in order; an apply delay of 0 applies at once.
    sim.state().apply_delay = Duration::ZERO;
    for v in [10, 20, 30] {
        assert_eq!(write1(&mut c, 5427, v), Ok(()));
    }
    assert_eq!(read(&mut c, 5427, 1), Ok(vec![30]));
}

#[test]
fn fc16_is_not_atomic_an_out_of_range_register_is_dropped_alone() {
    let sim = GxSim::start().unwrap();
    let mut c = connect(&sim, GX);
    // Soc 150 is out of range: acknowledged, dropped; the rest of the slot lands.
    assert_eq!(
        write(&mut c, 5424, &[1, 3600, 2, 150, 0x6A00, 0x1234, 0]),
        Ok(())
    );
    settle(&sim);
    assert_eq!(sim.state().slot(), [1, 3600, 2, 0, 0x6A00, 0x1234, 0]);
    // Restrictions 4 and feed-in 2 dropped alone too; the int32 Start lands whole.
    assert_eq!(
        write(&mut c, 5424, &[2, 60, 4, 50, 0x6B00, 0x0001, 1]),
        Ok(())
    );
    settle(&sim);
    assert_eq!(sim.state().slot(), [1, 60, 2, 50, 0x6B00, 0x0001, 1]);
    // 5420-5423 in one FC16: capacity 0 is out of range, the mode lands.
    assert_eq!(write(&mut c, 5420, &[0, 0, 0, 4]), Ok(()));
    settle(&sim);
    assert_eq!(sim.state().get(GX, 5423), 4);
    // The same on the old map.
    let sim = GxSim::start_line(Firmware::V370, None).unwrap();
    let mut c = connect(&sim, GX);
    assert_eq!(
        write(&mut c, 5424, &[1, 3600, 2, 101, 0x6A00, 0x1234]),
        Ok(())
    );
    settle(&sim);
    assert_eq!(sim.state().slot(), [1, 3600, 2, 0, 0x6A00, 0x1234, 0]);
    // A drop-writes fault drops everything.
    sim.state().fault = gx::Fault::DropWrites;
    assert_eq!(write(&mut c, 5424, &[0, 60, 1, 80, 0, 1]), Ok(()));
    settle(&sim);
    assert_eq!(sim.state().slot(), [1, 3600, 2, 0, 0x6A00, 0x1234, 0]);
    assert_eq!(sim.state().write_requests, 2, "both acknowledged");
}

#[test]
fn the_charger_reacts_when_the_write_applies() {
    let sim = GxSim::start().unwrap();
    sim.state().apply_delay = Duration::from_millis(200);
    let mut ev = connect(&sim, EV);
    assert_eq!(write1(&mut ev, 3815, 0), Ok(()));
    assert_eq!(write1(&mut ev, 3825, 6), Ok(()));
    assert_eq!(write1(&mut ev, 3826, 1), Ok(()));
    assert_eq!(
        read(&mut ev, 3824, 1),
        Ok(vec![1]),
        "still connected, not charging"
    );
    settle(&sim);
    assert_eq!(
        read(&mut ev, 3821, 4),
        Ok(vec![1380, 0, 0, 2]),
        "charging at 6 A"
    );
    assert_eq!(sim.state().get(GX, 817), 350 + 1380);
}

#[test]
fn firmware_version_and_clock_on_each_line() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        let mut c = connect(&sim, GX);
        if firmware == Firmware::V350 {
            // The server before v1.0.82 has neither: 830-835 answer 02.
            for a in 830..=835 {
                assert_eq!(read(&mut c, a, 1), NOT_THERE, "{a}");
            }
            assert_eq!(read(&mut c, 817, 30), NOT_THERE);
            assert!(read(&mut c, 817, 13).is_ok(), "817-829");
            assert!(read(&mut c, 836, 11).is_ok(), "836-846");
            continue;
        }
        let version = firmware_version_word(firmware);
        assert_eq!(
            read(&mut c, 834, 2),
            Ok(vec![(version >> 16) as u16, version as u16]),
            "{firmware:?}"
        );
        let words = read(&mut c, 830, 4).unwrap();
        let clock = words.iter().fold(0u64, |t, w| (t << 16) | u64::from(*w)) as i64;
        assert!(
            (clock - now_unix()).abs() <= 5,
            "{firmware:?}: clock {clock}"
        );
        sim.state().clock = Some(0x0001_0002_0003_0004);
        assert_eq!(
            read(&mut c, 830, 4),
            Ok(vec![1, 2, 3, 4]),
            "uint64, high word first"
        );
        assert!(read(&mut c, 817, 30).is_ok(), "817-846 in one read");
    }
    assert_eq!(firmware_version_word(Firmware::V360), 0x0003_6000);
    assert_eq!(firmware_version_word(Firmware::V370), 0x0003_7000);
    assert_eq!(firmware_version_word(Firmware::V380), 0x0003_8000);
}

#[test]
fn reserved_addresses_read_ffff_and_paths_without_a_value_read_0() {
    for map in [SlotMap::Old, SlotMap::New] {
        let sim = GxSim::start_line(Firmware::V370, Some(map)).unwrap();
        let mut c = connect(&sim, GX);
        let words = read(&mut c, 817, 30).unwrap();
        assert_eq!(words[827 - 817..830 - 817], [0xFFFF; 3], "{map:?}");
        assert_eq!(words[836 - 817..840 - 817], [0xFFFF; 4], "{map:?}");
        assert_eq!(words[840 - 817], 0, "battery voltage: no value");
        assert_eq!(words[843 - 817], 64, "SoC");
        assert_eq!(read(&mut c, 836, 1), Ok(vec![0xFFFF]));
        assert_eq!(write1(&mut c, 836, 0), ADDRESS, "reserved takes no write");
        assert_eq!(write1(&mut c, 843, 50), ADDRESS, "read-only");
        assert_eq!(write1(&mut c, 2903, 50), ADDRESS, "read-only");
        // 847-849: reserved on the new map, a hole on the venus-3.7x line.
        let expected = match map {
            SlotMap::New => Ok(vec![0xFFFF; 3]),
            SlotMap::Old => Err(ExceptionCode::IllegalDataAddress),
        };
        assert_eq!(read(&mut c, 847, 3), expected, "{map:?}");
        // Bad quantities, an evcharger address on unit 100, a unit with no service.
        assert_eq!(read(&mut c, 817, 0), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(read(&mut c, 800, 126), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(
            read(&mut c, 3815, 1),
            Err(ExceptionCode::GatewayPathUnavailable)
        );
        let mut nobody = connect(&sim, 99);
        assert_eq!(
            read(&mut nobody, 817, 1),
            Err(ExceptionCode::GatewayPathUnavailable)
        );
    }
}

#[test]
fn dess_mode_3_to_4_stays_off_and_0_to_4_runs() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        hold_slot(&sim, 0, 1, 80, 0);
        let mut c = connect(&sim, GX);
        assert_eq!(dess(&mut c).0, 1, "{firmware:?}: 0 → 4 runs");
        for (mode, active) in [
            (3, 0),
            (4, 0),
            (1, 0),
            (0, 0),
            (4, 1),
            (1, 1),
            (4, 1),
            (2, 0),
        ] {
            assert_eq!(write1(&mut c, 5423, mode), Ok(()));
            settle(&sim);
            assert_eq!(dess(&mut c).0, active, "{firmware:?}: mode {mode}");
            assert_eq!(sim.state().dess_running, active == 1);
        }
        // v3.80 reports 6 (disabled) when the mode is 0.
        assert_eq!(write1(&mut c, 5423, 0), Ok(()));
        settle(&sim);
        let error = if firmware == Firmware::V380 { 6 } else { 0 };
        assert_eq!(dess(&mut c).1, error, "{firmware:?}");
    }
    // A GX started in mode 4 or 1 runs; in 3 it does not.
    for (mode, running) in [(4, true), (1, true), (3, false), (0, false)] {
        let mut unit = gx::gx_unit();
        unit.values.insert(5423, mode);
        let sim = GxSim::start_with([(GX, unit)].into_iter().collect(), 0).unwrap();
        assert_eq!(sim.state().dess_running, running, "mode {mode}");
    }
}

#[test]
fn v350_drops_strategy_2_and_3() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        let mut c = connect(&sim, GX);
        let strategy = match firmware.default_map() {
            SlotMap::Old => 5429,
            SlotMap::New => 5430,
        };
        for v in [2, 3, 1, 4] {
            assert_eq!(write1(&mut c, strategy, v), Ok(()), "acknowledged");
            settle(&sim);
            let expected = match (firmware, v) {
                (_, 4) => 1,
                (Firmware::V350, 2 | 3) => 0,
                _ => v,
            };
            assert_eq!(sim.state().slot()[6], expected, "{firmware:?}: {v}");
        }
    }
}

#[test]
fn a_stale_target_soc_wins_only_from_v370() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        hold_slot(&sim, 0, 1, 80, 0);
        sim.state().stale_target_soc = Some(100);
        let mut c = connect(&sim, GX);
        let target = if firmware >= Firmware::V370 { 100 } else { 80 };
        assert_eq!(dess(&mut c), (1, 0, 1, 0, target), "{firmware:?}");
    }
}

#[test]
fn soc_0_is_a_target_only_before_v370() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        // A drain slot to 0 %, minimum SoC 0.
        hold_slot(&sim, 1, 2, 0, 0);
        sim.state().set(GX, 2901, 0);
        let mut c = connect(&sim, GX);
        let power = battery_power(&mut c);
        if firmware >= Firmware::V370 {
            // Not a target: self-consumption inside the window, the battery feeds the loads.
            assert_eq!(dess(&mut c), (1, 0, 2, 1, 0), "{firmware:?}");
            assert_eq!(power, -400, "{firmware:?}");
        } else {
            // A target: a scheduled discharge to 0 % over the hour left, about 6.4 kW.
            assert_eq!(dess(&mut c), (1, 0, 2, 0, 0), "{firmware:?}");
            assert!((-6500..=-6300).contains(&power), "{firmware:?}: {power}");
        }
        // 1 % is a target on every line.
        sim.state().set(GX, 5427, 1);
        assert_eq!(dess(&mut c), (1, 0, 2, 0, 1), "{firmware:?}");
        assert!(battery_power(&mut c) < -6000, "{firmware:?}");
    }
}

#[test]
fn a_global_restriction_adds_to_the_slot_only_before_v370() {
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        hold_slot(&sim, 1, 2, 1, 0);
        sim.state().set(GX, 2901, 0);
        sim.state().global_restrictions = 1;
        let mut c = connect(&sim, GX);
        let (active, _, restrictions, _, _) = dess(&mut c);
        let power = battery_power(&mut c);
        if firmware >= Firmware::V370 {
            assert_eq!((active, restrictions), (1, 2), "{firmware:?}");
            assert!(power < -6000, "{firmware:?}: a drain, {power}");
        } else {
            // Battery → grid blocked by the global setting: no export, the battery feeds the loads.
            assert_eq!((active, restrictions), (1, 3), "{firmware:?}");
            assert_eq!(power, -400, "{firmware:?}");
        }
    }
}

#[test]
fn batterylife_keeps_the_active_soc_limit_at_10_percent_or_more() {
    let sim = GxSim::start().unwrap();
    let mut c = connect(&sim, GX);
    for (state, minimum, limit) in [
        (10, 0, 0),
        (10, 250, 250),
        (11, 50, 50),
        (12, 100, 100),
        (1, 0, 100),
        (2, 50, 100),
        (8, 250, 250),
    ] {
        assert_eq!(write(&mut c, 2900, &[state, minimum]), Ok(()));
        settle(&sim);
        assert_eq!(
            read(&mut c, 2900, 4).unwrap(),
            [state, minimum, 1, limit],
            "2900 = {state}, 2901 = {minimum}"
        );
    }
    // A drain slot at 8 % SoC with 2901 = 0: it discharges without BatteryLife, and stops at
    // BatteryLife's 10 % with it.
    hold_slot(&sim, 1, 2, 1, 0);
    sim.state().set(GX, 843, 8);
    assert_eq!(write(&mut c, 2900, &[10, 0]), Ok(()));
    settle(&sim);
    assert!(battery_power(&mut c) < -500, "drains toward 1 %");
    assert_eq!(write1(&mut c, 2900, 1), Ok(()));
    settle(&sim);
    assert_eq!(battery_power(&mut c), 0, "stopped at the 10 % limit");
    assert_eq!(read(&mut c, 2903, 1), Ok(vec![100]));
    // Nor does plain self-consumption take the SoC below it.
    sim.state().set(GX, 5423, 0);
    assert_eq!(battery_power(&mut c), 0);
    sim.state().set(GX, 843, 30);
    assert_eq!(battery_power(&mut c), -400);
}

#[test]
fn v380_compares_slot_0_on_utc_the_others_on_the_wall_clock() {
    // A Hobart spring-forward night: 21:00 AEST + 10 h of Duration. On the wall clock the
    // window ends at 07:00 AEDT; in elapsed time at 08:00 AEDT. At 07:30 only v3.80 holds it.
    let hobart = chrono_tz::Australia::Hobart;
    let start = hobart
        .with_ymd_and_hms(2026, 10, 3, 21, 0, 0)
        .unwrap()
        .timestamp();
    let at = hobart
        .with_ymd_and_hms(2026, 10, 4, 7, 30, 0)
        .unwrap()
        .timestamp();
    assert_eq!(at - start, 9 * 3600 + 1800, "a DST night: 9.5 h elapsed");
    for firmware in Firmware::ALL {
        let sim = GxSim::start_line(firmware, None).unwrap();
        hold_slot(&sim, 0, 1, 80, 0);
        {
            let mut s = sim.state();
            s.timezone = hobart;
            s.clock = Some(at);
            s.set(GX, 5425, 36_000);
            s.set(GX, 5428, (start >> 16) as u16);
            s.set(GX, 5429, start as u16);
        }
        let mut c = connect(&sim, GX);
        let expected = if firmware == Firmware::V380 {
            (1, 0)
        } else {
            (0, 3)
        };
        let (active, error, ..) = dess(&mut c);
        assert_eq!((active, error), expected, "{firmware:?}");
        // Half an hour earlier both hold it.
        sim.state().clock = Some(at - 3600);
        assert_eq!(dess(&mut c).0, 1, "{firmware:?}");
    }
    let check = DateTime::from_timestamp(start, 0).unwrap();
    assert_eq!(check.to_rfc3339(), "2026-10-03T11:00:00+00:00");
}

/// One row of Victron's register list: the address range it covers, whether it is reserved,
/// its access.
struct Row {
    first: u16,
    words: u16,
    reserved: bool,
    writable: bool,
}

/// `attributes-<version>.csv`: in the repository's `tests/victron/`, or in the shared
/// reference beside the repository. Neither present is a failure, never a silent pass.
fn victron_list(version: &str) -> Vec<Row> {
    let name = format!("attributes-{version}.csv");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("tests/victron").join(&name),
        manifest.join("../shared/reference/victron").join(&name),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        panic!(
            "Victron's register list {name} is missing: looked for {} and {}",
            candidates[0].display(),
            candidates[1].display()
        );
    };
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            // service,path,dbus type,description,address,register type,scale,access; the
            // description may hold commas, so the last four are taken from the right.
            let fields: Vec<&str> = line.split(',').collect();
            assert!(fields.len() >= 8, "{}: short row {line}", path.display());
            let (service, dbus_path) = (fields[0], fields[1]);
            if !matches!(
                service,
                "com.victronenergy.system" | "com.victronenergy.settings"
            ) {
                return None;
            }
            let n = fields.len();
            let (address, kind, access) = (fields[n - 4], fields[n - 3], fields[n - 1]);
            let first: u16 = address.trim().parse().unwrap_or_else(|_| panic!("{line}"));
            let sized = kind
                .split_once('[')
                .and_then(|(_, rest)| rest.trim_end_matches(']').parse().ok());
            let words = match (kind, sized, dbus_path) {
                (_, Some(n), _) => n,
                ("int32" | "uint32", ..) => 2,
                // The older lists give no size for the server's own values.
                (_, None, "/DateAndTime") => 4,
                (_, None, "/FirmwareVersion") => 2,
                _ => 1,
            };
            Some(Row {
                first,
                words,
                reserved: dbus_path == "RESERVED",
                writable: access.trim() == "W",
            })
        })
        .collect();
    assert!(rows.len() > 50, "{}: too few unit-100 rows", path.display());
    rows
}

/// Each address of `ranges` on the simulator's unit 100 against the list: one it lacks
/// answers 02, a reserved one reads 0xFFFF, a read-only one refuses a write, a writable one
/// takes its own value back.
fn compare(sim: &GxSim, rows: &[Row], ranges: &[(u16, u16)], what: &str) {
    let mut c = connect(sim, GX);
    for &(from, to) in ranges {
        for a in from..=to {
            let row = rows.iter().find(|r| r.first <= a && a < r.first + r.words);
            let got = read(&mut c, a, 1);
            match row {
                None => assert_eq!(
                    got,
                    Err(ExceptionCode::IllegalDataAddress),
                    "{what}: {a} is not on Victron's list"
                ),
                Some(row) => {
                    let value = got.unwrap_or_else(|e| panic!("{what}: {a} answers {e:?}"))[0];
                    if row.reserved {
                        assert_eq!(value, 0xFFFF, "{what}: {a} is reserved");
                    }
                    let written = write1(&mut c, a, value);
                    if row.writable {
                        assert_eq!(written, Ok(()), "{what}: {a} is writable");
                    } else {
                        assert_eq!(written, ADDRESS, "{what}: {a} is read-only");
                    }
                }
            }
        }
    }
    assert!(sim.settle());
}

#[test]
fn served_addresses_match_victrons_register_lists() {
    let ranges = [(5395, 5435), (2895, 2905), (817, 846)];
    let old = victron_list("v1.0.95");
    let new = victron_list("v1.0.101");
    for firmware in [Firmware::V360, Firmware::V370] {
        let sim = GxSim::start_line(firmware, None).unwrap();
        compare(&sim, &old, &ranges, &format!("{firmware:?}, old map"));
    }
    // v3.50's server predates 830-835; the rest is the old map's.
    let sim = GxSim::start_line(Firmware::V350, None).unwrap();
    compare(
        &sim,
        &old,
        &[(5395, 5435), (2895, 2905), (817, 829), (836, 846)],
        "V350, old map",
    );
    for (firmware, map) in [(Firmware::V380, None), (Firmware::V370, Some(SlotMap::New))] {
        let sim = GxSim::start_line(firmware, map).unwrap();
        compare(&sim, &new, &ranges, &format!("{firmware:?}, new map"));
    }
    // The two lists differ exactly at 5430, and both have 834-835.
    let has = |rows: &[Row], a: u16| rows.iter().any(|r| r.first <= a && a < r.first + r.words);
    assert!(!has(&old, 5430) && has(&new, 5430));
    assert!(has(&old, 834) && has(&old, 835) && has(&new, 834) && has(&new, 835));
}
