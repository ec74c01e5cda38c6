//! A small, blocking Bolt client (Neo4j's wire protocol: the handshake, chunked
//! messages, PackStream values), written from the published protocol
//! description, enough for the stand-in Structr and the tests to write to and
//! read from a real Neo4j: HELLO/LOGON, RUN + PULL in auto-commit, RESET,
//! GOODBYE. The crates.io clients are async (tokio); the stand-in ships inside
//! the product's binary, which has no async runtime, so it speaks Bolt itself.
//! Versions 5.0–5.4 and 4.4, which Neo4j 5.26 and 2025.x both accept.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use super::packstream::Value;
use super::packstream::{pack, proto, unpack};

const HELLO: u8 = 0x01;
const GOODBYE: u8 = 0x02;
const RESET: u8 = 0x0F;
const RUN: u8 = 0x10;
const PULL: u8 = 0x3F;
const LOGON: u8 = 0x6A;
const SUCCESS: u8 = 0x70;
const RECORD: u8 = 0x71;
const IGNORED: u8 = 0x7E;
const FAILURE: u8 = 0x7F;

/// Credentials: none (a Neo4j with auth disabled accepts any) or basic.
pub enum Auth<'a> {
    None,
    Basic { user: &'a str, password: &'a str },
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// (major, minor) as agreed in the handshake.
    pub version: (u8, u8),
}

impl Client {
    /// Connects to `addr` (host:port), agrees on a version and authenticates.
    pub fn connect(addr: &str, auth: Auth, timeout: Duration) -> io::Result<Client> {
        let sock = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| proto(format!("{addr}: no address")))?;
        let stream = TcpStream::connect_timeout(&sock, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let mut c = Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: BufWriter::new(stream),
            version: (0, 0),
        };
        // Magic, then four proposals [0, range, minor, major]: 5.4 down to 5.0, then 4.4.
        let hello: [u8; 20] = [
            0x60, 0x60, 0xB0, 0x17, 0, 4, 4, 5, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        c.writer.write_all(&hello)?;
        c.writer.flush()?;
        let mut agreed = [0u8; 4];
        c.reader.read_exact(&mut agreed)?;
        if agreed == [0; 4] {
            return Err(proto(format!(
                "{addr}: the server speaks none of Bolt 5.0-5.4 or 4.4"
            )));
        }
        c.version = (agreed[3], agreed[2]);
        let mut token = vec![("scheme".to_string(), Value::from("none"))];
        if let Auth::Basic { user, password } = auth {
            token = vec![
                ("scheme".into(), "basic".into()),
                ("principal".into(), user.into()),
                ("credentials".into(), password.into()),
            ];
        }
        let mut extra = vec![(
            "user_agent".to_string(),
            Value::from("structr-backup-standin/1"),
        )];
        if c.version >= (5, 3) {
            extra.push((
                "bolt_agent".into(),
                Value::Map(vec![("product".into(), "structr-backup-standin/1".into())]),
            ));
        }
        if c.version >= (5, 1) {
            // 5.1 moved the credentials out of HELLO into LOGON.
            c.send(HELLO, vec![Value::Map(extra)])?;
            c.send(LOGON, vec![Value::Map(token)])?;
            c.writer.flush()?;
            c.summary("HELLO")?;
            c.summary("LOGON")?;
        } else {
            extra.extend(token);
            c.send(HELLO, vec![Value::Map(extra)])?;
            c.writer.flush()?;
            c.summary("HELLO")?;
        }
        Ok(c)
    }

    /// Runs `query` in its own transaction (auto-commit) and returns its records.
    pub fn run(&mut self, query: &str, params: Vec<(&str, Value)>) -> io::Result<Vec<Vec<Value>>> {
        let params = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        self.send(
            RUN,
            vec![query.into(), Value::Map(params), Value::Map(vec![])],
        )?;
        self.send(PULL, vec![Value::Map(vec![("n".into(), Value::Int(-1))])])?;
        self.writer.flush()?;
        let run = self.summary("RUN");
        let mut records = Vec::new();
        let pull = loop {
            match self.receive()? {
                (RECORD, mut f) if f.len() == 1 => match f.remove(0) {
                    Value::List(values) => records.push(values),
                    other => return Err(proto(format!("RECORD holds {other:?}"))),
                },
                (SUCCESS, _) => break Ok(()),
                (FAILURE, f) => break Err(failure("PULL", &f)),
                (IGNORED, _) => break Ok(()), // RUN failed; its error is reported
                (tag, _) => return Err(proto(format!("unexpected message 0x{tag:02x}"))),
            }
        };
        if let Err(e) = run.and(pull) {
            // A failed connection answers nothing until RESET.
            self.send(RESET, vec![])?;
            self.writer.flush()?;
            self.summary("RESET")?;
            return Err(e);
        }
        Ok(records)
    }

    /// Says goodbye; the server closes the connection.
    pub fn close(mut self) {
        let _ = self.send(GOODBYE, vec![]);
        let _ = self.writer.flush();
    }

    /// Reads the answer to one request: SUCCESS, or FAILURE as an error.
    fn summary(&mut self, what: &str) -> io::Result<Value> {
        match self.receive()? {
            (SUCCESS, mut f) if !f.is_empty() => Ok(f.remove(0)),
            (SUCCESS, _) => Ok(Value::Map(vec![])),
            (FAILURE, f) => Err(failure(what, &f)),
            (IGNORED, _) => Err(proto(format!("{what} was ignored"))),
            (tag, _) => Err(proto(format!("{what}: unexpected message 0x{tag:02x}"))),
        }
    }

    fn send(&mut self, tag: u8, fields: Vec<Value>) -> io::Result<()> {
        let mut body = Vec::new();
        pack(&Value::Struct(tag, fields), &mut body)?;
        for chunk in body.chunks(u16::MAX as usize) {
            self.writer.write_all(&(chunk.len() as u16).to_be_bytes())?;
            self.writer.write_all(chunk)?;
        }
        self.writer.write_all(&[0, 0])
    }

    fn receive(&mut self) -> io::Result<(u8, Vec<Value>)> {
        let mut body = Vec::new();
        loop {
            let mut len = [0u8; 2];
            self.reader.read_exact(&mut len)?;
            let len = u16::from_be_bytes(len) as usize;
            if len == 0 {
                if body.is_empty() {
                    continue; // a NOOP (keep-alive chunk)
                }
                break;
            }
            let start = body.len();
            body.resize(start + len, 0);
            self.reader.read_exact(&mut body[start..])?;
        }
        let mut input = &body[..];
        match unpack(&mut input)? {
            Value::Struct(tag, fields) => Ok((tag, fields)),
            other => Err(proto(format!("a message that is no structure: {other:?}"))),
        }
    }
}

fn failure(what: &str, fields: &[Value]) -> io::Error {
    let meta = fields.first().cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let code = [text("code"), text("neo4j_code")].concat();
    io::Error::other(format!("Neo4j refused {what}: {code}: {}", text("message")))
}
