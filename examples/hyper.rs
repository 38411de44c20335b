//! hyper's HTTP/1.1 and HTTP/2 server on bureau, through `bureau::hyper`
//! (the `hyper` feature): no adapter code here, and state that is not
//! `Send`.
//!
//! ```text
//! cargo run --features hyper --example hyper -- --port 3000
//! curl --http1.1 http://127.0.0.1:3000/hello
//! curl --http2-prior-knowledge http://127.0.0.1:3000/bytes/65536 | wc -c
//! kill -TERM <pid>            # or ctrl-c: a graceful shutdown
//! ```
//!
//! Routes:
//! - `/bytes/N` answers N bytes (at most 16 MiB), byte `i` being
//!   `i % 251`, so a client can check every one, in 64 KiB chunks made as
//!   hyper asks for them: a client that stops reading holds up one chunk
//!   and hyper's write buffer, not the whole body;
//! - `/slow?ms=N` answers after N ms (at most 600000);
//! - `/hold?n=N` answers once N requests (at most 10000) are in flight at
//!   once, itself among them, and so does every `/hold` request waiting
//!   then; or with 503 after 10 s;
//! - `/stats` counts the connections accepted, the requests, and the most
//!   requests in flight at once;
//! - any other path gets a greeting.
//!
//! One listener speaks both protocols: a connection that opens with
//! HTTP/2's preface (a client with prior knowledge, such as `curl
//! --http2-prior-knowledge`) is served by hyper's HTTP/2 server, any other
//! by its HTTP/1.1 server. The server reads a connection's first bytes
//! itself, up to the whole preface or the first byte that differs from
//! it, and hands hyper a stream that gives those bytes back first. The
//! counters are `Rc<Stats>`, shared by every connection and every HTTP/2
//! stream, which `bureau::hyper::BureauExecutor` runs on the loop's
//! thread.
//!
//! No connection waits on a silent client for more than `--idle SECS`
//! (default 10) at a time: for its first bytes, for an HTTP/1.1 request
//! head (the first, or the next on a kept-alive connection), or for the
//! answer to an HTTP/2 ping, which the server sends after that long
//! without a frame from the client. A client that stops reading an
//! answer is not timed out.
//!
//! At `SIGTERM` or `SIGINT` the server stops accepting, asks every
//! connection to finish (HTTP/1.1 closes after the request in flight;
//! HTTP/2 sends GOAWAY and finishes its open streams), waits for them at
//! most `--grace SECS` (default 10) or until a second signal, and exits 0.

use std::cell::{Cell, OnceCell, RefCell};
use std::convert::Infallible;
use std::error::Error;
use std::io;
use std::io::IoSlice;
use std::net::{Shutdown, SocketAddr};
use std::pin::{Pin, pin};
use std::process::ExitCode;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use bureau::hyper::{BureauExecutor, BureauIo, BureauTimer};
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;
use bureau::signal::{Signal, Signals};
use bureau::{Timer, future};
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

const USAGE: &str = "usage: hyper [--port PORT] [--grace SECS] [--idle SECS]
  PORT   0 picks a free port; default 3000
  grace  how long connections may take to finish after SIGTERM or ctrl-c;
         default 10
  idle   how long the server waits on a silent client: for its first
         bytes, an HTTP/1.1 request head, or the answer to an HTTP/2
         ping; default 10
  SECS   a decimal number, such as 0.5";
