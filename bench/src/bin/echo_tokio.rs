//! The echo server on tokio's current-thread runtime: accepts, and echoes
//! each connection through a 4 KiB buffer; tasks go through a `LocalSet`,
//! or through `tokio::spawn` with `--spawn`.
//!
//! The same server as `echo_bureau`, `echo_smol` and `echo_raw`; it must use
//! only std, tokio and `ticks.rs` (std alone), so that its footprint is
//! tokio's, and never panic on a client's I/O error.
//!
//! usage: echo_tokio ADDR [--tick] [--lateness] [--spawn]   (--tick: a 1 s
//! interval timer, as the idle workload asks; --lateness: a 5 ms interval
//! timer that logs each tick's lateness on stderr, as timer-under-load
//! asks; its missed ticks fire in a burst, as bureau's and smol's do)

#[path = "../ticks.rs"]
mod ticks;

use std::process::ExitCode;
use std::time::Duration;
use ticks::{SERVER_PERIOD, log_tick};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;
use tokio::time::{Instant, MissedTickBehavior};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().cloned() else {
        eprintln!("usage: echo_tokio ADDR [--tick] [--lateness] [--spawn]");
        return ExitCode::FAILURE;
    };
    let tick = args.iter().any(|a| a == "--tick");
    let lateness = args.iter().any(|a| a == "--lateness");
    let global = args.iter().any(|a| a == "--spawn");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("echo_tokio: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    LocalSet::new().block_on(&rt, async move {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("echo_tokio: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        if tick {
            tokio::task::spawn_local(async {
                let mut interval = tokio::time::interval(Duration::from_secs(1));
                loop {
                    interval.tick().await;
                }
            });
        }
        if lateness {
            // Spawned the way the echo tasks are, so that it queues beside them.
            let ticker = async {
                let start = Instant::now() + SERVER_PERIOD;
                let mut interval = tokio::time::interval_at(start, SERVER_PERIOD);
                interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
                loop {
                    log_tick(interval.tick().await.into_std());
                }
            };
            if global {
                drop(tokio::spawn(ticker));
            } else {
                drop(tokio::task::spawn_local(ticker));
            }
        }
        loop {
            match listener.accept().await {
                Ok((stream, _)) if global => drop(tokio::spawn(echo(stream))),
                Ok((stream, _)) => drop(tokio::task::spawn_local(echo(stream))),
                Err(error) => eprintln!("echo_tokio: accept: {error}"),
            }
        }
    })
}

async fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
