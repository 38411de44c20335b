//! hyper on bureau (the `hyper` feature), against real clients and servers
//! on loopback: examples/hyper.rs under curl (HTTP/1.1 and HTTP/2 with
//! prior knowledge) and under a hyper HTTP/2 client on bureau,
//! examples/hyper_client.rs against it, and examples/axum.rs under curl;
//! and, in this process, an upgraded connection read and written through
//! `BureauIo` on both sides.
//!
//! Run with `cargo build --features hyper --examples && cargo test
//! --features hyper --test hyper` (a test target alone does not build the
//! examples; a whole `cargo test --features hyper` does). A server example prints its
//! address as its first line, which is how these tests know it is ready;
//! every child is killed when its test ends, and every wait is bounded.

mod common;

use std::convert::Infallible;
use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use bureau::hyper::{BureauExecutor, BureauIo, BureauTimer};
use bureau::prelude::*;
use bytes::Bytes;
use common::{bounded, output_within};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, UPGRADE};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};

/// The longest any example may take to print a line or to finish, in
/// seconds.
const DEADLINE: u64 = 30;

/// A server example (examples/hyper.rs unless told otherwise), running;
/// killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Each line of stderr as it comes.
    stderr: Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::example("hyper", args)
    }

    fn example(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(example_path(name))
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the {name} example: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let err = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let (line_tx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = bounded(DEADLINE, move || {
            let mut stdout = stdout;
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read stdout");
            line
        });
        let addr = first
            .trim_end()
            .strip_prefix("listening on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("the first line is {first:?}"))
            .parse()
            .expect("an address");
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Reads stderr up to the first line that contains `needle`.
    fn stderr_line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(DEADLINE);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no {needle:?} on the server's stderr: {e}"),
            }
        }
    }

    /// The server's `/stats`: connections accepted, requests, and the most
    /// requests in flight at once. Its own request counts as one more
    /// connection.
    fn stats(&self) -> (u64, u64, u64) {
        let text = String::from_utf8(curl(&[&self.url("/stats")]).stdout).expect("UTF-8");
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name:?} in {text:?}"))
        };
        (
            field("connections"),
            field("requests"),
            field("most in flight"),
        )
    }

    /// Sends the server `SIGTERM`.
    fn terminate(&self) {
        self.signal(rustix::process::Signal::TERM);
    }

    /// Sends the server `signal`.
    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, signal).expect("signal");
    }

    /// Waits for the server to exit by itself, and returns its exit code.
    fn exit_code(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(DEADLINE);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the server is still running"),
            }
        }
        // Its stderr is closed and it printed its address long ago, so it
        // has exited: the wait returns at once.
        self.child.wait().expect("wait for the server").code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/<profile>/examples/NAME`, next to this test's `deps/` folder.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&path) >= modified(&source),
        "{} is missing or older than {}: run `cargo build --features hyper --examples` first",
        path.display(),
        source.display()
    );
    path
}

/// Runs curl with a time limit; it must succeed.
fn curl(args: &[&str]) -> Output {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args);
    let output = output_within(DEADLINE, command);
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    output
}

/// Runs examples/hyper_client.rs with `args`; its output, and how long it
/// took.
fn client(args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new(example_path("hyper_client"));
    command.args(args).stdin(Stdio::null());
    let start = Instant::now();
    let output = output_within(DEADLINE, command);
    (output, start.elapsed())
}

/// What `/bytes/N` answers: byte `i` is `i % 251`.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn the_server_sends_byte_exact_bodies_over_http1_and_http2() {
    let server = Server::start(&[]);
    for len in [1, 64 * 1024, 16 * 1024 * 1024] {
        let expected = pattern(len);
        for (flag, version) in [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")] {
            let url = server.url(&format!("/bytes/{len}"));
            let out = curl(&[flag, "--write-out", "%{stderr}%{http_version}", &url]);
            assert_eq!(String::from_utf8_lossy(&out.stderr), version, "{flag}");
            assert_eq!(out.stdout.len(), len, "{flag}");
            assert!(out.stdout == expected, "{flag}: the {len} bytes differ");
        }
    }
}

#[test]
fn the_server_answers_curl_twice_on_one_connection() {
    let server = Server::start(&[]);
    let url = server.url("/hello");
    let out = curl(&["--write-out", "[%{http_code} %{num_connects}]", &url, &url]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from hyper on bureau! You asked for /hello\n[200 1]\
         Hello from hyper on bureau! You asked for /hello\n[200 0]"
    );
}

#[test]
fn the_server_answers_100_concurrent_http2_streams_on_one_connection() {
    let server = Server::start(&[]);
    let addr = server.addr;
    // A hyper HTTP/2 client on bureau: one connection, 100 requests sent
    // at once, each held by the server until all 100 are in flight.
    let bodies = bounded(DEADLINE, move || {
        bureau::block_on(async move {
            let stream = bureau::net::TcpStream::connect(addr).await?;
            let (sender, connection) = hyper::client::conn::http2::Builder::new(BureauExecutor)
                .timer(BureauTimer)
                .handshake(BureauIo::new(stream))
                .await?;
            let _driver = bureau::spawn(connection);
            let requests: Vec<_> = (0..100)
                .map(|_| {
                    let mut sender = sender.clone();
                    bureau::spawn(async move {
                        let request = Request::get(format!("http://{addr}/hold?n=100"))
                            .body(Empty::<Bytes>::new())?;
                        let response = sender.send_request(request).await?;
                        let status = response.status();
                        let body = response.into_body().collect().await?.to_bytes();
                        Ok::<_, Box<dyn Error>>((status, body))
                    })
                })
                .collect();
            let mut bodies = Vec::new();
            for request in requests {
                bodies.push(request.await?);
            }
            Ok::<_, Box<dyn Error>>(bodies)
        })
        .map_err(|e| e.to_string())
    })
    .expect("100 requests over one connection");
    assert_eq!(bodies.len(), 100);
    for (status, body) in bodies {
        assert_eq!(status, 200);
        assert_eq!(body, "held until 100 in flight\n");
    }
    // This client's connection, and the one that asks for the figures.
    let (connections, requests, most_in_flight) = server.stats();
    assert_eq!((connections, requests, most_in_flight), (2, 101, 100));
}

#[test]
fn the_client_fetches_1000_times_over_one_connection_per_protocol() {
    let server = Server::start(&[]);
    let url = server.url("/bytes/100");
    for http2 in [false, true] {
        let (before, ..) = server.stats();
        let mut args = vec!["--count", "1000", &url];
        if http2 {
            args.insert(0, "--http2");
        }
        let (out, _) = client(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(out.stdout.is_empty(), "a body went to stdout");
        assert_eq!(
            stderr,
            format!("hyper_client: {url}: 1000 × 200 OK, 100000 body bytes, 1 new connection\n")
        );
        // The server saw the client's one connection, and the first stats
        // request's.
        let (after, ..) = server.stats();
        assert_eq!(after - before, 2, "http2: {http2}");
    }
}

#[test]
fn the_client_prints_the_body_of_a_single_fetch() {
    let server = Server::start(&[]);
    let (out, _) = client(&[&server.url("/bytes/65536")]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == pattern(65536), "the 64 KiB differ");
}

#[test]
fn the_client_reports_a_refused_connection_in_under_a_second() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, took) = client(&[&url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().next(),
        Some(
            format!(
                "hyper_client: {url}: cannot connect to 127.0.0.1:{port}: \
                 Connection refused (os error 111)"
            )
            .as_str()
        )
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn the_client_reports_a_host_that_does_not_resolve() {
    // `.invalid` never resolves (RFC 6761).
    let (out, _) = client(&["http://no-such-host.invalid/"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "hyper_client: http://no-such-host.invalid/: cannot connect to no-such-host.invalid:80: "
        ),
        "{stderr}"
    );
}

#[test]
fn the_client_says_an_http1_server_may_not_speak_http2_with_prior_knowledge() {
    // examples/axum.rs serves HTTP/1.1 only.
    let server = Server::example("axum", &[]);
    let url = server.url("/");
    let (out, _) = client(&["--http2", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("hyper_client: {url}: ")),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            " (the server may not speak HTTP/2 with prior knowledge: try without --http2)\n"
        ),
        "{stderr}"
    );
}

#[test]
fn the_client_times_out_on_a_slow_server() {
    let server = Server::start(&[]);
    let url = server.url("/slow?ms=600000");
    let (out, took) = client(&["--timeout", "0.5", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!("hyper_client: {url}: timed out: no whole answer within 500ms\n")
    );
    assert!(took >= Duration::from_millis(500), "took {took:?}");
}

#[test]
fn the_server_finishes_requests_in_flight_over_both_protocols_at_sigterm() {
    const LEN: usize = 16 * 1024 * 1024;
    let server = Server::start(&[]);
    let addr = server.addr;
    // Each client takes the start of a 16 MiB answer and then reads no
    // more until the server has had its SIGTERM: the answers are still in
    // flight then, since neither a small receive buffer and the server's
    // send buffer (at most 4 MiB by default) nor HTTP/2's 2 MiB window
    // (hyper's client's default) hold 16 MiB.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut http1 = TcpStream::from(socket);
    http1
        .set_read_timeout(Some(Duration::from_secs(DEADLINE)))
        .expect("read timeout");
    http1
        .write_all(format!("GET /bytes/{LEN} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .expect("send");
    let mut answer = vec![0; 1];
    http1
        .read_exact(&mut answer)
        .expect("the answer's first byte");

    let (began, http2_began) = mpsc::channel();
    // Dropped to let the HTTP/2 client read on.
    let (read_on, may_read) = async_channel::bounded::<()>(1);
    let http2 = std::thread::spawn(move || {
        bureau::block_on(async move {
            let stream = bureau::net::TcpStream::connect(addr).await?;
            let (mut sender, connection) = hyper::client::conn::http2::Builder::new(BureauExecutor)
                .timer(BureauTimer)
                .handshake(BureauIo::new(stream))
                .await?;
            let _driver = bureau::spawn(connection);
            let request =
                Request::get(format!("http://{addr}/bytes/{LEN}")).body(Empty::<Bytes>::new())?;
            let response = sender.send_request(request).await?;
            began.send(())?;
            let _ = may_read.recv().await;
            let body = bureau::timeout(
                Duration::from_secs(DEADLINE),
                response.into_body().collect(),
            )
            .await??;
            Ok::<_, Box<dyn Error>>(body.to_bytes())
        })
        .map_err(|e| e.to_string())
    });
    http2_began
        .recv_timeout(Duration::from_secs(DEADLINE))
        .expect("the HTTP/2 answer's head");

    server.terminate();
    server.stderr_line_with("SIGTERM: shutting down");
    let refused = TcpStream::connect(server.addr).expect_err("a connection after SIGTERM");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // Each answer in flight comes in full, and its connection closes.
    drop(read_on);
    http1
        .read_to_end(&mut answer)
        .expect("the answer, then EOF");
    // Closed in turn, so that the server need not linger on it.
    drop(http1);
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        answer[head_end..] == pattern(LEN),
        "the HTTP/1.1 body differs"
    );
    let http2 = http2.join().expect("the HTTP/2 client's thread");
    assert!(
        http2.expect("the HTTP/2 answer") == pattern(LEN),
        "the HTTP/2 body differs"
    );
    server.stderr_line_with("every connection finished");
    assert_eq!(server.exit_code(), Some(0));
}

/// The CPU time the process `pid` has used so far, user and system, from
/// `/proc/PID/stat` (in clock ticks, converted).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The fields after the command name, which is in parentheses: the
    // state (field 3) first, so utime (14) and stime (15) are 11 and 12.
    let after_name = &stat[stat.rfind(')').expect("a command name") + 1..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("a number of ticks"))
        .collect();
    let ticks: u64 = String::from_utf8(
        output_within(DEADLINE, {
            let mut getconf = Command::new("getconf");
            getconf.arg("CLK_TCK");
            getconf
        })
        .stdout,
    )
    .expect("UTF-8")
    .trim()
    .parse()
    .expect("CLK_TCK");
    Duration::from_millis((fields[0] + fields[1]) * 1000 / ticks)
}

/// Reads `stream` to its end; what came, and how long after `since` the
/// end came.
fn read_to_close(stream: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(DEADLINE)))
        .expect("read timeout");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("bytes, then EOF");
    (got, since.elapsed())
}

#[test]
fn clients_that_stop_inside_the_preface_cost_no_cpu_and_are_closed() {
    let server = Server::start(&["--idle", "1"]);
    let before = cpu_time(server.child.id());
    let start = Instant::now();
    // `PR` may begin HTTP/2's preface or `POST`: the server must wait for
    // more, without polling. Half the clients then close their side.
    let mut clients: Vec<(TcpStream, bool)> = (0..100)
        .map(|i| {
            let mut client = TcpStream::connect(server.addr).expect("connect");
            client.write_all(b"PR").expect("send");
            let closes = i % 2 == 0;
            if closes {
                client.shutdown(std::net::Shutdown::Write).expect("FIN");
            }
            (client, closes)
        })
        .collect();
    // Those that closed first: each read ends at its client's FIN.
    clients.sort_by_key(|(_, closes)| !closes);
    for (client, closes) in &mut clients {
        let (got, after) = read_to_close(client, start);
        assert!(
            got.is_empty(),
            "an answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        if *closes {
            // At the client's FIN, not at the deadline.
            assert!(after < Duration::from_millis(900), "closed after {after:?}");
        } else {
            // At the `--idle` deadline.
            assert!(after >= Duration::from_secs(1), "closed after {after:?}");
            assert!(after < Duration::from_secs(3), "closed after {after:?}");
        }
    }
    let used = cpu_time(server.child.id()) - before;
    assert!(
        used < Duration::from_millis(50),
        "the server used {used:?} of CPU"
    );
}

#[test]
fn an_http2_client_silent_after_its_preface_is_pinged_then_closed() {
    let server = Server::start(&["--idle", "0.5"]);
    let mut client = TcpStream::connect(server.addr).expect("connect");
    let start = Instant::now();
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("send the preface");
    let (got, after) = read_to_close(&mut client, start);
    // A PING frame's header: 8 bytes of payload, type 6, no flags.
    assert!(
        got.windows(5).any(|w| w == [0, 0, 8, 6, 0]),
        "no PING in {got:?}"
    );
    // A ping after 0.5 s of silence, and no answer within 0.5 s more.
    assert!(after >= Duration::from_secs(1), "closed after {after:?}");
    assert!(after < Duration::from_secs(3), "closed after {after:?}");
}

/// The resident memory of the process `pid`, from `/proc/PID/status`.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"));
    kib * 1024
}

#[test]
fn clients_that_never_read_a_16_mib_body_cost_the_server_far_less_than_that() {
    const CLIENTS: u64 = 16;
    const MIB: u64 = 1024 * 1024;
    let server = Server::start(&[]);
    // Whatever the first answer allocates once, before the measure.
    curl(&[&server.url("/bytes/1")]);
    let before = resident_bytes(server.child.id());
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut client = TcpStream::connect(server.addr).expect("connect");
            client
                .write_all(b"GET /bytes/16777216 HTTP/1.1\r\nHost: test\r\n\r\n")
                .expect("send");
            client
                .set_read_timeout(Some(Duration::from_secs(DEADLINE)))
                .expect("read timeout");
            // The answer has begun: hyper has taken the head and the
            // body's first bytes. Then nothing more is read.
            client
                .read_exact(&mut [0; 1])
                .expect("the answer's first byte");
            client
        })
        .collect();
    let grown = resident_bytes(server.child.id()).saturating_sub(before);
    assert!(
        grown < CLIENTS * 2 * MIB,
        "{CLIENTS} stalled answers grew the server by {} MiB",
        grown / MIB
    );
    drop(clients);
}

#[test]
fn a_second_signal_ends_the_grace_period_at_once() {
    // A grace period longer than the test's bound: only the second signal
    // can end the server within it.
    let server = Server::start(&["--grace", "600"]);
    let mut slow = TcpStream::connect(server.addr).expect("connect");
    slow.write_all(b"GET /slow?ms=600000 HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    server.stderr_line_with("/slow?ms=600000: waiting");
    server.terminate();
    server.stderr_line_with("SIGTERM: shutting down");
    server.signal(rustix::process::Signal::INT);
    let line = server.stderr_line_with("at a second signal");
    assert_eq!(
        line,
        "hyper: closed the 1 connection(s) left at a second signal, SIGINT"
    );
    assert_eq!(server.exit_code(), Some(0));
    let (got, _) = read_to_close(&mut slow, Instant::now());
    assert!(
        got.is_empty(),
        "an answer: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn both_examples_reject_a_bad_argument_with_usage_and_exit_code_2() {
    for (name, args) in [
        ("hyper", &["extra"][..]),
        ("hyper", &["--grace", "-1"]),
        ("hyper", &["--idle", "0"]),
        ("hyper_client", &["--count", "0"]),
        ("hyper_client", &["ftp://example.com/"]),
        ("axum", &["--port"]),
    ] {
        let mut command = Command::new(example_path(name));
        command.args(args).stdin(Stdio::null());
        let out = output_within(DEADLINE, command);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
        assert!(stderr.contains("usage: "), "{name} {args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{name} {args:?}");
    }
}

#[test]
fn axum_routes_requests_on_bureau_with_no_tokio_runtime() {
    let server = Server::example("axum", &[]);
    for (path, answer) in [
        ("/", "Hello from axum on bureau!\n[200]"),
        ("/hello/bureau", "Hello, bureau!\n[200]"),
        ("/sleep/10", "slept 10 ms\n[200]"),
        ("/sleep/10001", "at most 10000 ms\n[400]"),
        ("/visits", "visit 1\n[200]"),
        ("/visits", "visit 2\n[200]"),
        ("/nowhere", "[404]"),
    ] {
        let out = curl(&["--write-out", "[%{http_code}]", &server.url(path)]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), answer, "{path}");
    }
    // The peer's address, from the request's extensions.
    let out = curl(&[
        "--write-out",
        "[%{local_ip}:%{local_port}]",
        &server.url("/peer"),
    ]);
    let out = String::from_utf8_lossy(&out.stdout);
    let (answer, client) = out.split_once('[').expect("curl's write-out");
    assert_eq!(
        answer,
        format!("you are {}\n", client.trim_end_matches(']'))
    );
}

/// Asks for an upgrade to `shout` and marks a response as granting it.
fn upgrade_headers(headers: &mut hyper::HeaderMap) {
    headers.insert(UPGRADE, HeaderValue::from_static("shout"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
}

#[test]
fn an_upgraded_connection_is_read_and_written_as_a_bureau_stream() {
    let shouted = bounded(DEADLINE, || {
        bureau::block_on(async {
            let listener = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            // The server upgrades the connection, then answers five bytes
            // with the same in capitals, through `AsyncRead`/`AsyncWrite`.
            let server = bureau::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let service = hyper::service::service_fn(|mut request: Request<Incoming>| {
                    let upgraded = hyper::upgrade::on(&mut request);
                    bureau::spawn(async move {
                        let mut io = BureauIo::new(upgraded.await?);
                        let mut word = [0; 5];
                        io.read_exact(&mut word).await?;
                        io.write_all(&word.to_ascii_uppercase()).await?;
                        io.flush().await?;
                        Ok::<_, Box<dyn Error>>(())
                    })
                    .detach();
                    let mut response = Response::new(Empty::<Bytes>::new());
                    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                    upgrade_headers(response.headers_mut());
                    async { Ok::<_, Infallible>(response) }
                });
                http1::Builder::new()
                    .serve_connection(BureauIo::new(stream), service)
                    .with_upgrades()
                    .await?;
                Ok::<_, Box<dyn Error>>(())
            });

            let stream = bureau::net::TcpStream::connect(addr).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(BureauIo::new(stream)).await?;
            let _driver = bureau::spawn(connection.with_upgrades());
            let mut request = Request::get("/").body(Empty::<Bytes>::new())?;
            upgrade_headers(request.headers_mut());
            let response = sender.send_request(request).await?;
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            let mut io = BureauIo::new(hyper::upgrade::on(response).await?);
            io.write_all(b"hello").await?;
            io.flush().await?;
            let mut answer = [0; 5];
            io.read_exact(&mut answer).await?;
            drop(io);
            server.await?;
            Ok::<_, Box<dyn Error>>(answer)
        })
        .map_err(|e| e.to_string())
    })
    .expect("an upgrade and an exchange over it");
    assert_eq!(&shouted, b"HELLO");
}

#[test]
fn hyper_closes_a_connection_whose_headers_are_slower_than_its_bureau_timer() {
    let closed = bounded(DEADLINE, || {
        bureau::block_on(async {
            let listener = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = bureau::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let never = hyper::service::service_fn(|_: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
                });
                // The header timeout errs the connection: that is the point.
                let _ = http1::Builder::new()
                    .timer(BureauTimer)
                    .header_read_timeout(Duration::from_millis(100))
                    .serve_connection(BureauIo::new(stream), never)
                    .await;
                Ok::<_, Box<dyn Error>>(())
            });
            let mut client = bureau::net::TcpStream::connect(addr).await?;
            // Half a request head, and then nothing.
            client.write_all(b"GET / HTTP/1.1\r\n").await?;
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await?;
            server.await?;
            Ok::<_, Box<dyn Error>>(rest)
        })
        .map_err(|e| e.to_string())
    })
    .expect("the server closes the connection");
    // hyper closes such a connection without an answer.
    assert_eq!(String::from_utf8_lossy(&closed), "");
}

#[test]
fn bureau_io_offers_twice_the_room_after_each_read_that_fills_it() {
    let sizes = bureau::block_on(async {
        let mut io = BureauIo::new(bureau::io::Cursor::new(vec![7u8; 100_000]));
        let mut sizes = Vec::new();
        loop {
            // Room for everything at once: what each read returns is what
            // it was offered.
            let mut room = vec![0u8; 200_000];
            let mut buf = hyper::rt::ReadBuf::new(&mut room);
            std::future::poll_fn(|cx| {
                hyper::rt::Read::poll_read(std::pin::Pin::new(&mut io), cx, buf.unfilled())
            })
            .await
            .expect("a read from memory");
            match buf.filled() {
                [] => return sizes,
                filled => {
                    assert!(filled.iter().all(|&b| b == 7));
                    sizes.push(filled.len());
                }
            }
        }
    });
    assert_eq!(sizes, [1024, 2048, 4096, 8192, 16384, 32768, 35488]);
}

#[test]
#[should_panic(
    expected = "bureau::hyper::BureauExecutor was asked by hyper to spawn a task \
                           on a thread where no bureau::block_on is running"
)]
fn the_executor_names_itself_and_hyper_off_the_loop() {
    hyper::rt::Executor::execute(&BureauExecutor, async {});
}
