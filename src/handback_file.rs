//! The hand-back record on disk: `handback.json` beside the config (under `/data` on the GX,
//! so it survives firmware updates).
//!
//! Written atomically (a temporary file beside it, flushed, then renamed over it) before the
//! first write it covers, so a run cut short never loses what the GX held. A missing file means
//! the tool has changed nothing; one that cannot be read is reported and treated the same.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::exit_codes::{Exit, HasExit};
use crate::handback::Found;
use crate::json_file;

/// The largest record read; a real one is under 300 bytes.
const MAX_BYTES: u64 = 64 * 1024;

/// Where the record lives for the config at `config`.
pub fn path_for(config: &Path) -> PathBuf {
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join("handback.json")
}

#[derive(Debug, Error)]
#[error(
    "cannot {action} the hand-back record {path}: {detail}; check that the config's directory is writable (this tool keeps there what the GX held before it changed anything, to give it back)"
)]
pub struct HandbackFileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub detail: String,
}

/// The record at `path`: empty when missing, and `Err(why)` when it cannot be used.
pub fn load(path: &Path) -> Result<Found, String> {
    match json_file::read_capped(path, MAX_BYTES)? {
        None => Ok(Found::default()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| format!("it is not a hand-back record ({e})"))
        }
    }
}

/// Replaces the record at `path`, atomically.
pub fn save(path: &Path, found: &Found) -> Result<(), HandbackFileError> {
    let fail = |detail: String| HandbackFileError {
        action: "write",
        path: path.to_path_buf(),
        detail,
    };
    let text = serde_json::to_string_pretty(found).map_err(|e| fail(e.to_string()))?;
    json_file::write_atomic(path, &text).map_err(|e| fail(e.to_string()))
}

/// Removes the record once everything is given back; an already missing file is fine.
pub fn clear(path: &Path) -> Result<(), HandbackFileError> {
    json_file::remove(path).map_err(|e| HandbackFileError {
        action: "remove",
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// A file of the tool's own that could not be used: an internal failure, exit 1.
impl HasExit for HandbackFileError {
    fn exit(&self) -> Exit {
        Exit::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_clears() {
        let dir = std::env::temp_dir().join(format!("zcell-handback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = path_for(&dir.join("config.toml"));
        assert_eq!(load(&path), Ok(Found::default()));
        let found = Found {
            min_soc_raw: Some(100),
            min_soc_written: Some(0),
            ..Found::default()
        };
        save(&path, &found).unwrap();
        assert_eq!(load(&path), Ok(found));
        std::fs::write(&path, "{\"min_soc_raw\": ").unwrap();
        assert!(load(&path).unwrap_err().contains("not a hand-back record"));
        clear(&path).unwrap();
        clear(&path).unwrap();
        assert_eq!(load(&path), Ok(Found::default()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