/// What an HTTP/2 client with prior knowledge sends first (RFC 9113,
/// section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a connection the server has closed may take to close its
/// client's side (see `linger`).
const LINGER: Duration = Duration::from_secs(1);
/// The longest body `/bytes/N` sends.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// How much of a `/bytes/N` body one chunk holds.
const CHUNK: usize = 64 * 1024;
/// The period of the `/bytes/N` pattern.
const PERIOD: usize = 251;
/// The longest wait `/slow` takes on.
const MAX_SLOW_MS: u64 = 600_000;
/// The most requests `/hold` waits for.
const MAX_HOLD: usize = 10_000;
/// How long `/hold` waits at most.
const HOLD_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("hyper: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every connection and stream shares, on the loop's thread only.
#[derive(Default)]
struct Stats {
    /// Connections accepted.
    connections: Cell<u64>,
    /// Requests received.
    requests: Cell<u64>,
    /// Requests being answered now.
    in_flight: Cell<usize>,
    /// The most requests answered at once.
    most_in_flight: Cell<usize>,
    /// What the `/hold` requests waiting now wait on: the first that finds
    /// enough requests in flight drops it, which answers them all.
    gate: RefCell<Option<(Sender<()>, Receiver<()>)>>,
    /// `CHUNK + PERIOD - 1` bytes of the `/bytes` pattern, made at the
    /// first request for it: every chunk of every `/bytes` body is a slice
    /// of it, with no copy.
    pattern: OnceCell<Bytes>,
}

/// What the command line asks for.
struct Args {
    port: u16,
    grace: Duration,
    idle: Duration,
}

async fn serve(Args { port, grace, idle }: Args) -> io::Result<()> {
    // Listening before the address is printed: from then on a `SIGTERM`
    // starts the shutdown instead of ending the process.
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let mut stdout = bureau::io::stdout();
    let address = format!("listening on http://{}/\n", listener.local_addr()?);
    stdout.write_all(address.as_bytes()).await?;
    stdout.flush().await?;

    let stats = Rc::new(Stats::default());
    // Each channel carries nothing: dropping its one sender closes it, which
    // every clone of the receiver sees at once.
    let (stop, stopping) = async_channel::bounded::<()>(1);
    // Every connection task holds a clone of `alive`; `all_closed` ends once
    // the last one is dropped.
    let (alive, all_closed) = async_channel::bounded::<()>(1);

    let accepting = async {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    stats.connections.set(stats.connections.get() + 1);
                    let connection = connection(
                        stream,
                        peer,
                        idle,
                        stats.clone(),
                        stopping.clone(),
                        alive.clone(),
                    );
                    bureau::spawn(connection).detach();
                }
                Err(e) => {
                    eprintln!("hyper: accept failed: {e}");
                    continue;
                }
            }
        }
    };
    let signal = future::or(accepting, next(&mut signals)).await;

    drop(listener);
    eprintln!("hyper: {signal}: shutting down: stopped accepting, finishing the connections");
    drop(stop);
    drop(alive);
    let all_done = async {
        let _ = all_closed.recv().await;
        None
    };
    let grace_over = async {
        Timer::after(grace).await;
        Some(format!("after {grace:?}"))
    };
    let again = async { Some(format!("at a second signal, {}", next(&mut signals).await)) };
    // `None` once every connection has finished; `Some(when)` if the wait
    // was cut short. Returning ends the process, which closes the rest.
    match future::or(all_done, future::or(grace_over, again)).await {
        None => eprintln!("hyper: every connection finished"),
        Some(when) => {
            let left = all_closed.sender_count();
            eprintln!("hyper: closed the {left} connection(s) left {when}");
        }
    }
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

/// Serves one connection in the protocol it opens with, until it ends or,
/// once `stopping` closes, until it has finished what it had begun.
/// `_alive` is dropped with the task.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    idle: Duration,
    stats: Rc<Stats>,
    stopping: Receiver<()>,
    _alive: Sender<()>,
) {
    // HTTP/2 writes a response as several frames: none may wait for the
    // client's acknowledgement of the one before.
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("hyper: {peer}: cannot turn Nagle's algorithm off: {e}");
    }
    let opened = async {
        match bureau::timeout(idle, opening(&mut stream)).await {
            Ok(result) => result,
            Err(bureau::TimedOut) => Ok(None),
        }
    };
    let stopped = async {
        let _ = stopping.recv().await;
        Ok(None)
    };
    let (first, http2) = match future::or(stopped, opened).await {
        Ok(Some(opening)) => opening,
        // Closed, silent or stopped before it said which protocol.
        Ok(None) => return,
        Err(e) => {
            eprintln!("hyper: {peer}: {e}");
            return;
        }
    };
    let service = service_fn(move |request| respond(request, stats.clone()));
    // The same socket, kept for the close once hyper is done with it.
    let socket = stream.clone();
    let io = BureauIo::new(Replay { first, stream });
    let served = if http2 {
        let connection = http2::Builder::new(BureauExecutor)
            .timer(BureauTimer)
            // After `idle` without a frame from the client, a ping; with no
            // answer within `idle` more, the connection closes.
            .keep_alive_interval(idle)
            .keep_alive_timeout(idle)
            .serve_connection(io, service);
        until_stopped(connection, &stopping, |c| c.graceful_shutdown()).await
    } else {
        let connection = http1::Builder::new()
            // With a timer, hyper closes connections that send their
            // headers too slowly; without one, it cannot.
            .timer(BureauTimer)
            .header_read_timeout(idle)
            .serve_connection(io, service);
        until_stopped(connection, &stopping, |c| c.graceful_shutdown()).await
    };
    if let Err(e) = served {
        eprintln!("hyper: {peer}: {e}");
    }
    linger(socket).await;
}

