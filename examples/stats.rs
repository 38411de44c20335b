//! The loop's figures over HTTP, the way a service exposes its metrics:
//! `GET /stats` answers `bureau::stats()` as JSON.
//!
//! ```text
//! cargo run --example stats -- --port 8000
//! curl http://127.0.0.1:8000/stats
//! ```
//!
//! Each request is read up to its blank line and answered with one
//! response, then the connection closes (`Connection: close`): enough for
//! curl and a scraper, and it keeps the example short. The JSON is written
//! by hand: its fields are numbers and the durations are in seconds.

use std::fmt::Write as _;
use std::io;
use std::process::ExitCode;

use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: stats [--port PORT]   (PORT 0 picks a free port; default 8000)";

/// The most of a request that is read: its line and headers.
const MAX_REQUEST: usize = 8 * 1024;

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("stats: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stats: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    // The first line of stdout is the address: scripts and tests read it.
    println!("listening on http://{}/", listener.local_addr()?);
    println!("GET /stats answers this loop's figures as JSON");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The listener pauses an error that would recur at once.
            Err(e) => {
                eprintln!("stats: accept failed: {e}");
                continue;
            }
        };
        bureau::spawn(async move {
            if let Err(e) = answer(stream).await {
                eprintln!("stats: {peer}: {e}");
            }
        })
        .detach();
    }
}

/// Reads one request and answers it: the snapshot for `GET /stats`, 404
/// for any other path, 400 for what is not a request.
async fn answer(mut stream: TcpStream) -> io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if request.len() > MAX_REQUEST {
            return respond(&mut stream, "431 Request Header Fields Too Large", "").await;
        }
    }
    let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    match (words.next(), words.next()) {
        (Some(b"GET"), Some(b"/stats")) => respond(&mut stream, "200 OK", &json()).await,
        (Some(_), Some(_)) => respond(&mut stream, "404 Not Found", "").await,
        _ => respond(&mut stream, "400 Bad Request", "").await,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let kind = if body.is_empty() {
        "text/plain"
    } else {
        "application/json"
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.close().await
}

/// This thread's loop as JSON: durations in seconds.
fn json() -> String {
    let s = bureau::stats();
    let (r, p, d) = (&s.reactor, &s.pool, &s.delay);
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        out,
        "{{\"tasks_alive\":{},\"tasks_spawned\":{},\"polls\":{},\"queued\":{},\
         \"busy\":{},\"idle\":{},\"utilization\":{:.4},\"slow_polls\":{},\
         \"delay\":{{\"count\":{},\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"reactor\":{{\"turns\":{},\"io_wakes\":{},\"timers_fired\":{},\
         \"timers_pending\":{},\"remote_wakes\":{}}},\
         \"pool\":{{\"threads\":{},\"idle\":{},\"queued\":{},\"ran\":{}}}}}",
        s.tasks_alive,
        s.tasks_spawned,
        s.polls,
        s.queued,
        s.busy.as_secs_f64(),
        s.idle.as_secs_f64(),
        s.utilization(),
        s.slow_polls,
        d.count(),
        d.percentile(0.5).as_secs_f64(),
        d.percentile(0.99).as_secs_f64(),
        d.max().as_secs_f64(),
        r.turns,
        r.events,
        r.timers_fired,
        r.timers_pending,
        r.notifies,
        p.threads,
        p.idle,
        p.queued,
        p.ran,
    );
    out
}

fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 8000;
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
