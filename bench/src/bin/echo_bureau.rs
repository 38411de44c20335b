//! The echo server on bureau: accepts, and echoes each connection through a
//! 4 KiB buffer.
//!
//! The same server as `echo_smol`, `echo_tokio` and `echo_raw`; it must use
//! only std, bureau and `ticks.rs` (std alone), so that its footprint is
//! bureau's, and never panic on a client's I/O error.
//!
//! usage: echo_bureau ADDR [--tick] [--lateness]   (--tick: a 1 s interval
//! timer, as the idle workload asks; --lateness: a 5 ms interval timer that
//! logs each tick's lateness on stderr, as timer-under-load asks)

#[path = "../ticks.rs"]
mod ticks;

use bureau::Timer;
use bureau::io::{AsyncReadExt, AsyncWriteExt};
use bureau::net::{TcpListener, TcpStream};
use bureau::stream::StreamExt;
use std::process::ExitCode;
use std::time::Duration;
use ticks::{SERVER_PERIOD, log_tick};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: echo_bureau ADDR [--tick] [--lateness]");
        return ExitCode::FAILURE;
    };
    let flags: Vec<String> = args.collect();
    let tick = flags.iter().any(|a| a == "--tick");
    let lateness = flags.iter().any(|a| a == "--lateness");
    bureau::block_on(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("echo_bureau: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        if tick {
            bureau::spawn(async {
                let mut interval = Timer::interval(Duration::from_secs(1));
                while interval.next().await.is_some() {}
            })
            .detach();
        }
        if lateness {
            bureau::spawn(async {
                let mut interval = Timer::interval(SERVER_PERIOD);
                while let Some(deadline) = interval.next().await {
                    log_tick(deadline);
                }
            })
            .detach();
        }
        loop {
            match listener.accept().await {
                Ok((stream, _)) => bureau::spawn(echo(stream)).detach(),
                Err(error) => eprintln!("echo_bureau: accept: {error}"),
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
