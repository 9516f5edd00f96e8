//! The tool's register map against Victron's own register lists (`tests/victron/`, verbatim
//! copies of `attributes.csv` from `dbus_modbustcp` for the old and the new slot-0 map): every
//! register's address, path, type, scale and access, and every block the tool reads whole.

use zcell_scheduler::registers::{self as reg, Access, Kind, Register};

/// One row of `attributes.csv`.
#[derive(Debug)]
struct Row {
    service: String,
    path: String,
    address: u16,
    kind: String,
    scale: String,
    access: String,
}

impl Row {
    /// How many registers the row covers.
    fn words(&self) -> u16 {
        let sized = |prefix: &str| {
            self.kind
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
        };
        match self.kind.as_str() {
            "uint16" | "int16" => 1,
            "uint32" | "int32" => 2,
            // The old lists give the GX clock (uint64) and firmware version (uint32) no size.
            "INTERNAL" if self.address == 830 => 4,
            "INTERNAL" => 2,
            _ => ["reserved", "string", "INTERNAL"]
                .iter()
                .find_map(|p| sized(p))
                .unwrap_or_else(|| panic!("unknown register type {:?}", self)),
        }
    }
}

/// The lists, by file name: the old map (v1.0.95 and the venus-3.7x line) and the new one.
const OLD_MAPS: [&str; 2] = [
    "attributes-v1.0.95.csv",
    "attributes-venus-3.7x-0e82e0d.csv",
];
const NEW_MAP: &str = "attributes-v1.0.101.csv";

fn rows(file: &str) -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/victron")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("Victron's register list {} is missing: {e}", path.display()));
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 8, "{file}: {line}");
            Row {
                service: f[0].to_string(),
                path: f[1].to_string(),
                address: f[4].parse().unwrap_or_else(|_| panic!("{file}: {line}")),
                kind: f[5].to_string(),
                scale: f[6].to_string(),
                access: f[7].to_string(),
            }
        })
        .collect();
    assert!(rows.len() > 900, "{file}: only {} rows", rows.len());
    rows
}

/// The registers the GX serves (the EVCS's own 50xx registers are not in these lists).
fn gx_registers(old_map: bool) -> Vec<Register> {
    reg::ALL
        .into_iter()
        .filter(|r| r.path.starts_with('/'))
        .filter(|r| {
            if old_map {
                *r != reg::SLOT_STRATEGY
            } else {
                *r != reg::SLOT_STRATEGY_OLD_MAP
            }
        })
        .collect()
}

fn check_register(file: &str, rows: &[Row], r: &Register) {
    let row = rows
        .iter()
        .find(|row| row.address == r.address && !row.path.starts_with("RESERVED"))
        .unwrap_or_else(|| panic!("{file}: no register at {} ({})", r.address, r.name));
    assert_eq!(row.path, r.path, "{file}: path of {}", r.address);
    let kind = match r.kind {
        Kind::U16 => "uint16",
        Kind::I16 => "int16",
        Kind::I32 => "int32",
        Kind::U32 => "uint32",
    };
    let internal = row.kind.starts_with("INTERNAL") && r.kind == Kind::U32;
    assert!(
        row.kind == kind || internal,
        "{file}: type of {}: {} vs {kind}",
        r.address,
        row.kind
    );
    assert_eq!(
        row.words(),
        r.kind.words(),
        "{file}: width of {}",
        r.address
    );
    assert_eq!(
        row.scale,
        r.scale.to_string(),
        "{file}: scale of {}",
        r.address
    );
    let access = match r.access {
        Access::Read => "R",
        Access::Write => "W",
    };
    assert_eq!(row.access, access, "{file}: access of {}", r.address);
}

#[test]
fn every_register_matches_victrons_lists_on_both_maps() {
    for file in OLD_MAPS {
        let rows = rows(file);
        for r in gx_registers(true) {
            check_register(file, &rows, &r);
        }
        // The old map has no 5430.
        assert!(rows.iter().all(|row| row.address != 5430), "{file}");
    }
    let rows = rows(NEW_MAP);
    for r in gx_registers(false) {
        check_register(NEW_MAP, &rows, &r);
    }
}

/// Whether every address of `first..=last` is served by `service` in `rows`.
fn served(rows: &[Row], services: &[&str], first: u16, last: u16) -> Result<(), u16> {
    for a in first..=last {
        let covered = rows.iter().any(|row| {
            services.contains(&row.service.as_str())
                && row.address <= a
                && a < row.address + row.words()
        });
        if !covered {
            return Err(a);
        }
    }
    Ok(())
}

#[test]
fn every_block_read_whole_is_served_whole_on_every_map() {
    for file in OLD_MAPS.into_iter().chain([NEW_MAP]) {
        let rows = rows(file);
        for b in reg::BLOCKS {
            let services: &[&str] = match b.first {
                3800..=3899 => &["com.victronenergy.evcharger"],
                5009..=5018 => continue, // the EVCS's own server, not the GX's
                _ => &["com.victronenergy.system", "com.victronenergy.settings"],
            };
            assert_eq!(
                served(&rows, services, b.first, b.last),
                Ok(()),
                "{file}: block {}-{} has a hole",
                b.first,
                b.last
            );
        }
        // The system read the tool tries first where the server has the firmware version.
        assert_eq!(
            served(
                &rows,
                &["com.victronenergy.system"],
                reg::AC_CONSUMPTION_L1.address,
                846
            ),
            Ok(()),
            "{file}"
        );
    }
    // 3828-3847 are not on the venus-3.7x line: no block may reach them.
    assert!(
        reg::BLOCKS
            .iter()
            .all(|b| !(b.first..=b.last).contains(&3828))
    );
}
