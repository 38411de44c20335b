//! hyper's HTTP client on bureau, through `bureau::hyper` (the `hyper`
//! feature): fetches `http://` URLs over connections it keeps open and
//! reuses, each fetch bounded by `bureau::timeout`.
//!
//! ```text
//! cargo run --features hyper --example hyper -- --port 3000 &
//! cargo run --features hyper --example hyper_client -- http://127.0.0.1:3000/hello
//! cargo run --features hyper --example hyper_client -- --count 1000 --http2 \
//!     http://127.0.0.1:3000/bytes/100
//! ```
//!
//! With `--count 1` (the default) each body goes to stdout. After each URL
//! a line on stderr says how many responses came, with which statuses,
//! how many body bytes, and over how many connections: fetches to one
//! host and port share a connection (HTTP/1.1 keep-alive, or one HTTP/2
//! connection), and a new one opens only when the server closed the last.
//!
//! A refused connection, a host that does not resolve, a fetch slower than
//! `--timeout` or a malformed URL ends the program with one line on stderr
//! that says so, and exit code 1; a failing `--http2` connection adds
//! that the server may not speak HTTP/2 with prior knowledge.

use std::collections::HashMap;
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use bureau::Task;
use bureau::hyper::{BureauExecutor, BureauIo, BureauTimer};
use bureau::net::TcpStream;
use bureau::prelude::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper::header::HOST;
use hyper::{Request, StatusCode, Uri};

const USAGE: &str = "usage: hyper_client [--count N] [--timeout SECS] [--http2] [URL...]
  URL   an http:// URL; default http://127.0.0.1:3000/ (examples/hyper.rs)
  N     fetches of each URL, over reused connections; default 1
  SECS  the longest one fetch may take, connecting included (a decimal
        number, such as 0.5); default 10
  --http2  speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1";

/// What the command line asks for.
struct Args {
    urls: Vec<Target>,
    count: u64,
    timeout: Duration,
    http2: bool,
}

/// An `http://` URL, checked.
struct Target {
    uri: Uri,
    /// `host:port`, the port filled in.
    authority: String,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("hyper_client: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hyper_client: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut pool = Pool {
        http2: args.http2,
        open: HashMap::new(),
        opened: 0,
    };
    let mut stdout = bureau::io::stdout();
    for target in &args.urls {
        let opened_before = pool.opened;
        let mut statuses: Vec<(StatusCode, u64)> = Vec::new();
        let mut bytes = 0;
        for _ in 0..args.count {
            let fetched = bureau::timeout(args.timeout, pool.fetch(target)).await;
            let (status, body) = match fetched {
                Ok(Ok(response)) => response,
                Ok(Err(message)) => return Err(format!("{}: {message}", target.uri)),
                Err(bureau::TimedOut) => {
                    return Err(format!(
                        "{}: timed out: no whole answer within {:?}",
                        target.uri, args.timeout
                    ));
                }
            };
            match statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => statuses.push((status, 1)),
            }
            bytes += body.len();
            if args.count == 1 {
                stdout
                    .write_all(&body)
                    .await
                    .map_err(|e| format!("stdout: {e}"))?;
            }
        }
        stdout.flush().await.map_err(|e| format!("stdout: {e}"))?;
        let statuses: Vec<String> = statuses
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect();
        let connections = pool.opened - opened_before;
        eprintln!(
            "hyper_client: {}: {}, {bytes} body bytes, {connections} new connection{}",
            target.uri,
            statuses.join(", "),
            if connections == 1 { "" } else { "s" },
        );
    }
    Ok(())
}

/// One open connection per `host:port`, reused by every fetch there.
struct Pool {
    http2: bool,
    open: HashMap<String, Connection>,
    /// Connections opened so far.
    opened: u64,
}

/// A connection's sending half, and the task that drives it (dropping the
/// task closes the connection), which ends with the connection's error.
struct Connection {
    sender: Sender,
    driver: Task<hyper::Result<()>>,
}

enum Sender {
    Http1(http1::SendRequest<Empty<Bytes>>),
    Http2(http2::SendRequest<Empty<Bytes>>),
}

impl Connection {
    /// Whether the server has not closed it.
    fn is_open(&self) -> bool {
        match &self.sender {
            Sender::Http1(sender) => !sender.is_closed(),
            Sender::Http2(sender) => !sender.is_closed(),
        }
    }

