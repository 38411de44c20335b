//! An HTTP/1.1 service that shuts down gracefully on `SIGTERM` or ctrl-c,
//! the way a service manager (systemd, Kubernetes, `docker stop`) expects.
//!
//! ```text
//! cargo run --example service -- --port 8080 --grace 10
//! curl http://127.0.0.1:8080/slow?ms=5000 &     # a request that takes 5 s
//! kill -TERM <pid>                               # or ctrl-c in its terminal
//! ```
//!
//! Routes: `GET /` answers at once; `GET /slow?ms=N` answers after N ms
//! (at most 600000), so that a request can be in flight when the signal
//! comes.
//!
//! At the first `SIGTERM` or `SIGINT` the service:
//! 1. stops accepting: the listener is dropped, so new connections are
//!    refused;
//! 2. closes the idle connections (between requests, or opened but
//!    silent), and lets each request in flight finish, answered with
//!    `Connection: close`;
//! 3. waits for them at most `--grace SECS` (default 10); at the deadline,
//!    or at a second signal, it closes whatever is left;
//! 4. says on stderr what it did, and exits 0.
//!
//! A connection is in flight from the first byte of a request until its
//! response is written, so a client that has sent half a request is waited
//! for, up to the deadline. Every step is on the one loop thread: the
//! signals arrive as a stream on the loop, next to the sockets and timers.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use bureau::io::BufReader;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;
use bureau::signal::{Signal, Signals};
use bureau::{Timer, future};

const USAGE: &str = "usage: service [--port PORT] [--grace SECS]
  PORT  0 picks a free port; default 8080
  SECS  how long requests in flight may take to finish after SIGTERM or
        ctrl-c (a decimal number, such as 0.5); default 10";
/// The most bytes a request line plus headers may take.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body the server reads (and ignores).
const MAX_BODY: u64 = 1024 * 1024;
/// How long a connection may take to send a whole request head, or wait
/// between two requests.
const IDLE: Duration = Duration::from_secs(30);
/// The longest wait `/slow` takes on.
const MAX_SLOW_MS: u64 = 600_000;
/// How long a log line may wait for stderr before it is dropped.
const LOG_LIMIT: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let (port, grace) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("service: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    bureau::block_on(async {
        let result = serve(port, grace).await;
        if let Err(e) = &result {
            log(format_args!("{e}")).await;
        }
        // The log goes out through the pool: bytes not written at exit
        // would be lost.
        let _ = bureau::io::stderr().flush().await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}

/// What the connections and `serve` share.
struct Server {
    /// Connections open now.
    open: Cell<usize>,
    /// Connections with a request in flight now.
    busy: Cell<usize>,
    /// Closed when shutdown begins: idle connections close, and busy ones
    /// answer their request with `Connection: close`.
    stopping: Receiver<()>,
    /// Closed at the deadline: whatever is left closes.
    deadline: Receiver<()>,
}

async fn serve(port: u16, grace: Duration) -> io::Result<()> {
    // Listening before the address is printed: from then on a `SIGTERM`
    // starts the shutdown instead of ending the process.
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    // Not `println!`, which panics if nobody reads stdout any more, nor a
    // blocking write on the loop's thread.
    let mut stdout = bureau::io::stdout();
    let address = format!("listening on http://{}/\n", listener.local_addr()?);
    stdout.write_all(address.as_bytes()).await?;
    stdout.flush().await?;

    // Each channel carries nothing: dropping its one sender closes it,
    // which every clone of the receiver sees at once.
    let (stop, stopping) = async_channel::bounded::<()>(1);
    let (cut, deadline) = async_channel::bounded::<()>(1);
    // Every connection task holds a clone of `alive`; `all_closed` ends
    // once the last clone is dropped.
    let (alive, all_closed) = async_channel::bounded::<()>(1);
    let server = Rc::new(Server {
        open: Cell::new(0),
        busy: Cell::new(0),
        stopping,
        deadline,
    });

    let accepting = async {
        loop {
            accept(&listener, &server, &alive).await;
        }
    };
    let signal = future::or(accepting, next(&mut signals)).await;

    // 1. New connections are refused from here on.
    drop(listener);
    let started = Instant::now();
    let (busy, open) = (server.busy.get(), server.open.get());
    log(format_args!(
        "{signal}: shutting down: stopped accepting; {} in flight, closing {} \
         (waiting at most {grace:?})",
        plural(busy, "request"),
        plural(open - busy, "idle connection"),
    ))
    .await;
    // 2. Idle connections close; busy ones finish.
    drop(stop);
    drop(alive);

    // 3. Wait for the busy ones, up to the deadline or another signal.
    let all_done = async {
        let _ = all_closed.recv().await;
        None
    };
    let grace_over = async {
        Timer::after(grace).await;
        Some("at the deadline".to_owned())
    };
    let again = async { Some(format!("at a second signal, {}", next(&mut signals).await)) };
    // `None` once every connection has closed by itself; `Some(when)` if
    // the wait was cut short.
    let cut_short = future::or(all_done, future::or(grace_over, again)).await;
    match cut_short {
        None => {
            log(format_args!(
                "all requests done in {:.1?}",
                started.elapsed()
            ))
            .await
        }
        Some(when) => {
            let left = server.open.get();
            drop(cut);
            // Each connection races its work against `Server::deadline`, so they
            // all end at once now (and a log line of theirs waits at most
            // `LOG_LIMIT`): the bound is a bound.
            let _ = bureau::timeout(2 * LOG_LIMIT, all_closed.recv()).await;
            log(format_args!("closed {} {when}", plural(left, "connection"))).await;
        }
    }
    // 4. `main` exits 0.
    Ok(())
}

