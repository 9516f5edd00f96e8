//! A Redflow BMS simulator: plain HTTP on loopback serving `GET /rest/1.0/status`.
//!
//! The answer is a scenario (the JSON document) plus a mode that makes it misbehave the ways a
//! real device or network can: an HTTP error, a hang, headers then silence, a body that is not
//! JSON, or one far too large. It counts requests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How the simulator answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 with the scenario document.
    Ok,
    /// This HTTP status with a short text body.
    Status(u16),
    /// Accept and never answer.
    Hang,
    /// Send the status line and headers, then stall.
    StallAfterHeaders,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 announcing and streaming this many bytes.
    Huge(usize),
    /// 200 with the scenario document in chunked transfer encoding, in 7-byte chunks.
    Chunked,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "ok" => Mode::Ok,
            "http500" => Mode::Status(500),
            "http404" => Mode::Status(404),
            "hang" => Mode::Hang,
            "stall" => Mode::StallAfterHeaders,
            "malformed" => Mode::Malformed,
            "huge" => Mode::Huge(10 * 1024 * 1024),
            "chunked" => Mode::Chunked,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub mode: Mode,
    pub body: String,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One battery's reading for [`scenario`].
pub fn battery(soc: f64, stripping: bool, due_in_s: i64) -> String {
    let target = 259_200i64;
    format!(
        r#"{{"state_of_charge":{soc},"is_stripping":{stripping},"strip_pump_run_target":{target},"strip_pump_run_timer":{},"voltage":52.3,"warning_indicator":false}}"#,
        target - due_in_s
    )
}

/// A status document for these batteries.
pub fn scenario(batteries: &[String]) -> String {
    format!(r#"{{"list":[{}]}}"#, batteries.join(","))
}

pub struct BmsSim {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl BmsSim {
    pub fn start(body: String) -> std::io::Result<BmsSim> {
        BmsSim::start_on(body, 0)
    }

    pub fn start_on(body: String, port: u16) -> std::io::Result<BmsSim> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Ok,
            body,
            requests: 0,
            bytes_in: 0,
            bytes_out: 0,
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, shared));
            }
        });
        Ok(BmsSim { addr, state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let path_ok = request.starts_with(b"GET /rest/1.0/status ");
    let (mode, body) = {
        let mut s = match state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        s.requests += 1;
        s.bytes_in += request.len() as u64;
        (s.mode.clone(), s.body.clone())
    };
    let respond = |stream: &mut TcpStream, status: &str, body: &[u8]| -> usize {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        head.len() + body.len()
    };
    let sent = match mode {
        _ if !path_ok => respond(&mut stream, "404 Not Found", b"not found"),
        Mode::Ok => respond(&mut stream, "200 OK", body.as_bytes()),
        Mode::Status(code) => respond(&mut stream, &format!("{code} Error"), b"error"),
        Mode::Malformed => respond(&mut stream, "200 OK", b"<html>BMS busy</html>"),
        Mode::Chunked => {
            let mut out = String::from(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            );
            for piece in body.as_bytes().chunks(7) {
                out += &format!(
                    "{:x}\r\n{}\r\n",
                    piece.len(),
                    String::from_utf8_lossy(piece)
                );
            }
            out += "0\r\n\r\n";
            let _ = stream.write_all(out.as_bytes());
            out.len()
        }
        Mode::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            0
        }
        Mode::StallAfterHeaders => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"list\":[";
            let _ = stream.write_all(head.as_bytes());
            std::thread::sleep(Duration::from_secs(30));
            head.len()
        }
        Mode::Huge(size) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = head.len();
            while sent < size {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
            sent
        }
    };
    if let Ok(mut s) = state.lock() {
        s.bytes_out += sent as u64;
    }
}
