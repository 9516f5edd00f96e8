//! What the BMS and GX clients share about the network: a name lookup bounded by a deadline,
//! and a network failure told by its kind (refused, unreachable, name not found, timed out).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Why a device could not be reached, in the words an owner can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens on that port (or a firewall said no).
    Refused,
    /// No route to the address: wrong subnet, cable, Wi-Fi, or the device is off.
    Unreachable(String),
    /// The host name does not resolve.
    NameNotFound(String),
    /// No answer before the deadline.
    TimedOut,
    /// Anything else the operating system said.
    Other(String),
}

impl Failure {
    /// Classifies an I/O error from connecting or talking to a device.
    pub fn from_io(e: &std::io::Error) -> Failure {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::TimedOut | K::WouldBlock => Failure::TimedOut,
            K::NetworkUnreachable | K::HostUnreachable | K::AddrNotAvailable | K::NetworkDown => {
                Failure::Unreachable(e.to_string())
            }
            _ => Failure::Other(e.to_string()),
        }
    }
}

/// Time left before `deadline`; `None` once it has passed.
pub fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// Resolves `host` within the deadline. An IP literal needs no lookup; a name is looked up on a
/// helper thread, because the system resolver has no timeout of its own.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<SocketAddr, Failure> {
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
    let wait = remaining(deadline).ok_or(Failure::TimedOut)?;
    match rx.recv_timeout(wait) {
        Ok(Ok(Some(addr))) => Ok(addr),
        Ok(Ok(None)) => Err(Failure::NameNotFound(format!("`{host}` has no address"))),
        Ok(Err(e)) => Err(Failure::NameNotFound(format!(
            "`{host}` does not resolve ({e})"
        ))),
        Err(_) => Err(Failure::TimedOut),
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

    #[test]
    fn io_errors_are_told_by_kind() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            Failure::from_io(&Error::from(ErrorKind::ConnectionRefused)),
            Failure::Refused
        );
        assert_eq!(
            Failure::from_io(&Error::from(ErrorKind::TimedOut)),
            Failure::TimedOut
        );
        assert!(matches!(
            Failure::from_io(&Error::from(ErrorKind::NetworkUnreachable)),
            Failure::Unreachable(_)
        ));
        assert!(matches!(
            Failure::from_io(&Error::from(ErrorKind::HostUnreachable)),
            Failure::Unreachable(_)
        ));
    }
}
