//! A TCP echo server: every byte a client sends comes back to it.
//!
//! ```text
//! cargo run --example echo -- --port 7000
//! curl telnet://127.0.0.1:7000     # or: nc 127.0.0.1 7000
//! ```
//!
//! One thread serves every connection: each one is a task on the event loop,
//! and a task waiting for bytes costs a few hundred bytes of memory, not a
//! thread.

use std::io;
use std::process::ExitCode;

use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: echo [--port PORT]   (PORT 0 picks a free port; default 7000)";

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("echo: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    // The first line of stdout is the address: scripts and tests read it.
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A failed accept turns a client away, not the server down; the
            // listener pauses an error that would recur at once, so logging
            // it and accepting again never spins.
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                continue;
            }
        };
        // `spawn` puts the connection on this thread's loop; `detach` lets
        // it run on its own instead of being cancelled when the handle drops.
        bureau::spawn(async move {
            if let Err(e) = echo(stream).await {
                eprintln!("echo: {peer}: {e}");
            }
        })
        .detach();
    }
}

/// Copies what the client sends back to it until it closes its side.
async fn echo(stream: TcpStream) -> io::Result<()> {
    // A `TcpStream` is a cheap handle: one clone reads while the other writes.
    let mut writer = stream.clone();
    bureau::io::copy(&stream, &mut writer).await?;
    writer.close().await
}

fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 7000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number (0-65535)"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(port)
}