/// Closes the server's side of `stream` and reads and drops what the
/// client still sends, until it closes its side too or `LINGER` is over.
/// Closing a socket with bytes unread resets the connection, and a reset
/// can destroy the end of an answer the client has not read yet (HTTP/2
/// clients send window updates while they read, after the server's last
/// frame).
async fn linger(mut stream: TcpStream) {
    // It fails only if the connection is gone already.
    let _ = stream.shutdown(Shutdown::Write);
    let drain = async {
        let mut sink = [0; 4096];
        while let Ok(1..) = stream.read(&mut sink).await {}
    };
    let _ = bureau::timeout(LINGER, drain).await;
}

/// Reads the connection's first bytes, up to HTTP/2's whole preface or
/// the first byte that differs from it: those bytes, and whether they are
/// the preface. `None` if the client closes first (`P` or `PR` and then
/// nothing more may still become `POST`, so only the preface's end or a
/// byte that differs decides).
async fn opening(stream: &mut TcpStream) -> io::Result<Option<(Bytes, bool)>> {
    let mut first = [0; PREFACE.len()];
    let mut len = 0;
    while len < PREFACE.len() {
        let n = stream.read(&mut first[len..]).await?;
        if n == 0 {
            return Ok(None);
        }
        len += n;
        if !PREFACE.starts_with(&first[..len]) {
            return Ok(Some((Bytes::copy_from_slice(&first[..len]), false)));
        }
    }
    Ok(Some((Bytes::from_static(PREFACE), true)))
}

/// A stream that gives back `first`, the bytes already read from it,
/// before reading on.
struct Replay {
    first: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.first.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.first.len().min(buf.len());
        buf[..n].copy_from_slice(&self.first.split_to(n));
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

/// Drives `connection` to its end; if `stopping` closes first, asks it to
/// finish gracefully through `shutdown`, and drives it to its end.
async fn until_stopped<C>(
    connection: C,
    stopping: &Receiver<()>,
    shutdown: impl FnOnce(Pin<&mut C>),
) -> Result<(), Box<dyn Error>>
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut connection = pin!(connection);
    let finished = async { Some(connection.as_mut().await) };
    let stopped = async {
        let _ = stopping.recv().await;
        None
    };
    if let Some(result) = future::or(finished, stopped).await {
        return Ok(result?);
    }
    shutdown(connection.as_mut());
    Ok(connection.await?)
}

/// Counts a request in flight while it lives.
struct InFlight(Rc<Stats>);

impl InFlight {
    fn new(stats: Rc<Stats>) -> InFlight {
        let now = stats.in_flight.get() + 1;
        stats.in_flight.set(now);
        stats
            .most_in_flight
            .set(stats.most_in_flight.get().max(now));
        InFlight(stats)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.set(self.0.in_flight.get() - 1);
    }
}

/// A response's body: a text, or `/bytes/N`'s pattern.
type Body = Either<Full<Bytes>, Pattern>;