/// The next signal that arrives.
async fn next(signals: &mut Signals) -> Signal {
    match signals.next().await {
        Some(signal) => signal,
        // A `Signals` stream never ends; were it to, no signal would come.
        None => future::pending().await,
    }
}

/// Accepts one connection and spawns its task.
async fn accept(listener: &TcpListener, server: &Rc<Server>, alive: &Sender<()>) {
    let (stream, peer) = match listener.accept().await {
        Ok(accepted) => accepted,
        // A failed accept turns a client away, not the server down; the
        // listener pauses an error that would recur at once, so logging it
        // and accepting again never spins.
        Err(e) => {
            log(format_args!("accept failed: {e}")).await;
            return;
        }
    };
    let open = Open::new(server.clone(), alive.clone());
    bureau::spawn(async move {
        if let Err(e) = serve_connection(stream, peer, &open.server).await {
            log(format_args!("{peer}: {e}")).await;
        }
        drop(open);
    })
    .detach();
}

/// Counts a connection open while it lives, and keeps `alive` open.
struct Open {
    server: Rc<Server>,
    _alive: Sender<()>,
}

impl Open {
    fn new(server: Rc<Server>, alive: Sender<()>) -> Open {
        server.open.set(server.open.get() + 1);
        Open {
            server,
            _alive: alive,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.server.open.set(self.server.open.get() - 1);
    }
}

/// Counts a request in flight while it lives.
struct Busy<'a>(&'a Server);

impl<'a> Busy<'a> {
    fn new(server: &'a Server) -> Busy<'a> {
        server.busy.set(server.busy.get() + 1);
        Busy(server)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get() - 1);
    }
}

/// Serves one connection until the client closes it or asks to, it stays
/// idle for `IDLE`, shutdown finds it idle, or the deadline comes. Dropping
/// the stream closes the connection.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, server: &Server) -> io::Result<()> {
    let mut reader = BufReader::new(stream.clone());
    let mut writer = stream;
    loop {
        // Idle: shutdown wins over a request that arrives at the same time
        // (`or` polls it first), so that the count logged at shutdown
        // holds. A client must be ready to retry on a keep-alive
        // connection that closes anyway.
        let stopped = async {
            let _ = server.stopping.recv().await;
            Ok(0)
        };
        let arrived = async {
            match bureau::timeout(IDLE, reader.fill_buf()).await {
                Ok(bytes) => bytes.map(|b| b.len()),
                Err(bureau::TimedOut) => Ok(0),
            }
        };
        if future::or(stopped, arrived).await? == 0 {
            return Ok(());
        }

        let busy = Busy::new(server);
        let answered = async {
            let request = match bureau::timeout(IDLE, read_request(&mut reader)).await {
                Err(bureau::TimedOut) => return Ok(Some(false)),
                Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                    let body = format!("bad request: {e}\n");
                    writer
                        .write_all(&response(400, "Bad Request", &body, false))
                        .await?;
                    return Ok(Some(false));
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(request)) => request,
            };
            log(format_args!(
                "{peer}: request {} {}",
                request.method, request.target
            ))
            .await;
            let (status, reason, body) = route(&request).await;
            // Decided after the work: shutdown may have begun meanwhile.
            let keep_alive = request.keep_alive && !server.stopping.is_closed();
            let mut bytes = response(status, reason, &body, keep_alive);
            if request.method == "HEAD" {
                bytes.truncate(bytes.len() - body.len());
            }
            writer.write_all(&bytes).await?;
            Ok(Some(keep_alive))
        };
        // `None`: cut at the deadline, answered or not.
        let cut = async {
            let _ = server.deadline.recv().await;
            Ok(None)
        };
        let keep_alive = future::or(cut, answered).await?;
        drop(busy);
        match keep_alive {
            Some(true) => {}
            Some(false) => return writer.close().await,
            None => return Ok(()),
        }
    }
}

