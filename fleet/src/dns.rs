//! dnsmasq serving the fleet's records: an A record per replica address for one name, read
//! from a hosts file that [`Dns::set_records`] rewrites before sending SIGHUP (dnsmasq then
//! re-reads it). TTL 0, so no resolver caches a record the tests have changed.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::ProcessError;
use crate::topology::Topology;

/// The dnsmasq of a topology: it listens on the gateway, port [`Topology::dns_port`].
#[derive(Debug)]
pub struct Dns {
    process: usize,
    records: PathBuf,
    listen: SocketAddr,
}

impl Dns {
    /// Starts dnsmasq on the topology's gateway, serving `name` as `addresses`, and waits
    /// (bounded) until it answers with them.
    pub fn start(
        topology: &mut Topology,
        name: &str,
        addresses: &[Ipv4Addr],
    ) -> Result<Self, ProcessError> {
        let records = topology.dir().join("dns-records");
        write_records(&records, name, addresses)?;
        let log = topology.dir().join("dnsmasq.log");
        let listen = SocketAddr::from((topology.gateway(), topology.dns_port()));
        let mut command = Command::new(crate::tool("dnsmasq"));
        command.args([
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--local-ttl=0",
            "--bind-interfaces",
            &format!("--log-facility={}", log.display()),
            "--pid-file=",
            &format!("--listen-address={}", listen.ip()),
            &format!("--port={}", listen.port()),
            &format!("--addn-hosts={}", records.display()),
        ]);
        if topology.isolated() {
            // Root (namespaces need it): stay root rather than drop to a user that may
            // not exist, and may not read the run directory.
            command.arg("--user=root");
        }
        // In the foreground dnsmasq also logs to stderr: that goes to the log file too.
        let stderr = fs::File::create(topology.dir().join("dnsmasq.stderr"))
            .map_err(|err| ProcessError(format!("cannot create dnsmasq's log: {err}")))?;
        command.stderr(stderr);
        let process = topology.start("dnsmasq", command)?;
        let dns = Self {
            process,
            records,
            listen,
        };
        dns.await_answer(name, addresses)?;
        Ok(dns)
    }

    /// The target a client resolves the fleet with: `dns://IP:PORT/name:port`.
    pub fn target(&self, name: &str, port: u16) -> String {
        format!("dns://{}/{name}:{port}", self.listen)
    }

    /// Where dnsmasq listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Replaces `name`'s addresses: rewrites the records and sends dnsmasq SIGHUP, then
    /// waits (bounded) until it answers with the new ones.
    pub fn set_records(
        &self,
        topology: &mut Topology,
        name: &str,
        addresses: &[Ipv4Addr],
    ) -> Result<(), ProcessError> {
        write_records(&self.records, name, addresses)?;
        topology
            .process(self.process)
            .ok_or_else(|| ProcessError("dnsmasq is not running".into()))?
            .signal("HUP")?;
        self.await_answer(name, addresses)
    }

    fn await_answer(&self, name: &str, addresses: &[Ipv4Addr]) -> Result<(), ProcessError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut want = addresses.to_vec();
        want.sort();
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            match query_a(self.listen, name) {
                Ok(mut got) => {
                    got.sort();
                    if got == want {
                        return Ok(());
                    }
                    last = format!("answered {got:?}");
                }
                Err(err) => last = err,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(ProcessError(format!(
            "dnsmasq at {} did not answer {name} with {want:?} within 20s: {last}",
            self.listen
        )))
    }
}

fn write_records(path: &PathBuf, name: &str, addresses: &[Ipv4Addr]) -> Result<(), ProcessError> {
    let mut text = String::new();
    for address in addresses {
        let _ = writeln!(text, "{address} {name}");
    }
    // Written whole, then renamed, so dnsmasq never reads half a file.
    let partial = path.with_extension("partial");
    fs::write(&partial, text)
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|err| ProcessError(format!("cannot write {}: {err}", path.display())))
}

/// Asks `server` for `name`'s A records: one UDP query, a bounded wait, a minimal parse
/// (the answers' A records; everything else skipped).
pub fn query_a(server: SocketAddr, name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|err| err.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|err| err.to_string())?;
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(u8::try_from(label.len()).map_err(|_| "label too long".to_owned())?);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket
        .send_to(&query, server)
        .map_err(|err| format!("cannot send to {server}: {err}"))?;
    let mut buf = [0u8; 512];
    let (len, _) = socket
        .recv_from(&mut buf)
        .map_err(|err| format!("no answer from {server}: {err}"))?;
    parse_a_answers(&buf[..len], query.len())
}

fn parse_a_answers(reply: &[u8], question_end: usize) -> Result<Vec<Ipv4Addr>, String> {
    let short = || "short DNS reply".to_owned();
    if reply.len() < question_end || reply[0..2] != [0x12, 0x34] {
        return Err("not the reply to our query".into());
    }
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    let mut at = question_end;
    let mut found = Vec::new();
    for _ in 0..answers {
        // The owner name: a pointer (2 bytes) or labels ending in 0.
        loop {
            let len = *reply.get(at).ok_or_else(short)?;
            if len & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        let header = reply.get(at..at + 10).ok_or_else(short)?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let data = reply.get(at + 10..at + 10 + len).ok_or_else(short)?;
        if kind == 1 && len == 4 {
            found.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + len;
    }
    Ok(found)
}
