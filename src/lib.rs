//! Maintenance-aware charge scheduling for a Redflow ZCell flow battery on a Victron GX.
//!
//! The crate is a pure core with a thin shell around it; `tests/it/architecture.rs` holds the
//! two lists and checks that no pure module imports the shell.
//!
//! The core, plain functions from typed inputs to a decision:
//! - [`plan`]: the scheduling rules, from (config, instant, BMS reading) to a plan;
//! - [`decide`]: plan → drain forecast → drain slot → warnings, the chain every command uses;
//! - [`drain`]: the maintenance drain's forecast; [`follow`]: whether the GX follows slot 0;
//! - [`writes`]: the register writes that make the GX hold a plan, and why a GX is refused;
//! - [`handback`]: what the GX held before the tool changed it, and the writes that give it back;
//! - [`clock`], [`sun`], [`cron`]: wall-clock windows as instants, daylight, the cron block;
//! - [`simulate`] and [`scenarios`]: the rules run over days of a battery model;
//! - [`config`]: the TOML configuration, one file per section; [`exit_codes`], [`serial`];
//! - the device codecs: [`victron`] and [`registers`] (the GX), [`redflow`] (the BMS),
//!   `ev::codec` (the charging station); `ev::rules`: the `ev-kick` decision.
//!
//! The shell:
//! - [`bms`]: the BMS over HTTP (ureq); [`modbus`] and [`gx`]: the GX over Modbus-TCP
//!   (tokio-modbus); `ev::charger`; [`net`]: name lookups with a deadline;
//! - [`lock`], [`config_file`], [`handback_file`], `ev::state`, [`json_file`]: the files;
//! - [`commands`]: one module per command, each owning gather → decide → report → text
//!   (`ev-kick` lives whole in [`ev`]); [`output`]: what every report shares; [`cli`].

pub mod bms;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod config_file;
pub mod cron;
pub mod decide;
pub mod drain;
pub mod ev;
pub mod exit_codes;
pub mod follow;
pub mod gx;
pub mod handback;
pub mod handback_file;
pub mod json_file;
pub mod lock;
pub mod modbus;
pub mod net;
pub mod output;
pub mod plan;
pub mod redflow;
pub mod registers;
pub mod scenarios;
pub mod serial;
pub mod simulate;
pub mod sun;
pub mod victron;
pub mod writes;

/// Helpers shared by the unit tests of the pure core.
#[cfg(test)]
mod testing {
    use chrono::{DateTime, NaiveDate, Utc};

    use crate::config::{Config, Overrides};

    /// A valid config in Hobart with loopback devices, and `extra` appended.
    pub fn config(extra: &str) -> Config {
        Config::parse(
            &format!(
                "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:1\"\n[gx]\nhost = \"127.0.0.1\"\n{extra}"
            ),
            &Overrides::default(),
        )
        .unwrap()
    }

    /// A GX as the tool leaves it on a normal day: ESS optimized without BatteryLife, minimum
    /// SoC 10 %, capacity 10 kWh, Dynamic ESS external, slot 0 empty, on the new map.
    pub fn gx_settings() -> crate::victron::GxSettings {
        use crate::victron::{EssState, Hub4Mode, SlotMap, SlotRegs};
        crate::victron::GxSettings {
            map: SlotMap::New,
            ess_state: EssState(10),
            min_soc_raw: 100,
            hub4_mode: Hub4Mode(1),
            soc_limit_raw: 100,
            capacity_raw: 100,
            dess_mode: 4,
            slot: SlotRegs::default(),
        }
    }

    /// The plan at `now` for one battery at 60 % whose maintenance is due at `due`.
    pub fn plan_at(
        c: &Config,
        now: DateTime<Utc>,
        due: DateTime<Utc>,
        stripping: bool,
    ) -> crate::plan::Plan {
        let b = crate::redflow::Battery {
            state_of_charge: 60.0,
            is_stripping: stripping,
            strip_pump_run_target: 259_200,
            strip_pump_run_timer: 259_200 - (due - now).num_seconds(),
        };
        crate::plan::plan(c, now, &crate::redflow::BmsReading { batteries: vec![b] })
    }

    /// The drain forecast's readings: the battery at `soc` %, `load` W on L1, no EV, no PV.
    pub fn readings(soc: f64, load: u16) -> crate::drain::Readings {
        crate::drain::Readings {
            battery_soc: soc,
            ac_loads_w: [load, 0, 0],
            charger: None,
            pv_w: None,
        }
    }

    /// The instant of a Hobart wall-clock time.
    pub fn hobart(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::clock::to_instant(
            chrono_tz::Australia::Hobart,
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }
}
