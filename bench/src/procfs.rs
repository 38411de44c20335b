//! Readings of another process from `/proc`: CPU time, resident memory, and
//! the voluntary context switches of each of its threads.
//!
//! Linux only, read-only: this file must never signal or change the process
//! it reads.

use std::fs;
use std::io;

/// CPU time in microseconds, split as the kernel accounts it: `user` is the
/// program's own code (the runtime and the server), `system` the kernel
/// working for it (the TCP stack, epoll, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// In the process's own code.
    pub user: u64,
    /// In the kernel, on the process's behalf.
    pub system: u64,
}

impl CpuTime {
    /// User and system time together.
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// The time used between `earlier` and this reading.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The CPU time (every thread, dead ones included) that process `pid` has
/// used.
pub fn cpu_time(pid: u32) -> io::Result<CpuTime> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it never do.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("malformed /proc/{pid}/stat")))
    };
    // utime and stime are fields 14 and 15 of stat(5); field 3 is index 0 here.
    let micros = |t: u64| t * 1_000_000 / clock_ticks_per_second();
    Ok(CpuTime {
        user: micros(ticks(11)?),
        system: micros(ticks(12)?),
    })
}

/// The resident set size of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status_field(&status, "VmRSS:")
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// One thread's name and the voluntary context switches it has made so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSwitches {
    /// The thread id.
    pub tid: u32,
    /// The thread's name (`comm`).
    pub name: String,
    /// `voluntary_ctxt_switches`: how often it went to sleep and was woken.
    pub voluntary: u64,
}

/// The voluntary context switches of every live thread of process `pid`.
pub fn thread_switches(pid: u32) -> io::Result<Vec<ThreadSwitches>> {
    let mut threads = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may exit between the listing and the read: skip it.
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let name = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("")
            .trim()
            .to_string();
        let voluntary = status_field(&status, "voluntary_ctxt_switches:").unwrap_or(0);
        threads.push(ThreadSwitches {
            tid,
            name,
            voluntary,
        });
    }
    threads.sort_by_key(|t| t.tid);
    Ok(threads)
}

/// The first number on the line of `/proc/*/status` that starts with `key`.
fn status_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).unwrap_or(100).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).expect("rss") > 0);
        cpu_time(pid).expect("cpu");
        let threads = thread_switches(pid).expect("threads");
        assert!(threads.iter().any(|t| t.tid == pid));
    }
}
