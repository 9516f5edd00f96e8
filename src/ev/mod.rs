//! The EV feature: during a maintenance discharge, charge the car from the battery.
//!
//! - [`rules`]: the pure decision (start, keep, stop, stand down);
//! - [`codec`]: the station's codes and the writes that carry a decision out;
//! - [`charger`]: the charger and the site's loads over Modbus, through the GX or the station;
//! - [`state`]: the state file that remembers a kick between runs;
//! - [`kick`]: the `ev-kick` command (gather, decide, act, report, text);
//! - [`parts`]: the charger and the record as `status` and `ev-kick` show them.

pub mod charger;
pub mod codec;
pub mod kick;
pub mod parts;
pub mod rules;
pub mod state;
