//! The few command-line flags the standalone simulators and the bench take: `--flag VALUE` and
//! bare switches. An unknown flag is refused and `--help` prints the usage.
#![allow(dead_code)]

pub struct Args(Vec<String>);

/// What a program accepts: the usage text, the flags that take a value, the bare switches,
/// and whether one positional argument may come first.
pub struct Spec {
    pub usage: &'static str,
    pub values: &'static [&'static str],
    pub switches: &'static [&'static str],
    pub positional: bool,
}

impl Args {
    /// The process's arguments checked against `spec`: `Err(exit code)` after printing the
    /// usage (0 for `--help`, 2 for an unknown or incomplete flag).
    pub fn from_env(spec: &Spec) -> Result<Args, std::process::ExitCode> {
        let words: Vec<String> = std::env::args().skip(1).collect();
        if words.iter().any(|w| w == "--help" || w == "-h") {
            println!("{}", spec.usage);
            return Err(std::process::ExitCode::SUCCESS);
        }
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            if spec.values.contains(&w) {
                if i + 1 >= words.len() {
                    eprintln!("{w} needs a value\n{}", spec.usage);
                    return Err(std::process::ExitCode::from(2));
                }
                i += 2;
            } else if spec.switches.contains(&w)
                || (i == 0 && spec.positional && !w.starts_with('-'))
            {
                i += 1;
            } else {
                eprintln!("unknown argument {w}\n{}", spec.usage);
                return Err(std::process::ExitCode::from(2));
            }
        }
        Ok(Args(words))
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

    /// `--seconds S`: how long a simulator runs before it stops by itself (an hour unless told).
    pub fn seconds(&self) -> u64 {
        self.value("--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(3600)
    }
}
