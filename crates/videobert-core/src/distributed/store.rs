//! torchrun's rendezvous: a key-value store at `MASTER_ADDR:MASTER_PORT` through which rank 0 hands
//! the other processes what they need to join one group (NCCL's unique id) — PyTorch's TCP store,
//! spoken on the wire as PyTorch's own clients do, so the store torchrun's agent already runs is the
//! one used. Where no agent hosts one (`TORCHELASTIC_USE_AGENT_STORE` not `True`), rank 0 serves it.
//!
//! The wire format (PyTorch's `TCPStore`, checked against torch 2.15's server): a client opens with
//! `VALIDATE` (byte 0) and the magic number 0x3C85F7CE (u32, little-endian); then each command is its
//! type byte followed by its arguments, a string or byte vector being a u64 length and the bytes.
//! `SET` (1) key value: no reply. `GET` (3) key: the value (the key must exist). `CHECK` (5) u64 n,
//! n keys: one byte, 0 when all exist. `PING` (13) u32: the same u32 back. PyTorch's clients put "/"
//! before every key, so `/videobert/…` here is `videobert/…` to a Python client of the same store.
//!
//! Only the one-time rendezvous goes through the store; the data-parallel collectives are NCCL's.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const VALIDATE: u8 = 0;
const SET: u8 = 1;
const GET: u8 = 3;
const CHECK: u8 = 5;
const PING: u8 = 13;
const MAGIC: u32 = 0x3C85_F7CE;
const READY: u8 = 0;
const NOT_READY: u8 = 1;
/// Keys and values above this many bytes are refused (a rendezvous carries ids, not data).
const MAX_LEN: u64 = 1 << 20;

fn store_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Distributed(format!("the rendezvous store: {what}: {e}"))
}

/// A connection to a PyTorch-style TCP store.
pub struct StoreClient {
    stream: TcpStream,
    address: String,
    timeout: Duration,
}

