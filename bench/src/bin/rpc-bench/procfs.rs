//! What Linux says about a process, from `/proc`: CPU time (utime + stime, in clock
//! ticks), memory, open file descriptors.

use std::fs;

/// Clock ticks per second of `/proc/<pid>/stat`'s times: `USER_HZ`, which is 100 on every
/// Linux architecture this benchmark runs on (reading `sysconf(_SC_CLK_TCK)` would need
/// `unsafe`, which the workspace forbids). A tick is 10 ms: over a 2 s window on a busy core,
/// about 0.5% resolution.
pub const TICKS_PER_SECOND: f64 = 100.0;

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, so it is skipped up to its last `)`): field 3 (state) comes first.
fn stat_fields(pid: &str) -> Result<Vec<u64>, String> {
    let path = format!("/proc/{pid}/stat");
    let text = fs::read_to_string(&path).map_err(|err| format!("cannot read {path}: {err}"))?;
    let after_name = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no command name"))?;
    // The state is a letter; the numeric fields after it are what is needed.
    Ok(after_name
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect())
}

/// `stat` field `n` (1-based, as `man proc` numbers them), from [`stat_fields`].
fn field(fields: &[u64], n: usize, pid: &str) -> Result<u64, String> {
    fields
        .get(n - 4)
        .copied()
        .ok_or_else(|| format!("/proc/{pid}/stat has no field {n}"))
}

/// CPU time a process has used so far, all its threads, in ticks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// utime: in its own code.
    pub user: u64,
    /// stime: in the kernel on its behalf (system calls, wake-ups).
    pub system: u64,
}

impl Cpu {
    pub fn of(pid: u32) -> Result<Cpu, String> {
        let pid = pid.to_string();
        let fields = stat_fields(&pid)?;
        Ok(Cpu {
            user: field(&fields, 14, &pid)?,
            system: field(&fields, 15, &pid)?,
        })
    }

    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// The time used since `earlier`.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// CPU time of this process's children that it has waited for: cutime + cstime. The
/// difference around one child's run is that child's CPU time.
pub fn waited_children_ticks() -> Result<u64, String> {
    let fields = stat_fields("self")?;
    Ok(field(&fields, 16, "self")? + field(&fields, 17, "self")?)
}

/// A process's memory, in KiB: resident set size (`VmRSS` of `status`), and the private
/// dirty pages of every mapping (`Private_Dirty` of `smaps_rollup`), which counts what the
/// process wrote, whatever allocator holds it, and not the binary's shared pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub private_dirty_kib: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Result<Memory, String> {
        Ok(Memory {
            rss_kib: kib_field(&format!("/proc/{pid}/status"), "VmRSS:")?,
            private_dirty_kib: kib_field(&format!("/proc/{pid}/smaps_rollup"), "Private_Dirty:")?,
        })
    }
}

/// The `name  123 kB` line of a `/proc` file, in KiB.
fn kib_field(path: &str, name: &str) -> Result<u64, String> {
    let text = fs::read_to_string(path).map_err(|err| format!("cannot read {path}: {err}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("{path}: no {name} line"))
}

/// How many file descriptors `pid` has open (its sockets, once it has accepted them).
pub fn open_fds(pid: u32) -> Result<usize, String> {
    let path = format!("/proc/{pid}/fd");
    fs::read_dir(&path)
        .map(Iterator::count)
        .map_err(|err| format!("cannot list {path}: {err}"))
}
