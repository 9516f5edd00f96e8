//! The few command-line flags the standalone simulators and the bench take: `--flag VALUE`.
#![allow(dead_code)]

pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    /// The word after `flag`, if `flag` is given.
    pub fn value(&self, flag: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }

    /// The first argument, if it is not a flag.
    pub fn first(&self) -> Option<&str> {
        self.0
            .first()
            .map(String::as_str)
            .filter(|a| !a.starts_with("--"))
    }

    /// `--port N` (0: an ephemeral port).
    pub fn port(&self) -> u16 {
        self.value("--port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// `--seconds S`: how long a simulator runs (an hour unless told).
    pub fn seconds(&self) -> u64 {
        self.value("--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(3600)
    }
}
