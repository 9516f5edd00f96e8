//! Exit codes: part of the command-line contract, so cron wrappers and scripts can act on them.

/// What a run ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

impl Exit {
    /// How much a failure matters when a run has several: the BMS first (its fault applies
    /// the safe state), then the devices, then a value that did not stick, then the rest.
    pub fn rank(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Internal => 1,
            Exit::ReadBack => 2,
            Exit::Device => 3,
            Exit::Bms => 4,
            Exit::Usage => 5,
        }
    }

    /// The exit code of a run with these failures: the one that matters most, or 0.
    pub fn worst(failures: impl IntoIterator<Item = Exit>) -> Exit {
        failures
            .into_iter()
            .max_by_key(|e| e.rank())
            .unwrap_or(Exit::Ok)
    }
}

/// An error that knows the exit code it stands for, so a command records a failure without
/// choosing a code itself.
pub trait HasExit: std::fmt::Display {
    fn exit(&self) -> Exit;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bms_outranks_the_gx_which_outranks_a_read_back() {
        assert_eq!(Exit::worst([]), Exit::Ok);
        assert_eq!(
            Exit::worst([Exit::ReadBack, Exit::Bms, Exit::Device]),
            Exit::Bms
        );
        assert_eq!(Exit::worst([Exit::ReadBack, Exit::Device]), Exit::Device);
        assert_eq!(
            Exit::worst([Exit::Internal, Exit::ReadBack]),
            Exit::ReadBack
        );
    }
}
