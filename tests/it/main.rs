//! The integration tests, one binary: the real `zcell-scheduler` against the simulators on
//! loopback, the install scripts, the register lists and the source's shape. One binary links
//! the crate and the simulators once instead of once per file.

mod testenv;

mod apply;
mod architecture;
mod drain;
mod evkick;
mod faults;
mod first_run;
mod golden;
mod gx_lines;
mod handback_bms;
mod json;
mod month_table;
mod properties;
mod registers;
mod release;
mod scripts;
mod sim_gx;
mod simulate;
mod status_check;
