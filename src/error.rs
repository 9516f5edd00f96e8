//! Exit codes: part of the command-line contract, so cron wrappers and scripts can act on them.

/// What a run ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(into = "u8")]
pub enum Exit {
    /// Done, including "nothing to change".
    Ok = 0,
    /// The lock was held for 30 s, or an unexpected internal error.
    Internal = 1,
    /// Usage or config error; nothing was touched.
    Usage = 2,
    /// The BMS was unreachable or its answer unusable; the safe state was applied if possible.
    Bms = 3,
    /// The GX (or EV charger) was unreachable, refused, or not in a state that can be scheduled.
    Device = 4,
    /// A write did not read back as written.
    ReadBack = 5,
}

impl From<Exit> for u8 {
    fn from(e: Exit) -> u8 {
        e as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