async fn respond(
    request: Request<Incoming>,
    stats: Rc<Stats>,
) -> Result<Response<Body>, Infallible> {
    stats.requests.set(stats.requests.get() + 1);
    let _in_flight = InFlight::new(stats.clone());
    let uri = request.uri();
    let path = uri.path();
    // HTTP/2 requests carry the whole URL; the greeting shows what
    // HTTP/1.1 would have sent.
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let response = if path == "/stats" {
        text(
            StatusCode::OK,
            format!(
                "connections {}\nrequests {}\nmost in flight {}\n",
                stats.connections.get(),
                stats.requests.get(),
                stats.most_in_flight.get(),
            ),
        )
    } else if let Some(len) = path.strip_prefix("/bytes/") {
        match len.parse::<usize>() {
            Ok(len) if len <= MAX_BYTES => {
                let source = stats.pattern.get_or_init(|| {
                    (0..CHUNK + PERIOD - 1)
                        .map(|i| (i % PERIOD) as u8)
                        .collect::<Vec<_>>()
                        .into()
                });
                Response::new(Either::Right(Pattern {
                    sent: 0,
                    len,
                    source: source.clone(),
                }))
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                format!("N must be a whole number from 0 to {MAX_BYTES}\n"),
            ),
        }
    } else if path == "/hold" {
        match query(uri, "n=").unwrap_or("1").parse::<usize>() {
            Ok(n) if n <= MAX_HOLD => hold(n, &stats).await,
            _ => text(
                StatusCode::BAD_REQUEST,
                format!("n must be a whole number from 0 to {MAX_HOLD}\n"),
            ),
        }
    } else if path == "/slow" {
        let ms = query(uri, "ms=").unwrap_or("1000");
        match ms.parse::<u64>() {
            Ok(ms) if ms <= MAX_SLOW_MS => {
                eprintln!("hyper: {target}: waiting {ms} ms");
                Timer::after(Duration::from_millis(ms)).await;
                text(StatusCode::OK, format!("waited {ms} ms\n"))
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                format!("ms must be a whole number from 0 to {MAX_SLOW_MS}\n"),
            ),
        }
    } else {
        text(
            StatusCode::OK,
            format!("Hello from hyper on bureau! You asked for {target}\n"),
        )
    };
    Ok(response)
}

/// The value of the query's field that starts with `name`, such as `ms=`.
fn query<'a>(uri: &'a hyper::Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name))
}

/// `/hold?n=N`: answers once `n` requests are in flight at once, or after
/// `HOLD_TIMEOUT`.
async fn hold(n: usize, stats: &Stats) -> Response<Body> {
    if stats.in_flight.get() < n {
        let gate = stats
            .gate
            .borrow_mut()
            .get_or_insert_with(|| async_channel::bounded(1))
            .1
            .clone();
        if let Err(bureau::TimedOut) = bureau::timeout(HOLD_TIMEOUT, gate.recv()).await {
            let message = format!(
                "gave up after {HOLD_TIMEOUT:?}: {} of {n} in flight\n",
                stats.in_flight.get()
            );
            return text(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    } else {
        // Its one sender dropped, the gate is closed: every request
        // waiting on it is answered.
        stats.gate.take();
    }
    text(StatusCode::OK, format!("held until {n} in flight\n"))
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
}

/// `/bytes/N`'s body, one chunk of at most `CHUNK` bytes each time hyper
/// asks: the bytes from `sent` to `len` of the pattern, byte `i` being
/// `i % PERIOD`.
struct Pattern {
    sent: usize,
    len: usize,
    /// The pattern from 0 to `CHUNK + PERIOD - 1`: the chunk from `sent`
    /// is its slice from `sent % PERIOD`.
    source: Bytes,
}

impl hyper::body::Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let n = (self.len - self.sent).min(CHUNK);
        if n == 0 {
            return Poll::Ready(None);
        }
        let from = self.sent % PERIOD;
        let chunk = self.source.slice(from..from + n);
        self.sent += n;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent == self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.len - self.sent) as u64)
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 3000,
        grace: Duration::from_secs(10),
        idle: Duration::from_secs(10),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                parsed.port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number (0-65535)"))?;
            }
            "--grace" => parsed.grace = seconds("--grace", args.next())?,
            "--idle" => {
                parsed.idle = seconds("--idle", args.next())?;
                if parsed.idle.is_zero() {
                    return Err("--idle: 0 would close every connection at once".into());
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

/// The value of `flag`, a number of seconds.
fn seconds(flag: &str, value: Option<String>) -> Result<Duration, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{flag}: {value:?} is not a number of seconds (0 or more)"))
}
