//! The tcp-echo workload: C connections, 64-byte messages in a closed loop,
//! driven by `loadgen`; and the memory row at C = 10,000.
//!
//! It must bound every run by its duration (`--secs`), and count the server
//! only (its CPU and RSS, from `/proc`), never the load generator.

use super::{Flavor, Server, bin_dir, field, rows_by_flavor};
use crate::cli::Options;
use crate::report::{Better, Metric, Row, Target};
use std::io;
use std::process::Command;

/// The connection count of the memory row.
const MEMORY_CONNS: usize = 10_000;

/// Each connection's own echo buffer, taken out of the memory row.
const BUFFER_KIB: f64 = 4.0;

fn metrics() -> Vec<Metric> {
    vec![
        Metric {
            name: "messages/s",
            better: Better::Higher,
            targets: vec![Target::peer_at_least(1.0)],
        },
        Metric {
            name: "p50 µs",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "p99 µs",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "server CPU µs/message",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.9), Target::reference_at_most(1.15)],
        },
        Metric {
            name: "of which user µs/message",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "server RSS MiB",
            better: Better::Lower,
            targets: vec![],
        },
    ]
}

/// Runs tcp-echo at each connection count of `options`, `options.secs`
/// seconds per server.
pub fn tcp_echo(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    for &count in &options.conns {
        let workload = format!("tcp-echo C={count}");
        let echo_rows = rows_by_flavor(options, &workload, &Flavor::ALL, &metrics(), 0, |flavor| {
            run(flavor, count, options.secs)
        });
        let rss = echo_rows.last().cloned();
        rows.extend(echo_rows);
        if count == MEMORY_CONNS {
            let buffers_mib = count as f64 * BUFFER_KIB / 1024.0;
            let less_buffers = |v: Option<f64>| v.map(|mib| mib - buffers_mib);
            if let Some(rss) = rss {
                let mut row = Row::new(workload, "RSS less 4 KiB buffers, MiB", Better::Lower)
                    .with_targets(&[Target::peer_at_most(0.7)]);
                row.bureau = less_buffers(rss.bureau);
                row.smol = less_buffers(rss.smol);
                row.tokio = less_buffers(rss.tokio);
                row.tokio_via = rss.tokio_via;
                row.reference_name = "raw";
                row.reference = less_buffers(rss.reference);
                rows.push(row);
            }
        }
    }
    rows
}

fn run(flavor: Flavor, conns: usize, secs: u64) -> io::Result<Vec<f64>> {
    let server = Server::start(flavor, "echo", &[])?;
    let output = Command::new(bin_dir()?.join("loadgen"))
        .args(["echo", &server.addr.to_string()])
        .args(["--conns", &conns.to_string(), "--secs", &secs.to_string()])
        .args(["--pid", &server.pid().to_string()])
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let messages = field(&line, "messages")?;
    Ok(vec![
        messages / field(&line, "secs")?,
        field(&line, "p50_us")?,
        field(&line, "p99_us")?,
        field(&line, "server_cpu_us")? / messages,
        field(&line, "server_user_us")? / messages,
        field(&line, "server_rss_kib")? / 1024.0,
    ])
}