impl StoreClient {
    /// Connect to the store at `host:port`, retrying until `timeout` (the server may not listen
    /// yet: rank 0 starts it as the others start).
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self> {
        let address = format!("{host}:{port}");
        let t0 = Instant::now();
        let stream = loop {
            let tried = (host, port).to_socket_addrs().map_err(|e| e.to_string()).and_then(|mut addrs| {
                addrs.find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).ok()).ok_or_else(|| "connection refused".to_string())
            });
            match tried {
                Ok(s) => break s,
                Err(e) if t0.elapsed() >= timeout => {
                    return Err(Error::Distributed(format!(
                        "no rendezvous store answered at {address} (MASTER_ADDR:MASTER_PORT) within {} s: {e}",
                        timeout.as_secs_f64()
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream.set_nodelay(true).map_err(|e| store_error(&address, e))?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| store_error(&address, e))?;
        let mut c = Self { stream, address, timeout };
        let mut hello = vec![VALIDATE];
        hello.extend_from_slice(&MAGIC.to_le_bytes());
        c.send(&hello)?;
        Ok(c)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(|e| store_error(&format!("writing to {}", self.address), e))
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<()> {
        self.stream.read_exact(buf).map_err(|e| store_error(&format!("reading from {}", self.address), e))
    }

    /// Set `key` to `value` (replacing it).
    pub fn set(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let mut m = vec![SET];
        put_bytes(&mut m, key.as_bytes());
        put_bytes(&mut m, value);
        self.send(&m)
    }

    /// Whether every one of `keys` is set.
    pub fn check(&mut self, keys: &[&str]) -> Result<bool> {
        let mut m = vec![CHECK];
        m.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        for k in keys {
            put_bytes(&mut m, k.as_bytes());
        }
        self.send(&m)?;
        let mut r = [0u8];
        self.receive(&mut r)?;
        match r[0] {
            READY => Ok(true),
            NOT_READY => Ok(false),
            other => Err(store_error(&self.address, format!("answered {other} to CHECK"))),
        }
    }

    /// Wait until every one of `keys` is set, at most the connection's timeout; `who` says who
    /// sets them, for the error.
    pub fn wait(&mut self, keys: &[&str], who: &str) -> Result<()> {
        let t0 = Instant::now();
        while !self.check(keys)? {
            if t0.elapsed() >= self.timeout {
                return Err(Error::Distributed(format!(
                    "{who} did not publish {} in the rendezvous store at {} within {} s: a rank died, hangs, or is not of this launch",
                    keys.join(", "),
                    self.address,
                    self.timeout.as_secs_f64()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// `key`'s value, waiting for it to be set at most the connection's timeout.
    pub fn get(&mut self, key: &str) -> Result<Vec<u8>> {
        self.wait(&[key], "the rank that sets it")?;
        let mut m = vec![GET];
        put_bytes(&mut m, key.as_bytes());
        self.send(&m)?;
        let mut len = [0u8; 8];
        self.receive(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len > MAX_LEN {
            return Err(store_error(&self.address, format!("a value of {len} bytes for {key}")));
        }
        let mut value = vec![0u8; len as usize];
        self.receive(&mut value)?;
        Ok(value)
    }
}

fn put_bytes(m: &mut Vec<u8>, b: &[u8]) {
    m.extend_from_slice(&(b.len() as u64).to_le_bytes());
    m.extend_from_slice(b);
}

/// A store server for the launches that do not run one (the commands `StoreClient` sends, and
/// `PING`), on its own threads for the life of the process.
pub struct StoreServer {
    pub port: u16,
}

type Table = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

impl StoreServer {
    /// Listen on every interface at `port` (0: any free port, `port` then says which).
    pub fn start(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("::", port))
            .or_else(|_| TcpListener::bind(("0.0.0.0", port)))
            .map_err(|e| Error::Distributed(format!("rank 0 cannot serve the rendezvous store on port {port} (MASTER_PORT): {e}")))?;
        let port = listener.local_addr().map_err(|e| store_error("its address", e))?.port();
        let table: Table = Arc::default();
        std::thread::Builder::new()
            .name("videobert-store".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let table = table.clone();
                    // A connection that sends what the store does not understand is dropped; the others go on.
                    let _ = std::thread::Builder::new().name("videobert-store-client".into()).spawn(move || serve(conn, &table));
                }
            })
            .map_err(|e| store_error("starting its thread", e))?;
        Ok(Self { port })
    }
}

fn serve(mut conn: TcpStream, table: &Table) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut first = [0u8; 5];
    conn.read_exact(&mut first)?;
    if first[0] != VALIDATE || u32::from_le_bytes([first[1], first[2], first[3], first[4]]) != MAGIC {
        return Err(invalid("not a store client"));
    }
    loop {
        let mut kind = [0u8];
        if conn.read(&mut kind)? == 0 {
            return Ok(()); // the client closed the connection
        }
        match kind[0] {
            SET => {
                let key = read_bytes(&mut conn)?;
                let value = read_bytes(&mut conn)?;
                table.lock().unwrap_or_else(|e| e.into_inner()).insert(key, value);
            }
            GET => {
                let key = read_bytes(&mut conn)?;
                let value = table.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned().ok_or_else(|| invalid("GET of a key not set"))?;
                let mut m = Vec::with_capacity(8 + value.len());
                put_bytes(&mut m, &value);
                conn.write_all(&m)?;
            }
            CHECK => {
                let n = read_u64(&mut conn)?;
                if n > 1024 {
                    return Err(invalid("CHECK of too many keys"));
                }
                let keys = (0..n).map(|_| read_bytes(&mut conn)).collect::<std::io::Result<Vec<_>>>()?;
                let t = table.lock().unwrap_or_else(|e| e.into_inner());
                conn.write_all(&[if keys.iter().all(|k| t.contains_key(k)) { READY } else { NOT_READY }])?;
            }
            PING => {
                let mut nonce = [0u8; 4];
                conn.read_exact(&mut nonce)?;
                conn.write_all(&nonce)?;
            }
            _ => return Err(invalid("a command this store does not serve")),
        }
    }
}

fn read_u64(conn: &mut TcpStream) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    conn.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_bytes(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let n = read_u64(conn)?;
    if n > MAX_LEN {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a key or value above 1 MiB"));
    }
    let mut b = vec![0u8; n as usize];
    conn.read_exact(&mut b)?;
    Ok(b)
}

/// Where torchrun's processes meet: the store's address, whether torchrun's agent serves it, and
/// which restart of the job this is (torchrun restarts a failed job under the same store, so keys
/// carry the restart count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous {
    pub host: String,
    pub port: u16,
    pub agent_serves: bool,
    pub restart: u32,
}

impl Rendezvous {
    /// From torchrun's variables: `MASTER_ADDR`, `MASTER_PORT`, `TORCHELASTIC_USE_AGENT_STORE`,
    /// `TORCHELASTIC_RESTART_COUNT`; `None` without an address and port.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let (Some(host), Some(port)) = (var("MASTER_ADDR"), var("MASTER_PORT")) else { return Ok(None) };
        let port = port.trim().parse::<u16>().map_err(|_| Error::Distributed(format!("environment variable MASTER_PORT={port:?} is not a port number")))?;
        let agent_serves = var("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let restart = match var("TORCHELASTIC_RESTART_COUNT") {
            None => 0,
            Some(v) => v.trim().parse().map_err(|_| Error::Distributed(format!("environment variable TORCHELASTIC_RESTART_COUNT={v:?} is not a count")))?,
        };
        Ok(Some(Self { host, port, agent_serves, restart }))
    }

    /// Rank 0 publishes `make()`'s bytes under `name`; every rank of `world_size` returns them, rank
    /// 0 once every other rank has said it has them (so the store rank 0 serves, when the agent does
    /// not serve one, outlives their reads). Every rank waits at most `timeout`.
    pub fn share(&self, rank: usize, world_size: usize, name: &str, timeout: Duration, make: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        let key = format!("/videobert/{name}/restart-{}", self.restart);
        let got = |r: usize| format!("{key}/got-{r}");
        if rank == 0 {
            if !self.agent_serves {
                StoreServer::start(self.port)?;
            }
            let bytes = make()?;
            let mut c = StoreClient::connect(&self.host, self.port, timeout)?;
            c.set(&key, &bytes)?;
            let acks: Vec<String> = (1..world_size).map(got).collect();
            c.wait(&acks.iter().map(String::as_str).collect::<Vec<_>>(), "every other rank")?;
            Ok(bytes)
        } else {
            let mut c = StoreClient::connect(&self.host, self.port, timeout)?;
            let bytes = c.get(&key)?;
            c.set(&got(rank), b"")?;
            Ok(bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_value_set_by_one_client_is_got_by_another_waiting_for_it() {
        let server = StoreServer::start(0).unwrap();
        let t = Duration::from_secs(5);
        let waiter = std::thread::spawn(move || StoreClient::connect("127.0.0.1", server.port, t).unwrap().get("/k").unwrap());
        std::thread::sleep(Duration::from_millis(100));
        let mut a = StoreClient::connect("localhost", server.port, t).unwrap();
        assert!(!a.check(&["/k"]).unwrap());
        a.set("/k", &[7, 0, 255]).unwrap();
        assert!(a.check(&["/k"]).unwrap());
        assert!(!a.check(&["/k", "/j"]).unwrap());
        assert_eq!(waiter.join().unwrap(), [7, 0, 255]);
        a.set("/k", b"").unwrap();
        assert_eq!(a.get("/k").unwrap(), b"");
    }

    #[test]
    fn a_key_never_set_and_a_store_never_started_are_distributed_errors_in_time() {
        let server = StoreServer::start(0).unwrap();
        let t0 = Instant::now();
        let err = StoreClient::connect("127.0.0.1", server.port, Duration::from_millis(300)).unwrap().get("/never").unwrap_err();
        assert!(matches!(err, Error::Distributed(_)) && err.to_string().contains("did not publish /never"), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        // A port nobody listens on (bound, then released).
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = StoreClient::connect("127.0.0.1", port, Duration::from_millis(300)).err().expect("nothing listens");
        assert!(err.to_string().contains(&format!("no rendezvous store answered at 127.0.0.1:{port}")), "{err}");
    }

    /// The server closed the connection without a byte of answer (an end of stream, or a reset
    /// where it closed with the client's bytes unread).
    fn closed_unanswered(mut s: TcpStream) -> bool {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        match s.read_to_end(&mut rest) {
            Ok(n) => n == 0,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset && rest.is_empty(),
        }
    }

    #[test]
    fn the_server_drops_a_client_that_is_not_one_and_serves_the_others() {
        let server = StoreServer::start(0).unwrap();
        let mut bad = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        bad.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert!(closed_unanswered(bad), "a client that does not open with VALIDATE is dropped");
        let mut huge = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut m = vec![VALIDATE];
        m.extend_from_slice(&MAGIC.to_le_bytes());
        m.push(SET);
        m.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.write_all(&m).unwrap();
        assert!(closed_unanswered(huge), "a 2^64-byte key is refused, not allocated");
        let mut good = StoreClient::connect("127.0.0.1", server.port, Duration::from_secs(5)).unwrap();
        good.set("/ok", b"yes").unwrap();
        assert_eq!(good.get("/ok").unwrap(), b"yes");
    }

    #[test]
    fn ranks_share_rank_0s_bytes_through_their_own_store_or_the_agents() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let env = |agent: &str| {
            let m: HashMap<&str, String> = [
                ("MASTER_ADDR", "127.0.0.1".to_string()),
                ("MASTER_PORT", port.to_string()),
                ("TORCHELASTIC_USE_AGENT_STORE", agent.to_string()),
                ("TORCHELASTIC_RESTART_COUNT", "2".to_string()),
            ]
            .into();
            move |k: &str| m.get(k).cloned()
        };
        let r = Rendezvous::from_env(env("False")).unwrap().unwrap();
        assert_eq!(r, Rendezvous { host: "127.0.0.1".into(), port, agent_serves: false, restart: 2 });
        let t = Duration::from_secs(10);
        let others: Vec<_> = (1..4)
            .map(|rank| {
                let r = r.clone();
                std::thread::spawn(move || r.share(rank, 4, "id", t, || unreachable!("only rank 0 makes it")).unwrap())
            })
            .collect();
        assert_eq!(r.share(0, 4, "id", t, || Ok(vec![1, 2, 3])).unwrap(), [1, 2, 3]);
        for o in others {
            assert_eq!(o.join().unwrap(), [1, 2, 3]);
        }
        // With the agent serving (here: the store rank 0 started above), rank 0 only publishes.
        let agent = Rendezvous::from_env(env("True")).unwrap().unwrap();
        assert!(agent.agent_serves);
        let one = {
            let agent = agent.clone();
            std::thread::spawn(move || agent.share(1, 2, "other", t, || unreachable!()).unwrap())
        };
        assert_eq!(agent.share(0, 2, "other", t, || Ok(b"x".to_vec())).unwrap(), b"x");
        assert_eq!(one.join().unwrap(), b"x");
        assert_eq!(StoreClient::connect("127.0.0.1", port, t).unwrap().get("/videobert/other/restart-2").unwrap(), b"x");
        assert!(Rendezvous::from_env(|_| None).unwrap().is_none());
    }
}
