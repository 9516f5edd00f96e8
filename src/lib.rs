//! Maintenance-aware charge scheduling for a Redflow ZCell flow battery on a Victron GX.
//!
//! The crate is a pure core with a thin shell around it:
//!
//! - [`config`]: the TOML configuration, validated;
//! - [`clock`]: wall-clock windows in the configured zone, turned into instants;
//! - [`plan`]: the scheduling rules, a pure function of (config, instant, BMS reading);
//! - [`writes`]: the register writes that make the GX hold a plan, given what it holds now;
//! - [`evkick`]: `ev-kick`'s rules, a pure function of (config, BMS, loads, charger, record);
//!   [`kickstate`]: its state file; [`charger`]: the EV charger and site loads over Modbus;
//! - [`registers`]: the Modbus register map, as data;
//! - [`bms`]: the Redflow BMS over HTTP ([`http`]: one small GET); [`modbus`] and [`gx`]: the GX over Modbus-TCP;
//! - [`lock`]: one writing run at a time;
//! - [`render`]: human and JSON output; [`app`]: the commands; [`cli`]: the command line.

pub mod app;
pub mod bms;
pub mod charger;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod evkick;
pub mod gx;
pub mod http;
pub mod kickstate;
pub mod lock;
pub mod modbus;
pub mod net;
pub mod plan;
pub mod registers;
pub mod render;
pub mod writes;
