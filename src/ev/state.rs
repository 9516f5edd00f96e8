//! The ev-kick state file: what this tool's last runs did to the charger.
//!
//! Written atomically (a temporary file beside it, flushed, then renamed over it), so a run
//! cut short leaves either the old record or the new one. A missing file means "not kicking";
//! so does one that cannot be read or parsed, which is reported rather than fatal, because the
//! worst a lost record can do is leave a charge running that the owner can see and stop.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::ev::rules::Record;
use crate::exit_codes::{Exit, HasExit};
use crate::json_file;

/// The largest state file read; a real one is under 200 bytes.
const MAX_BYTES: u64 = 64 * 1024;

/// What was found at the state file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Missing,
    /// Unreadable or not a record: treated as "not kicking".
    Corrupt(String),
    Found(Record),
}

impl Loaded {
    pub fn record(&self) -> Option<&Record> {
        match self {
            Loaded::Found(r) => Some(r),
            _ => None,
        }
    }

    /// Why an unusable file was ignored.
    pub fn problem(&self) -> Option<&str> {
        match self {
            Loaded::Corrupt(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Error)]
#[error(
    "cannot {action} the ev-kick state file {path}: {detail}; check that its directory exists and is writable (ev.state_file)"
)]
pub struct StateFileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub detail: String,
}

/// Reads the record at `path`.
pub fn load(path: &Path) -> Loaded {
    match json_file::read_capped(path, MAX_BYTES) {
        Ok(None) => Loaded::Missing,
        Err(problem) => Loaded::Corrupt(problem),
        Ok(Some(text)) => match serde_json::from_str::<Record>(&text) {
            Ok(r) => Loaded::Found(r),
            Err(e) => Loaded::Corrupt(format!("it is not an ev-kick record ({e})")),
        },
    }
}

/// Replaces the record at `path` with `record`, atomically.
pub fn save(path: &Path, record: &Record) -> Result<(), StateFileError> {
    let fail = |detail: String| StateFileError {
        action: "write",
        path: path.to_path_buf(),
        detail,
    };
    let text = serde_json::to_string_pretty(record).map_err(|e| fail(e.to_string()))?;
    json_file::write_atomic(path, &text).map_err(|e| fail(e.to_string()))
}

/// Removes the record; an already missing file is fine.
pub fn clear(path: &Path) -> Result<(), StateFileError> {
    json_file::remove(path).map_err(|e| StateFileError {
        action: "remove",
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// A file of the tool's own that could not be used: an internal failure, exit 1.
impl HasExit for StateFileError {
    fn exit(&self) -> Exit {
        Exit::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn temp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("zcell-kickstate-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("ev-kick.json")
    }

    #[test]
    fn round_trip_missing_and_corrupt() {
        let path = temp("rt");
        let _ = clear(&path);
        assert_eq!(load(&path), Loaded::Missing);
        let record = Record::Kicking {
            started_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 14, 5, 0)
                .unwrap(),
            previous_mode: 1,
            previous_current_a: 16,
            current_a: 6,
            previous_start_stop: Some(0),
        };
        save(&path, &record).unwrap();
        assert_eq!(load(&path), Loaded::Found(record));
        // A record written before the start/stop found was kept still reads, without it.
        std::fs::write(
            &path,
            r#"{"state":"kicking","started_at":"2026-11-23T14:05:00Z","previous_mode":1,"previous_current_a":16,"current_a":6}"#,
        )
        .unwrap();
        assert!(matches!(
            load(&path),
            Loaded::Found(Record::Kicking {
                previous_start_stop: None,
                previous_mode: 1,
                ..
            })
        ));
        assert!(!path.with_file_name(".ev-kick.json.tmp").exists());
        for garbage in [
            "",
            "{",
            "null",
            "{\"state\":\"kicking\"}",
            "[1,2]",
            "\u{0}\u{1}",
        ] {
            std::fs::write(&path, garbage).unwrap();
            assert!(matches!(load(&path), Loaded::Corrupt(_)), "{garbage:?}");
        }
        std::fs::write(&path, vec![b' '; 70_000]).unwrap();
        assert!(matches!(load(&path), Loaded::Corrupt(m) if m.contains("over")));
        clear(&path).unwrap();
        clear(&path).unwrap();
        assert_eq!(load(&path), Loaded::Missing);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn an_unwritable_directory_is_an_error_value() {
        let path = Path::new("/nonexistent-zcell-dir/ev-kick.json");
        let e = save(
            path,
            &Record::StoodDown {
                since: crate::clock::now(),
                reason: "test".into(),
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("/nonexistent-zcell-dir/ev-kick.json")
        );
    }
}
