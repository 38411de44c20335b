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
use std::time::Duration;

use bureau::Timer;
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
            // A failed accept turns a client away, not the server down. Out of
            // descriptors, the listener itself refuses the waiting clients and
            // waits for a new one; only an error that would recur at once needs
            // a pause (see `may_fail_again_at_once`).
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                if may_fail_again_at_once(&e) {
                    Timer::after(Duration::from_millis(100)).await;
                }
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

/// Whether an accept that failed with `e` would fail the same way if tried
/// again at once. Out of descriptors (`EMFILE`, `ENFILE`), the listener has
/// already turned away the clients that were waiting and waits for a new
/// one; an aborted connection has left the queue. Neither repeats. Other
/// errors (`ENOMEM`, a security module's `EACCES`) leave the client queued and
/// the listener ready: retried at once, accept would fail again and again
/// without ever letting the loop run another task.
fn may_fail_again_at_once(e: &io::Error) -> bool {
    use rustix::io::Errno;
    let out_of_descriptors = [Errno::MFILE, Errno::NFILE].map(Errno::raw_os_error);
    e.kind() != io::ErrorKind::ConnectionAborted
        && !e
            .raw_os_error()
            .is_some_and(|code| out_of_descriptors.contains(&code))
}
