//! One writing run at a time: an advisory `flock` on a lock file.
//!
//! The kernel releases the lock when the process exits, however it exits, so a crashed run
//! never blocks the next one. A second run polls for the lock for up to [`WAIT`], then gives up.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exit_codes::{Exit, HasExit};
use thiserror::Error;

/// How long a second writing run waits for the first.
pub const WAIT: Duration = Duration::from_secs(30);
/// After this long waiting, the run says what it is waiting for.
pub const ANNOUNCE_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Error)]
pub enum LockError {
    #[error(
        "another zcell-scheduler run has held the lock {path} for {waited_s} s: wait for it to finish (or find a stuck one with `ps`), then run again"
    )]
    Busy { path: PathBuf, waited_s: u64 },
    #[error("cannot open the lock file {path}: {source}; make its directory writable")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while the value lives; the kernel drops it with the file descriptor.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// The lock file for a config file: `zcell-scheduler.lock` beside it.
pub fn path_for(config: &Path) -> PathBuf {
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join("zcell-scheduler.lock")
}

/// Says, once, that this run is waiting for another one.
pub fn announce_wait(path: &Path) {
    log::warn!(
        "waiting for the lock {}: another zcell-scheduler run holds it (at most {} s)",
        path.display(),
        WAIT.as_secs()
    );
}

/// Takes the lock, waiting at most `wait`; `on_wait` is called once if the wait passes
/// [`ANNOUNCE_AFTER`].
pub fn acquire(
    path: &Path,
    wait: Duration,
    on_wait: impl FnOnce(&Path),
) -> Result<Lock, LockError> {
    let mut on_wait = Some(on_wait);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let started = Instant::now();
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Lock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK)
            && err.kind() != std::io::ErrorKind::Interrupted
        {
            return Err(LockError::Open {
                path: path.to_path_buf(),
                source: err,
            });
        }
        if started.elapsed() >= ANNOUNCE_AFTER {
            if let Some(announce) = on_wait.take() {
                announce(path);
            }
        }
        if started.elapsed() >= wait {
            return Err(LockError::Busy {
                path: path.to_path_buf(),
                waited_s: wait.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file of the tool's own that could not be used: an internal failure, exit 1.
impl HasExit for LockError {
    fn exit(&self) -> Exit {
        Exit::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_gives_up() {
        let dir = std::env::temp_dir().join(format!("zcell-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.lock");
        let first = acquire(&path, Duration::from_millis(10), |_| {}).unwrap();
        let started = Instant::now();
        let second = acquire(&path, Duration::from_millis(200), |_| {});
        assert!(matches!(second, Err(LockError::Busy { .. })));
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(first);
        assert!(acquire(&path, Duration::from_millis(10), |_| {}).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
