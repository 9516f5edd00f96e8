//! The EV feature: during a maintenance discharge, charge the car from the battery.
//!
//! - [`rules`]: the pure decision (start, keep, stop, stand down) and the charger writes;
//! - [`charger`]: the charger and the site's loads over Modbus, through the GX or the station;
//! - [`state`]: the state file that remembers a kick between runs.

pub mod charger;
pub mod rules;
pub mod state;
