//! Health checks after a start: a TCP port that accepts connections (Neo4j's bolt
//! port) or an HTTP endpoint that answers 200 (Structr's /structr/health/ready).
//! Loopback only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Running is healthy.
    Running,
    Tcp(u16),
    Http {
        port: u16,
        path: String,
    },
}

impl Health {
    /// The command a person can run to check by hand.
    pub fn manual_check(&self) -> String {
        match self {
            Health::Running => String::new(),
            Health::Tcp(port) => format!("nc -z 127.0.0.1 {port}"),
            Health::Http { port, path } => {
                format!("curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}{path}")
            }
        }
    }

    /// One probe: Ok when healthy, Err with what was seen otherwise.
    pub fn probe(&self) -> Result<(), String> {
        match self {
            Health::Running => Ok(()),
            Health::Tcp(port) => connect(*port).map(|_| ()),
            Health::Http { port, path } => {
                let mut s = connect(*port)?;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
                    .map_err(|e| e.to_string())?;
                let mut head = [0u8; 64];
                let n = s.read(&mut head).map_err(|e| e.to_string())?;
                let status = String::from_utf8_lossy(&head[..n])
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                if status == "200" {
                    Ok(())
                } else {
                    Err(format!("HTTP status {status}"))
                }
            }
        }
    }

    /// Probes until healthy or `timeout`; the error says what was seen last.
    pub fn wait(&self, timeout: Duration) -> Result<(), String> {
        let deadline = crate::units::deadline(timeout);
        loop {
            match self.probe() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn tcp_and_http_probes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(Health::Tcp(port).probe().is_ok());
        let server = std::thread::spawn(move || {
            for (i, s) in l.incoming().take(3).enumerate() {
                let mut s = s.unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf);
                let status = if i == 1 {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let _ = s.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
            }
        });
        let h = Health::Http {
            port,
            path: "/structr/health/ready".into(),
        };
        // Connection 0 was the TCP probe; 1 answers 503, 2 answers 200.
        assert_eq!(h.probe(), Err("HTTP status 503".into()));
        assert!(h.probe().is_ok());
        server.join().unwrap();
        assert!(
            Health::Tcp(port).wait(Duration::from_millis(300)).is_err(),
            "nothing listens any more"
        );
    }
}
