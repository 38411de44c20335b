//! The echo server on smol (async-executor's `LocalExecutor`, async-io,
//! async-net): accepts, and echoes each connection through a 4 KiB buffer.
//!
//! The same server as `echo_bureau`, `echo_tokio` and `echo_raw`; it must
//! use only std, smol's crates, futures-lite and `ticks.rs` (std alone), so
//! that its footprint is smol's, and never panic on a client's I/O error.
//!
//! usage: echo_smol ADDR [--tick] [--lateness]   (--tick: a 1 s interval
//! timer, as the idle workload asks; --lateness: a 5 ms interval timer that
//! logs each tick's lateness on stderr, as timer-under-load asks)

#[path = "../ticks.rs"]
mod ticks;

use async_executor::LocalExecutor;
use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::process::ExitCode;
use std::time::Duration;
use ticks::{SERVER_PERIOD, log_tick};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: echo_smol ADDR [--tick] [--lateness]");
        return ExitCode::FAILURE;
    };
    let flags: Vec<String> = args.collect();
    let tick = flags.iter().any(|a| a == "--tick");
    let lateness = flags.iter().any(|a| a == "--lateness");
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("echo_smol: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        if tick {
            ex.spawn(async {
                let mut interval = Timer::interval(Duration::from_secs(1));
                while interval.next().await.is_some() {}
            })
            .detach();
        }
        if lateness {
            ex.spawn(async {
                let mut interval = Timer::interval(SERVER_PERIOD);
                while let Some(deadline) = interval.next().await {
                    log_tick(deadline);
                }
            })
            .detach();
        }
        loop {
            match listener.accept().await {
                Ok((stream, _)) => ex.spawn(echo(stream)).detach(),
                Err(error) => eprintln!("echo_smol: accept: {error}"),
            }
        }
    }))
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
