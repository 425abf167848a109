//! A tiny DNS server for the resolver tests: answers A and AAAA queries for one name from
//! records the test changes, over UDP on 127.0.0.1, and counts the queries it got.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const NXDOMAIN: u16 = 3;
const FORMERR: u16 = 1;

/// The server; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    name: String,
    records: Arc<Mutex<Vec<IpAddr>>>,
    a_queries: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Serves `name` (e.g. `"fleet.test"`) with `records`; other names do not exist.
    pub async fn start(name: &str, records: Vec<IpAddr>) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records = Arc::new(Mutex::new(records));
        let a_queries = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(
            socket,
            name.trim_end_matches('.').to_ascii_lowercase(),
            records.clone(),
            a_queries.clone(),
        ));
        Self {
            addr,
            name: name.to_owned(),
            records,
            a_queries,
            task,
        }
    }

    /// What `name` resolves to from now on.
    pub fn set(&self, records: Vec<IpAddr>) {
        *self.records.lock().unwrap() = records;
    }

    /// How many A queries it has answered: one per resolution.
    pub fn resolutions(&self) -> usize {
        self.a_queries.load(Ordering::SeqCst)
    }

    /// `dns://<this server>/<name>:<port>`.
    pub fn target(&self, port: u16) -> String {
        format!("dns://{}/{}:{port}", self.addr, self.name)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    socket: UdpSocket,
    name: String,
    records: Arc<Mutex<Vec<IpAddr>>>,
    a_queries: Arc<AtomicUsize>,
) {
    let mut buffer = [0u8; 1500];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let query = &buffer[..len];
        let answer = answer(query, &name, &records.lock().unwrap(), &a_queries);
        if let Some(answer) = answer {
            let _ = socket.send_to(&answer, from).await;
        }
    }
}

/// The response to `query`, or `None` for something too broken to answer.
fn answer(
    query: &[u8],
    name: &str,
    records: &[IpAddr],
    a_queries: &AtomicUsize,
) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let question_end = at + 4;
    let question = query.get(12..question_end)?;
    let qtype = u16::from_be_bytes([query[at], query[at + 1]]);
    let qclass = u16::from_be_bytes([query[at + 2], query[at + 3]]);
    let asked = labels.join(".");

    let (rcode, answers): (u16, Vec<&IpAddr>) = if qclass != CLASS_IN {
        (FORMERR, Vec::new())
    } else if asked != name {
        (NXDOMAIN, Vec::new())
    } else {
        match qtype {
            TYPE_A => {
                a_queries.fetch_add(1, Ordering::SeqCst);
                (0, records.iter().filter(|ip| ip.is_ipv4()).collect())
            }
            TYPE_AAAA => (0, records.iter().filter(|ip| ip.is_ipv6()).collect()),
            _ => (0, Vec::new()),
        }
    };

    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]); // the query's id
    let recursion_desired = query[2] & 0x01;
    out.push(0x84 | recursion_desired); // a response, authoritative
    out.push(0x80 | rcode as u8); // recursion available, the code
    out.extend_from_slice(&1u16.to_be_bytes()); // one question
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // no authority records
    out.extend_from_slice(&0u16.to_be_bytes()); // no additional records
    out.extend_from_slice(question);
    for ip in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        let (kind, data) = match ip {
            IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
        };
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // TTL 0: never cache
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    Some(out)
}
