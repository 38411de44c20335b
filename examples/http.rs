//! A minimal HTTP/1.1 server with keep-alive, written by hand over
//! `bureau::net`: enough for curl and wrk, and a clear 400 for a malformed
//! request.
//!
//! ```text
//! cargo run --release --example http -- --port 8080
//! curl -i http://127.0.0.1:8080/
//! wrk -c 100 -d 10s http://127.0.0.1:8080/
//! ```
//!
//! Every connection is a task on the one loop thread; an idle keep-alive
//! connection is a timer and a registered socket, nothing more.
//!
//! A request whose end is in doubt is answered 400 and its connection
//! closed (RFC 9112 section 6.3), since the bytes after it could otherwise be
//! read as a request of their own ("request smuggling"): Content-Length
//! values that disagree or are not plain decimal numbers, Content-Length
//! together with Transfer-Encoding, a header name that is not a token.
//! Identical Content-Length values (`5` twice, or `5, 5`) count as one, as
//! RFC 9110 section 8.6 allows. A request target with a control byte is
//! refused the same way.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use bureau::io::BufReader;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: http [--port PORT]   (PORT 0 picks a free port; default 8080)";
/// The most bytes a request line plus headers may take.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body the server reads (and ignores).
const MAX_BODY: u64 = 1024 * 1024;
/// How long a keep-alive connection may wait for its next request.
const IDLE: Duration = Duration::from_secs(30);
const BODY: &str = "Hello from bureau!\n";

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("http: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A failed accept turns a client away, not the server down; the
            // listener pauses an error that would recur at once, so logging
            // it and accepting again never spins.
            Err(e) => {
                eprintln!("http: accept failed: {e}");
                continue;
            }
        };
        bureau::spawn(async move {
            if let Err(e) = serve_connection(stream).await {
                eprintln!("http: {peer}: {e}");
            }
        })
        .detach();
    }
}

/// A request, as far as this server cares.
struct Request {
    method: String,
    path: String,
    keep_alive: bool,
}

/// Answers requests on one connection until the client closes it, asks to
/// close, goes idle, or sends something that is not HTTP/1.x.
async fn serve_connection(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.clone());
    let mut writer = stream;
    loop {
        // `timeout` races the read against a timer on the same loop.
        let request = match bureau::timeout(IDLE, read_request(&mut reader)).await {
            Err(bureau::TimedOut) | Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(request))) => request,
            Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                let body = format!("bad request: {e}\n");
                writer
                    .write_all(&response(400, "Bad Request", &body, false))
                    .await?;
                return writer.close().await;
            }
            Ok(Err(e)) => return Err(e),
        };
        let (status, reason, body) = match (request.method.as_str(), request.path.as_str()) {
            ("GET" | "HEAD", "/") => (200, "OK", BODY),
            ("GET" | "HEAD", _) => (404, "Not Found", "not found\n"),
            _ => (405, "Method Not Allowed", "only GET and HEAD\n"),
        };
        let mut bytes = response(status, reason, body, request.keep_alive);
        if request.method == "HEAD" {
            bytes.truncate(bytes.len() - body.len());
        }
        writer.write_all(&bytes).await?;
        if !request.keep_alive {
            return writer.close().await;
        }
    }
}

/// Reads one request head (and skips its body). `None` if the client closed
/// the connection between requests; an `InvalidData` error if it is not
/// HTTP/1.x.
async fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut lines = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let mut line = Vec::new();
        // `take` bounds the line, so a client cannot make us buffer forever.
        let n = (&mut *reader)
            .take(budget as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 && lines.is_empty() {
            return Ok(None);
        }
        if n == 0 {
            return Err(invalid("the connection closed inside the request head"));
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
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the request line is not `METHOD PATH HTTP/1.1`"));
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(invalid("only HTTP/1.0 and HTTP/1.1 are spoken here")),
    };
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(invalid("the request target has a control byte"));
    }
    let mut content_length = None;
    let mut transfer_encoding = false;
    for header in headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid("a header line has no `:`"))?;
        // A name with spaces (`Content-Length : 5`, or a folded line) may
        // be a header to a lenient proxy in front and none to us: the two
        // would then disagree on where the request ends.
        if !is_token(name) {
            return Err(invalid("a header name is not a token"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            keep_alive = value.eq_ignore_ascii_case("keep-alive");
        } else if name.eq_ignore_ascii_case("content-length") {
            let len = parse_content_length(value)?;
            if content_length.is_some_and(|known| known != len) {
                return Err(invalid("the Content-Length headers disagree"));
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
        }
    }
    // Transfer-Encoding would override Content-Length (RFC 9112 section
    // 6.1), which a proxy in front may not do: both together is refused.
    if transfer_encoding {
        return Err(invalid(if content_length.is_some() {
            "Content-Length and Transfer-Encoding together"
        } else {
            "Transfer-Encoding is not supported"
        }));
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY {
        return Err(invalid("the request body is too large"));
    }
    let skipped = bureau::io::copy((&mut *reader).take(body_len), &mut bureau::io::sink()).await?;
    if skipped < body_len {
        return Err(invalid("the connection closed inside the request body"));
    }
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        keep_alive,
    }))
}

/// The body length a Content-Length value gives: a decimal number, or a
/// list of identical ones (`5, 5`), which RFC 9110 section 8.6 lets a
/// recipient read as that number. Anything else is an error, since a
/// request whose length is in doubt cannot be told from the next one.
fn parse_content_length(value: &str) -> io::Result<u64> {
    let mut lengths = value.split(',').map(|item| {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("Content-Length is not a number"));
        }
        item.parse()
            .map_err(|_| invalid("Content-Length is out of range"))
    });
    let first = lengths.next().expect("`split` yields at least one item")?;
    for length in lengths {
        if length? != first {
            return Err(invalid("the Content-Length values disagree"));
        }
    }
    Ok(first)
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

fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 8080;
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