    /// GETs `target` on this connection: its status and whole body.
    async fn get(&mut self, target: &Target) -> Result<(StatusCode, Bytes), Box<dyn Error>> {
        let response = match &mut self.sender {
            Sender::Http1(sender) => {
                // HTTP/1.1 sends the path, with the host in a header.
                let path = target.uri.path_and_query().map_or("/", |p| p.as_str());
                let request = Request::get(path)
                    .header(HOST, &target.authority)
                    .body(Empty::new())?;
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Sender::Http2(sender) => {
                // HTTP/2 carries the scheme and authority as fields of
                // their own, from the whole URL.
                let request = Request::get(target.uri.clone()).body(Empty::new())?;
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Why a fetch on this connection failed with `error`: a request whose
    /// connection failed only learns that it was canceled, so the
    /// connection's own error, if it has one, says more.
    async fn why(self, error: Box<dyn Error>) -> String {
        let http2 = matches!(self.sender, Sender::Http2(_));
        let error = match self.driver.cancel().await {
            Some(Err(cause)) => causes(&cause),
            _ => causes(&*error),
        };
        if http2 {
            format!("{error} ({NOT_H2C})")
        } else {
            error
        }
    }
}

/// What an HTTP/2 connection's failure may mean.
const NOT_H2C: &str = "the server may not speak HTTP/2 with prior knowledge: \
                       try without --http2";

/// `error` and each of its sources, joined by `: `.
fn causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

impl Pool {
    /// GETs `target` on the open connection to its host, opening one if
    /// there is none or the server closed it: its status and whole body.
    async fn fetch(&mut self, target: &Target) -> Result<(StatusCode, Bytes), String> {
        // Taken out while in use, and put back once the answer is whole: a
        // fetch that fails or times out drops its connection, whose state
        // is then in doubt.
        let mut connection = match self.open.remove(&target.authority) {
            Some(connection) if connection.is_open() => connection,
            _ => {
                self.opened += 1;
                self.connect(&target.authority).await?
            }
        };
        match connection.get(target).await {
            Ok(answer) => {
                self.open.insert(target.authority.clone(), connection);
                Ok(answer)
            }
            Err(e) => Err(connection.why(e).await),
        }
    }

    /// Opens a connection to `authority` and starts the task that drives
    /// it.
    async fn connect(&self, authority: &str) -> Result<Connection, String> {
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("{authority}: cannot turn Nagle's algorithm off: {e}"))?;
        let io = BureauIo::new(stream);
        if self.http2 {
            let (sender, connection) = http2::Builder::new(BureauExecutor)
                .timer(BureauTimer)
                .handshake(io)
                .await
                .map_err(|e| format!("{}: {NOT_H2C}", causes(&e)))?;
            Ok(Connection {
                sender: Sender::Http2(sender),
                driver: bureau::spawn(connection),
            })
        } else {
            let (sender, connection) = http1::handshake(io).await.map_err(|e| causes(&e))?;
            Ok(Connection {
                sender: Sender::Http1(sender),
                driver: bureau::spawn(connection),
            })
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        urls: Vec::new(),
        count: 1,
        timeout: Duration::from_secs(10),
        http2: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--count" => {
                let value = args.next().ok_or("--count needs a value")?;
                parsed.count =
                    value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--count: {value:?} is not a whole number above 0")
                    })?;
            }
            "--timeout" => {
                let value = args.next().ok_or("--timeout needs a value")?;
                parsed.timeout = value
                    .parse()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        format!("--timeout: {value:?} is not a number of seconds above 0")
                    })?;
            }
            "--http2" => parsed.http2 = true,
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag:?}")),
            url => parsed.urls.push(target(url)?),
        }
    }
    if parsed.urls.is_empty() {
        parsed.urls.push(target("http://127.0.0.1:3000/")?);
    }
    Ok(parsed)
}

/// Checks that `url` is an `http://` URL with a host.
fn target(url: &str) -> Result<Target, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "{url}: only http:// here (https needs a TLS crate over the stream)"
            ));
        }
        _ => return Err(format!("{url}: not an http:// URL")),
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: the URL has no host"))?;
    let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    Ok(Target { uri, authority })
}
