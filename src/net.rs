//! Deadlines and name resolution shared by the HTTP and Modbus clients.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    Timeout,
    NotFound(String),
}

/// Time left before `deadline`; `None` once it has passed.
pub fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// Resolves `host` within the deadline. An IP literal needs no lookup; a name is looked up on a
/// helper thread, because the system resolver has no timeout of its own.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<SocketAddr, ResolveError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(
            (name.as_str(), port)
                .to_socket_addrs()
                .map(|mut a| a.next()),
        );
    });
    let wait = remaining(deadline).ok_or(ResolveError::Timeout)?;
    match rx.recv_timeout(wait) {
        Ok(Ok(Some(addr))) => Ok(addr),
        Ok(Ok(None)) => Err(ResolveError::NotFound(format!("`{host}` has no address"))),
        Ok(Err(e)) => Err(ResolveError::NotFound(format!(
            "cannot resolve `{host}`: {e}"
        ))),
        Err(_) => Err(ResolveError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup_and_a_past_deadline_is_none() {
        let soon = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            resolve("127.0.0.1", 502, soon),
            Ok("127.0.0.1:502".parse().unwrap())
        );
        assert_eq!(resolve("::1", 502, soon), Ok("[::1]:502".parse().unwrap()));
        assert!(remaining(Instant::now() - Duration::from_millis(1)).is_none());
        assert!(resolve("name.invalid", 1, Instant::now() - Duration::from_millis(1)).is_err());
    }
}
