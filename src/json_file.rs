//! Small state files beside the config (the hand-back record, the ev-kick state): read with a
//! size cap, written atomically (a temporary file beside it, flushed, then renamed over it, so
//! a run cut short leaves the old content or the new, never half of one), removed once done.

use std::io::{Read, Write};
use std::path::Path;

/// The file's text: `Ok(None)` when it does not exist, `Err(why)` when it cannot be read or is
/// over `max_bytes`.
pub fn read_capped(path: &Path, max_bytes: u64) -> Result<Option<String>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut text = String::new();
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > max_bytes {
        return Err(format!("it is over {max_bytes} bytes"));
    }
    Ok(Some(text))
}

/// Replaces the file with `text` and a final newline, atomically.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".to_string());
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&temporary)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Removes the file; an already missing one is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
