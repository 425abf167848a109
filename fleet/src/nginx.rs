//! nginx from Debian in front of the replicas: `grpc_pass` to an upstream of their
//! addresses, listening with HTTP/2 (h2c) on the gateway. Its config, pid file, logs and
//! temp paths all live in the run directory. It runs as one process in the foreground
//! (`daemon off`, `master_process off`), so the PID we hold is all of nginx: killing it
//! leaves no worker behind, even if the run itself is killed.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::ProcessError;
use crate::topology::Topology;

/// A running nginx proxy.
#[derive(Debug)]
pub struct Proxy {
    listen: SocketAddr,
}

impl Proxy {
    /// Starts nginx on `listen`, proxying gRPC to `upstreams`, and waits (bounded) until
    /// it accepts connections.
    pub fn start(
        topology: &mut Topology,
        listen: SocketAddr,
        upstreams: &[SocketAddr],
    ) -> Result<Self, ProcessError> {
        let dir = topology.dir().join("nginx");
        fs::create_dir_all(&dir)
            .map_err(|err| ProcessError(format!("cannot create {}: {err}", dir.display())))?;
        let conf = dir.join("nginx.conf");
        fs::write(&conf, config(&dir.to_string_lossy(), listen, upstreams))
            .map_err(|err| ProcessError(format!("cannot write {}: {err}", conf.display())))?;
        let mut command = Command::new(crate::tool("nginx"));
        command
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr"]);
        topology.start("nginx", command)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
            if Instant::now() >= deadline {
                return Err(ProcessError(format!(
                    "nginx did not listen on {listen} within 20s (config {})",
                    conf.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self { listen })
    }

    /// Where the proxy listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }
}

/// nginx.conf for a gRPC proxy: HTTP/2 cleartext in, `grpc_pass` to the upstreams (kept
/// alive), with every path under `dir`.
fn config(dir: &str, listen: SocketAddr, upstreams: &[SocketAddr]) -> String {
    let mut servers = String::new();
    for upstream in upstreams {
        let _ = writeln!(servers, "        server {upstream};");
    }
    format!(
        "daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 256;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream replicas {{
{servers}        keepalive 16;
    }}
    server {{
        listen {listen} http2;
        location / {{
            grpc_pass grpc://replicas;
            grpc_read_timeout 60s;
            grpc_send_timeout 60s;
        }}
    }}
}}
"
    )
}
