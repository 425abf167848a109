//! `rpc-bench load`: one load-generator run. Connect, warm up, then measure one window:
//! operations, latencies, and the CPU time of this process and of the server over exactly
//! that window (read here, where the window starts and ends).

use std::time::{Duration, Instant};

use crate::budget::Budget;
use crate::clients::{Client, ClientStack};
use crate::figures::Figures;
use crate::procfs::Cpu;
use crate::scenarios::{self, Scenario};

/// How long a timed run warms the connection and both sides' code paths first.
const WARM_UP: Duration = Duration::from_millis(200);
/// How many operations a counted run warms up with (the same in every run, so that the
/// difference of two runs is exact).
const WARM_UP_OPERATIONS: u64 = 100;

/// How much to measure.
#[derive(Clone, Copy, Debug)]
pub enum Window {
    Seconds(f64),
    /// An exact number of calls (bidi: round trips).
    Operations(u64),
}

impl Window {
    fn warm_up(self) -> Budget {
        match self {
            Window::Seconds(_) => Budget::for_time(WARM_UP),
            Window::Operations(_) => Budget::for_operations(WARM_UP_OPERATIONS),
        }
    }

    /// The measured budget, from now.
    fn budget(self) -> Budget {
        match self {
            Window::Seconds(seconds) => Budget::for_time(Duration::from_secs_f64(seconds)),
            Window::Operations(count) => Budget::for_operations(count),
        }
    }
}

#[derive(Debug)]
pub struct Load {
    pub client: ClientStack,
    pub addr: String,
    pub scenario: Scenario,
    pub window: Window,
    /// The server whose CPU time to read, when it runs on this machine.
    pub server_pid: Option<u32>,
}

impl Load {
    /// Runs the load; the figures of the measured window.
    pub async fn run(&self) -> Result<Figures, String> {
        let client = Client::connect(self.client, format!("http://{}", self.addr)).await?;
        scenarios::drive(self.scenario, &client, &self.window.warm_up()).await?;

        let me = std::process::id();
        let server_before = self.server_cpu()?;
        let client_before = Cpu::of(me)?;
        let started = Instant::now();
        let tally = scenarios::drive(self.scenario, &client, &self.window.budget()).await?;
        let elapsed = started.elapsed();
        let client = Cpu::of(me)?.since(client_before);
        let server = self.server_cpu()?.since(server_before);
        Ok(Figures::new(
            tally.operations,
            elapsed,
            tally.latencies,
            client.total(),
            server,
        ))
    }

    /// The server's CPU time so far; zero when it is not on this machine.
    fn server_cpu(&self) -> Result<Cpu, String> {
        self.server_pid.map_or(Ok(Cpu::default()), Cpu::of)
    }
}
