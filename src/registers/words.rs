//! Register values as the core passes them around: a write request, the words a read
//! returned, and a register that did not keep what was written. No I/O here.

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;

use super::{Register, raw_at};

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
        raw_at(&self.words(r.address, r.kind.words())?, r.address, r)
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

/// One register that did not hold what was written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The register as the GX maps it in that request, or `None` outside the map.
    pub register: Option<Register>,
    pub address: u16,
    pub written: i64,
    /// `None` when the device did not return it.
    pub read: Option<i64>,
}