/// What the routes need of a request.
struct Request {
    method: String,
    target: String,
    keep_alive: bool,
}

/// The status, reason and body that answer `request`.
async fn route(request: &Request) -> (u16, &'static str, String) {
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return (405, "Method Not Allowed", "only GET and HEAD\n".into());
    }
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    match path {
        "/" => (200, "OK", "Hello from bureau!\n".into()),
        "/slow" => {
            let ms = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("ms="))
                .unwrap_or("1000");
            match ms.parse::<u64>() {
                Ok(ms) if ms <= MAX_SLOW_MS => {
                    Timer::after(Duration::from_millis(ms)).await;
                    (200, "OK", format!("waited {ms} ms\n"))
                }
                _ => (
                    400,
                    "Bad Request",
                    format!("ms must be a whole number from 0 to {MAX_SLOW_MS}\n"),
                ),
            }
        }
        _ => (404, "Not Found", "not found\n".into()),
    }
}

/// Reads one request head and skips its body. An `InvalidData` error if it
/// is not HTTP/1.x, or if where it ends is in doubt (see examples/http.rs,
/// which spells out why); an `UnexpectedEof` one if the client closed the
/// connection inside it.
async fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Request> {
    let mut lines = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let mut line = Vec::new();
        // `take` bounds the head, so a client cannot make us buffer forever.
        let n = (&mut *reader)
            .take(budget as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if !line.ends_with(b"\n") {
            return Err(invalid("the request head is too long"));
        }
        budget -= n;
        let line = String::from_utf8(line).map_err(|_| invalid("the request head is not text"))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        lines.push(line.to_owned());
    }
    let Some((request_line, headers)) = lines.split_first() else {
        return Err(invalid("the request line is empty"));
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the request line is not `METHOD TARGET HTTP/1.1`"));
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(invalid("only HTTP/1.0 and HTTP/1.1 are spoken here")),
    };
    if target.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(invalid("the request target has a control byte"));
    }
    let mut content_length = None;
    for header in headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid("a header line has no `:`"))?;
        let value = value.trim();
        if !is_token(name) {
            return Err(invalid("a header name is not a token"));
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = value.eq_ignore_ascii_case("keep-alive");
        } else if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("Content-Length is not one plain number"));
            }
            content_length = Some(value.parse().map_err(|_| invalid("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("Transfer-Encoding is not supported"));
        }
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY {
        return Err(invalid("the request body is too large"));
    }
    let skipped = bureau::io::copy((&mut *reader).take(body_len), &mut bureau::io::sink()).await?;
    if skipped < body_len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        keep_alive,
    })
}

/// Whether `s` is an HTTP token (RFC 9110 section 5.6.2), as a header name
/// must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn response(status: u16, reason: &str, body: &str, keep_alive: bool) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Connection: {connection}\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

/// Writes `service: MESSAGE` to stderr, through `bureau::io::stderr()`, so
/// a slow stderr holds up the task that logs, never the loop. One line is
/// one write: lines of different tasks never mix.
///
/// A line that stderr does not take within [`LOG_LIMIT`] (a stalled pipe, a
/// reader that went away) is dropped: a log must not hold up a request, nor
/// the shutdown's deadline.
async fn log(message: std::fmt::Arguments<'_>) {
    let line = format!("service: {message}\n");
    // A log line that cannot be written is no reason to fail a request.
    let _ = bureau::timeout(LOG_LIMIT, bureau::io::stderr().write_all(line.as_bytes())).await;
}

/// `1 request`, `2 requests`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(u16, Duration), String> {
    let (mut port, mut grace) = (8080, Duration::from_secs(10));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number (0-65535)"))?;
            }
            "--grace" => {
                let value = args.next().ok_or("--grace needs a value")?;
                grace = value
                    .parse()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .ok_or_else(|| {
                        format!("--grace: {value:?} is not a number of seconds (0 or more)")
                    })?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((port, grace))
}
