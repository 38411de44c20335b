//! The echo server on bureau: accepts, and echoes each connection through a
//! 4 KiB buffer.
//!
//! The same server as `echo_smol`, `echo_tokio` and `echo_raw`; it must use
//! only std and bureau, so that its footprint is bureau's, and never panic
//! on a client's I/O error.
//!
//! usage: echo_bureau ADDR [--tick]   (--tick: a 1 s interval timer, as the
//! idle workload asks)

use bureau::Timer;
use bureau::io::{AsyncReadExt, AsyncWriteExt};
use bureau::net::{TcpListener, TcpStream};
use bureau::stream::StreamExt;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: echo_bureau ADDR [--tick]");
        return ExitCode::FAILURE;
    };
    let tick = args.any(|a| a == "--tick");
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
