//! A TCP proxy: every connection to `--listen` is forwarded to `--to`, and
//! the bytes flow both ways until each side is done.
//!
//! ```text
//! cargo run --example echo -- --port 7000
//! cargo run --example proxy -- --listen 127.0.0.1:7002 --to 127.0.0.1:7000
//! ```
//!
//! `--to` may name a host (`example.com:80`): the lookup runs on bureau's
//! blocking pool, because `getaddrinfo` can only block.

use std::io;
use std::process::ExitCode;

use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: proxy --listen HOST:PORT --to HOST:PORT   (port 0 picks a free port)";

fn main() -> ExitCode {
    let (listen, to) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("proxy: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(listen, to)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listen: String, to: String) -> io::Result<()> {
    // Check `--to` now, for a clear error at start rather than one per client.
    bureau::net::resolve(to.as_str())
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve --to {to}: {e}")))?;
    let listener = TcpListener::bind(listen.as_str())
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A failed accept turns a client away, not the server down; the
            // listener pauses an error that would recur at once, so logging
            // it and accepting again never spins.
            Err(e) => {
                eprintln!("proxy: accept failed: {e}");
                continue;
            }
        };
        let to = to.clone();
        bureau::spawn(async move {
            if let Err(e) = forward(client, &to).await {
                eprintln!("proxy: {peer} -> {to}: {e}");
            }
        })
        .detach();
    }
}

/// Connects to the upstream and copies both ways at once.
async fn forward(client: TcpStream, to: &str) -> io::Result<()> {
    let upstream = TcpStream::connect(to).await?;
    // `try_zip` polls both copies in this one task; no thread, no extra task.
    bureau::future::try_zip(
        pipe(client.clone(), upstream.clone()),
        pipe(upstream, client),
    )
    .await?;
    Ok(())
}

/// Copies `from` into `to`, then passes the end of the stream on (a write
/// shutdown), so a half-closed connection stays half-closed, not cut.
async fn pipe(from: TcpStream, mut to: TcpStream) -> io::Result<u64> {
    let copied = bureau::io::copy(&from, &mut to).await?;
    to.close().await?;
    Ok(copied)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(String, String), String> {
    let (mut listen, mut to) = (None, None);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--listen" => &mut listen,
            "--to" => &mut to,
            other => return Err(format!("unknown argument {other:?}")),
        };
        *slot = Some(args.next().ok_or(format!("{arg} needs a value"))?);
    }
    match (listen, to) {
        (Some(listen), Some(to)) => Ok((listen, to)),
        _ => Err("both --listen and --to are required".to_owned()),
    }
}
