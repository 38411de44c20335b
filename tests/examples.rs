//! Runs each example the way a user would, against a real client (a
//! `std::net::TcpStream` or curl), and checks what it answers.
//!
//! The examples are the binaries that `cargo test` builds next to this test
//! (`target/<profile>/examples/NAME`). A server example prints its address
//! as its first line, which is how these tests know it is ready; every child
//! is killed when its test ends, pass or fail, and every wait is bounded.
//!
//! One test is ignored by a plain `cargo test`: the full tour's 10 s bound,
//! which holds for a release build only. Run it with
//! `cargo build --release --examples && cargo test --release --test examples -- --ignored`.

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use sha2::{Digest, Sha256};

/// The longest any example may take to print a line or to finish.
const DEADLINE: Duration = Duration::from_secs(30);
/// The longest a client waits for a reply.
const REPLY: Duration = Duration::from_secs(10);

/// A running example, killed when dropped.
struct Example {
    name: &'static str,
    child: Child,
    stdout: Receiver<String>,
    /// All of stderr, once it closes.
    stderr: Receiver<String>,
    /// Each line of stderr as it comes.
    stderr_lines: Receiver<String>,
}

/// What a finished example printed, and how it exited.
struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Example {
    fn start(name: &'static str, args: &[&str]) -> Example {
        let mut command = Command::new(example_path(name));
        command.args(args);
        Example::spawn(name, command)
    }

    /// Runs `command`, which runs the example `name` in some way.
    fn spawn(name: &'static str, mut command: Command) -> Example {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
        let out = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let err = child.stderr.take().expect("stderr is piped");
        let (out_tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let (err_line_tx, stderr_lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut err = BufReader::new(err);
            let mut text = String::new();
            let mut line = Vec::new();
            while err.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let piece = String::from_utf8_lossy(&line);
                text.push_str(&piece);
                let _ = err_line_tx.send(piece.trim_end().to_owned());
                line.clear();
            }
            let _ = err_tx.send(text);
        });
        Example {
            name,
            child,
            stdout,
            stderr,
            stderr_lines,
        }
    }

    /// Reads stderr up to the first line that contains `needle`, and
    /// returns that line.
    fn stderr_line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("{}: no {needle:?} on stderr: {e}", self.name),
            }
        }
    }

    /// Sends the example `signal`.
    fn signal(&self, signal: Signal) {
        let pid =
            rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid is positive");
        rustix::process::kill_process(pid, signal).expect("signal the example");
    }

    /// The next line of stdout.
    fn line(&self) -> String {
        match self.stdout.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("{}: no line within {DEADLINE:?}", self.name),
            Err(RecvTimeoutError::Disconnected) => {
                let stderr = self.stderr.recv_timeout(DEADLINE).unwrap_or_default();
                panic!("{}: stdout closed early; stderr:\n{stderr}", self.name)
            }
        }
    }

    /// The address in the first line, `listening on [http://]ADDR[/]`.
    fn address(&self) -> SocketAddr {
        let line = self.line();
        let addr = line
            .strip_prefix("listening on ")
            .map(|a| a.trim_start_matches("http://").trim_end_matches('/'))
            .unwrap_or_else(|| panic!("{}: first line is {line:?}", self.name));
        addr.parse()
            .unwrap_or_else(|e| panic!("{}: {addr:?} is not an address: {e}", self.name))
    }

    /// Waits for the example to end by itself and collects its output.
    fn finish(self) -> Finished {
        self.finish_within(DEADLINE)
    }

    /// Waits at most `limit` for the example to end by itself, and collects
    /// its output.
    fn finish_within(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let mut stdout = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => stdout.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: still running after {limit:?}: {stdout:?}", self.name)
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let stderr = self
            .stderr
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{}: stderr still open after {limit:?}", self.name));
        // Both pipes are closed, so the process has exited.
        let status = self.child.wait().expect("wait for the example");
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Example {
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
    // `cargo test` builds the examples; `cargo test --test examples` does not.
    assert!(
        modified(&path) >= modified(&source),
        "{} is missing or older than {}: run `cargo test` (it builds the examples) or \
         `cargo build --examples` first",
        path.display(),
        source.display()
    );
    path
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the example");
    stream.set_read_timeout(Some(REPLY)).expect("read timeout");
    stream
        .set_write_timeout(Some(REPLY))
        .expect("write timeout");
    stream
}

/// Runs curl with a time limit and returns its stdout.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl must be installed to run this test");
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("curl printed UTF-8")
}

/// Reads one HTTP/1.1 response with a Content-Length: (status line, body).
fn read_response(reader: &mut BufReader<TcpStream>) -> (String, String) {
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).expect("header line");
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("Content-Length is a number");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (
        status.trim_end().to_owned(),
        String::from_utf8(body).expect("UTF-8 body"),
    )
}

/// Sends `message` and reads back as many bytes.
fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("send");
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).expect("read the reply");
    reply
}

/// Closes our side and expects the other side to close too, sending nothing.
fn assert_closes_after_us(mut stream: TcpStream) {
    stream.shutdown(Shutdown::Write).expect("shutdown");
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("EOF from the other side");
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn echo_sends_back_what_two_clients_send() {
    let echo = Example::start("echo", &["--port", "0"]);
    let addr = echo.address();
    let mut a = connect(addr);
    let mut b = connect(addr);
    // b talks while a waits: each connection is served on its own.
    assert_eq!(round_trip(&mut b, b"from client b"), b"from client b");
    assert_eq!(round_trip(&mut a, b"from client a"), b"from client a");
    assert_closes_after_us(a);
}

#[test]
fn http_answers_200_with_keep_alive() {
    let http = Example::start("http", &["--port", "0"]);
    let stream = connect(http.address());
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    for _ in 0..2 {
        writer
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("send request");
        let (status, body) = read_response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, "Hello from bureau!\n");
    }
}

#[test]
fn http_answers_curl_twice_on_one_connection() {
    let http = Example::start("http", &["--port", "0"]);
    let url = format!("http://{}/", http.address());
    let out = curl(&["--write-out", "[%{http_code} %{num_connects}]", &url, &url]);
    assert_eq!(
        out, "Hello from bureau!\n[200 1]Hello from bureau!\n[200 0]",
        "the second request reuses the connection"
    );
}

#[test]
fn http_answers_a_malformed_request_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let mut stream = connect(http.address());
    stream
        .write_all(b"this is not http\r\n\r\n")
        .expect("send garbage");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer, then EOF");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    assert!(answer.ends_with("bad request: the request line is not `METHOD PATH HTTP/1.1`\n"));
}

#[test]
fn chat_sends_a_line_to_the_others_and_not_back() {
    let chat = Example::start("chat", &["--port", "0"]);
    let addr = chat.address();
    let a = connect(addr);
    let mut a_lines = BufReader::new(a.try_clone().expect("clone")).lines();
    let mut next_a = move || a_lines.next().expect("a line for a").expect("read a");
    assert!(next_a().starts_with("* welcome"));
    let b = connect(addr);
    let b_addr = b.local_addr().expect("b's address");
    let mut b_lines = BufReader::new(b.try_clone().expect("clone")).lines();
    let mut next_b = move || b_lines.next().expect("a line for b").expect("read b");
    assert!(next_b().starts_with("* welcome"));
    // Once a hears that b joined, b is in the room.
    assert_eq!(next_a(), format!("* {b_addr} joined"));

    (&a).write_all(b"hello from a\n").expect("a says hello");
    let a_addr = a.local_addr().expect("a's address");
    assert_eq!(next_b(), format!("{a_addr}: hello from a"));
    (&b).write_all(b"hi from b\n").expect("b answers");
    // Had a's own line come back to it, it would be queued before b's.
    assert_eq!(next_a(), format!("{b_addr}: hi from b"));

    // A line longer than 4096 bytes arrives in pieces, none of it lost.
    let long = "x".repeat(5000);
    (&a).write_all(format!("{long}\n").as_bytes())
        .expect("a sends a long line");
    assert_eq!(next_b(), format!("{a_addr}: {}", &long[..4096]));
    assert_eq!(next_b(), format!("{a_addr}: {}", &long[4096..]));
}

/// Sends `request` on a connection of its own and expects a 400 that says
/// the connection closes, and then EOF: the server reads nothing after a
/// request whose framing it cannot trust.
fn assert_400_and_closed(addr: SocketAddr, request: &[u8]) {
    let shown = request.escape_ascii();
    let mut stream = connect(addr);
    stream.write_all(request).expect("send the request");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("no EOF after {shown}: {e}"));
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{shown}: {answer}"
    );
    assert!(
        answer.contains("Connection: close\r\n"),
        "{shown}: {answer}"
    );
}

/// A plain GET on a new connection still gets its 200.
fn assert_still_serves(addr: SocketAddr) {
    let stream = connect(addr);
    (&stream)
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send request");
    let (status, body) = read_response(&mut BufReader::new(stream));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "Hello from bureau!\n");
}

#[test]
fn http_rejects_two_different_content_lengths_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let addr = http.address();
    for request in [
        &b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\nhello"[..],
        b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 9\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 5, 9\r\n\r\nhello",
    ] {
        assert_400_and_closed(addr, request);
    }
    assert_still_serves(addr);
}

#[test]
fn http_rejects_a_content_length_that_is_not_a_plain_number_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let addr = http.address();
    for value in [
        "+5",
        "-5",
        "0x5",
        "5 5",
        "",
        "5,",
        "99999999999999999999999",
    ] {
        let request =
            format!("GET / HTTP/1.1\r\nHost: test\r\nContent-Length: {value}\r\n\r\nhello");
        assert_400_and_closed(addr, request.as_bytes());
    }
    assert_still_serves(addr);
}

#[test]
fn http_rejects_content_length_with_transfer_encoding_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let addr = http.address();
    for request in [
        &b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\
           Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\
          Content-Length: 5\r\n\r\n0\r\n\r\n",
    ] {
        assert_400_and_closed(addr, request);
    }
    assert_still_serves(addr);
}

#[test]
fn http_rejects_control_bytes_in_the_request_target_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let addr = http.address();
    for byte in [0x00, 0x01, b'\t', b'\r', 0x1f, 0x7f] {
        let mut request = b"GET /a".to_vec();
        request.push(byte);
        request.extend_from_slice(b"b HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_400_and_closed(addr, &request);
    }
    assert_still_serves(addr);
}

#[test]
fn http_rejects_a_header_name_with_whitespace_with_400_and_closes() {
    let http = Example::start("http", &["--port", "0"]);
    let addr = http.address();
    // Read as a Content-Length by a lenient proxy in front, ignored by a
    // strict server behind it: the body would be taken for a request.
    for request in [
        &b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length : 5\r\n\r\nhello"[..],
        b"GET / HTTP/1.1\r\nHost: test\r\n Content-Length: 5\r\n\r\nhello",
    ] {
        assert_400_and_closed(addr, request);
    }
    assert_still_serves(addr);
}

#[test]
fn http_accepts_identical_content_lengths_and_skips_the_body() {
    let http = Example::start("http", &["--port", "0"]);
    let stream = connect(http.address());
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    // RFC 9110 section 8.6: repeated identical values mean that one value.
    for request in [
        &b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"[..],
        b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: test\r\n\r\n",
    ] {
        (&stream).write_all(request).expect("send a request");
        let (status, body) = read_response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK", "{}", request.escape_ascii());
        assert_eq!(body, "Hello from bureau!\n");
    }
}

/// A chat client on a std socket whose reads all end by one deadline, so a
/// server that stops sending fails the test instead of hanging it.
struct ChatClient {
    stream: TcpStream,
    lines: std::io::Lines<BufReader<TcpStream>>,
    deadline: Instant,
}

impl ChatClient {
    /// Connects and reads the welcome line.
    fn join(addr: SocketAddr, deadline: Instant) -> ChatClient {
        let stream = connect(addr);
        let lines = BufReader::new(stream.try_clone().expect("clone")).lines();
        let mut client = ChatClient {
            stream,
            lines,
            deadline,
        };
        let welcome = client.next_line().expect("a welcome line");
        assert!(welcome.starts_with("* welcome"), "{welcome}");
        client
    }

    fn addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("the client's address")
    }

    /// The next line, or why there is none before the deadline.
    fn next_line(&mut self) -> Result<String, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the deadline passed".into());
        }
        self.stream
            .set_read_timeout(Some(left))
            .expect("read timeout");
        match self.lines.next() {
            Some(Ok(line)) => Ok(line),
            Some(Err(e)) => Err(format!("reading failed: {e}")),
            None => Err("the server closed the connection".into()),
        }
    }

    /// Reads lines until `line`, skipping the others.
    fn skip_to(&mut self, line: &str) -> Result<(), String> {
        while self.next_line()? != line {}
        Ok(())
    }

    /// Sends `count` numbered lines once the first line from `flooder` is
    /// in, then reads until it has every numbered line of `other`, in order.
    fn ping_during_flood(
        &mut self,
        flooder: SocketAddr,
        other: SocketAddr,
        count: usize,
    ) -> Result<(), String> {
        let from_flooder = format!("{flooder}: ");
        let from_other = format!("{other}: ping ");
        let (mut got, mut flood) = (0, 0);
        while got < count || flood == 0 {
            let line = self.next_line().map_err(|e| {
                format!("{e} after {got} of {count} pings from {other} and {flood} flood lines")
            })?;
            if let Some(n) = line.strip_prefix(&from_other) {
                if n != got.to_string() {
                    return Err(format!("ping {n} from {other} came where {got} was due"));
                }
                got += 1;
            } else if line.starts_with(&from_flooder) {
                flood += 1;
                if flood == 1 {
                    let pings: String = (0..count).map(|i| format!("ping {i}\n")).collect();
                    (&self.stream)
                        .write_all(pings.as_bytes())
                        .map_err(|e| format!("sending the pings failed: {e}"))?;
                }
            }
        }
        Ok(())
    }
}

#[test]
fn chat_delivers_every_line_between_readers_while_another_client_floods() {
    const PINGS: usize = 15;
    let deadline = Instant::now() + Duration::from_secs(20);
    let chat = Example::start("chat", &["--port", "0"]);
    let addr = chat.address();
    let mut a = ChatClient::join(addr, deadline);
    let mut b = ChatClient::join(addr, deadline);
    let (a_addr, b_addr) = (a.addr(), b.addr());
    a.skip_to(&format!("* {b_addr} joined"))
        .expect("a hears b join");

    // The flooder writes as fast as TCP lets it and never reads; its writes
    // fail once the server is gone.
    let flooder = connect(addr);
    let f_addr = flooder.local_addr().expect("the flooder's address");
    let flood = std::thread::spawn(move || {
        let burst = "flood flood flood flood flood flood\n".repeat(100);
        let mut sent = 0u64;
        while (&flooder).write_all(burst.as_bytes()).is_ok() {
            sent += 100;
        }
        sent
    });
    for client in [&mut a, &mut b] {
        client
            .skip_to(&format!("* {f_addr} joined"))
            .expect("the readers hear the flooder join");
    }

    // Each reader stays connected until both are done, so that neither
    // closes before the server has passed on all its pings.
    let (a_got, b_got) = std::thread::scope(|s| {
        let a_reads = s.spawn(|| a.ping_during_flood(f_addr, b_addr, PINGS));
        let b_reads = s.spawn(|| b.ping_during_flood(f_addr, a_addr, PINGS));
        (
            a_reads.join().expect("a's thread"),
            b_reads.join().expect("b's thread"),
        )
    });
    drop(chat);
    let flooded = flood.join().expect("the flooder's thread");
    a_got.unwrap_or_else(|e| panic!("a, with {flooded} lines flooded: {e}"));
    b_got.unwrap_or_else(|e| panic!("b, with {flooded} lines flooded: {e}"));
}

/// How long the chat example waits for a client's socket to take something
/// of a line before it drops the client (its `STALL`).
const CHAT_STALL: Duration = Duration::from_secs(5);

#[test]
fn chat_drops_clients_that_stop_reading_together_in_one_stall() {
    const MUTE: u32 = 8;
    // Dropped one after another, the mute clients would take a stall each,
    // far beyond this; dropped together, they take one.
    let deadline = Instant::now() + CHAT_STALL * 4;
    let chat = Example::start("chat", &["--port", "0"]);
    let addr = chat.address();
    let mut talker = ChatClient::join(addr, deadline);
    let mute: Vec<TcpStream> = (0..MUTE).map(|_| connect(addr)).collect();
    let mut left = BTreeSet::new();
    for stream in &mute {
        let mute_addr = stream.local_addr().expect("a mute client's address");
        talker
            .skip_to(&format!("* {mute_addr} joined"))
            .expect("the talker hears a mute client join");
        left.insert(format!("* {mute_addr} left"));
    }

    // Long lines fill the mute clients' socket buffers and then their
    // outboxes; the talker writes them until the server is gone.
    let writer = talker.stream.try_clone().expect("clone");
    let talk = std::thread::spawn(move || {
        let line = format!("{}\n", "t".repeat(4000));
        while (&writer).write_all(line.as_bytes()).is_ok() {}
    });
    while !left.is_empty() {
        let line = talker
            .next_line()
            .unwrap_or_else(|e| panic!("{e}; the mute clients not dropped yet: {left:?}"));
        left.remove(&line);
    }
    // Their connections are closed too: what each was sent ends in EOF.
    for mut stream in &mute {
        stream
            .read_to_end(&mut Vec::new())
            .expect("EOF for a mute client");
    }
    drop(chat);
    talk.join().expect("the talker's thread");
}

#[test]
fn proxy_forwards_to_echo_both_ways_and_passes_on_the_close() {
    let echo = Example::start("echo", &["--port", "0"]);
    let echo_addr = echo.address().to_string();
    let proxy = Example::start("proxy", &["--listen", "127.0.0.1:0", "--to", &echo_addr]);
    let mut client = connect(proxy.address());
    assert_eq!(
        round_trip(&mut client, b"through the proxy"),
        b"through the proxy"
    );
    // The close passes through the proxy to echo, and echo's back to us.
    assert_closes_after_us(client);
}

/// How many new connections a cluster test makes, at most, to see each
/// worker it expects answer: the kernel picks a worker per connection by a
/// hash of its addresses, so each try misses a given one of two workers
/// about half the time.
const CLUSTER_TRIES: usize = 200;

/// The worker id and pid of a `worker ID: pid PID` line of the cluster.
fn cluster_worker(line: &str) -> (usize, u32) {
    line.strip_prefix("worker ")
        .and_then(|rest| rest.split_once(": pid "))
        .and_then(|(id, pid)| Some((id.parse().ok()?, pid.parse().ok()?)))
        .unwrap_or_else(|| panic!("cluster: {line:?} is not `worker ID: pid PID`"))
}

/// Asks the cluster at `addr` for `/` on a new connection and returns the
/// pid of the worker that answered (its `X-Worker-Pid`).
fn cluster_answer(addr: SocketAddr) -> u32 {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("send request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer, then EOF");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    answer
        .lines()
        .find_map(|l| l.strip_prefix("X-Worker-Pid: "))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no X-Worker-Pid in {answer}"))
}

/// The pids of the workers that answered new connections, made until every
/// one of `wanted` has answered or [`CLUSTER_TRIES`] connections.
fn cluster_answering(addr: SocketAddr, wanted: &BTreeSet<u32>) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    for _ in 0..CLUSTER_TRIES {
        seen.insert(cluster_answer(addr));
        if seen.is_superset(wanted) {
            break;
        }
    }
    seen
}

/// Sends `signal` to process `pid`.
fn send_signal(pid: u32, signal: rustix::process::Signal) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .expect("a valid pid");
    rustix::process::kill_process(pid, signal).expect("send the signal");
}

/// The parent pid of process `pid`, from `/proc/PID/stat`.
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the worker's stat");
    // The fields after the command name, which may hold spaces: state, ppid.
    let after_name = stat.rsplit_once(')').expect("a command name").1;
    after_name
        .split_whitespace()
        .nth(1)
        .and_then(|ppid| ppid.parse().ok())
        .expect("a parent pid")
}

#[test]
fn cluster_spreads_new_connections_over_its_workers_and_stops_them_on_sigterm() {
    let cluster = Example::start("cluster", &["--workers", "2", "--port", "0"]);
    let addr = cluster.address();
    let parent = cluster.child.id();
    let workers: Vec<(usize, u32)> = (0..2).map(|_| cluster_worker(&cluster.line())).collect();
    assert_eq!(workers[0].0, 0);
    assert_eq!(workers[1].0, 1);
    let pids: BTreeSet<u32> = workers.iter().map(|&(_, pid)| pid).collect();
    assert_eq!(pids.len(), 2, "{workers:?}");
    for &pid in &pids {
        assert_eq!(
            parent_of(pid),
            parent,
            "worker {pid} is the cluster's child"
        );
    }

    // One connection keeps its worker for every request on it.
    let stream = connect(addr);
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut bodies = BTreeSet::new();
    for _ in 0..2 {
        (&stream)
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("send request");
        let (status, body) = read_response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        bodies.insert(body);
    }
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    drop((reader, stream));

    assert_eq!(cluster_answering(addr, &pids), pids);

    send_signal(parent, rustix::process::Signal::TERM);
    let run = cluster.finish();
    assert!(run.status.success(), "{:?}: {}", run.status, run.stderr);
    assert_eq!(
        run.stdout.last().map(String::as_str),
        Some("all workers stopped")
    );
    for (id, pid) in workers {
        let line = format!("worker {id} (pid {pid}) stopped: exit status: 0");
        assert!(
            run.stdout.contains(&line),
            "no {line:?} in {:?}",
            run.stdout
        );
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} is still there"
        );
    }
}

#[test]
fn cluster_replaces_a_worker_that_is_killed() {
    let cluster = Example::start("cluster", &["--workers", "2", "--port", "0"]);
    let addr = cluster.address();
    let (_, killed) = cluster_worker(&cluster.line());
    let (_, other) = cluster_worker(&cluster.line());
    send_signal(killed, rustix::process::Signal::KILL);

    let report = cluster.line();
    assert_eq!(
        report,
        format!(
            "worker 0 (pid {killed}) exited unexpectedly (signal: 9 (SIGKILL)); starting a new one"
        )
    );
    let (id, replacement) = cluster_worker(&cluster.line());
    assert_eq!(id, 0);
    assert_ne!(replacement, killed);
    let wanted = BTreeSet::from([replacement, other]);
    assert_eq!(cluster_answering(addr, &wanted), wanted);

    send_signal(cluster.child.id(), rustix::process::Signal::TERM);
    let run = cluster.finish();
    assert!(run.status.success(), "{:?}: {}", run.status, run.stderr);
}

#[test]
fn cluster_on_a_port_in_use_fails_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("its address").port().to_string();
    let run = Example::start("cluster", &["--workers", "2", "--port", &port]).finish();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
    let message = format!("cluster: cannot bind 127.0.0.1:{port}: Address already in use");
    assert!(run.stderr.contains(&message), "{}", run.stderr);
}

#[test]
fn cluster_rejects_a_bad_argument_with_usage_and_exit_code_2() {
    for args in [
        &["--workers", "0"][..],
        &["--workers", "many"],
        &["--port", "70000"],
        &["--worker", "0", "--workers", "2"],
        &["--bogus"],
    ] {
        let run = Example::start("cluster", args).finish();
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("usage: cluster"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {:?}", run.stdout);
    }
}

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn walk_prints_the_sha256_of_every_file() {
    let dir =
        Scratch(std::env::temp_dir().join(format!("bureau-walk-test-{}", std::process::id())));
    let files: [(&str, Vec<u8>); 4] = [
        ("a.txt", b"hello\n".to_vec()),
        ("empty", Vec::new()),
        ("sub/b.bin", (0..100_000u32).map(|i| i as u8).collect()),
        ("sub/deeper/c.txt", b"walk me".to_vec()),
    ];
    let mut expected = BTreeSet::new();
    for (name, contents) in &files {
        let path = dir.0.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write a file");
        expected.insert(format!(
            "{:x}  {}",
            Sha256::digest(contents),
            path.display()
        ));
    }
    let dir_arg = dir.0.to_str().expect("a UTF-8 temp dir");
    let run = Example::start("walk", &[dir_arg, "--jobs", "2"]).finish();
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(run.stderr.contains("hashed 4 files"), "{}", run.stderr);
    assert!(run.stderr.contains("0 unreadable"), "{}", run.stderr);
}

#[test]
fn walk_of_a_missing_folder_fails_clearly() {
    let run = Example::start("walk", &["/no/such/folder"]).finish();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr
            .contains("walk: /no/such/folder: No such file or directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn timers_fire_in_order_and_never_early() {
    let run = Example::start("timers", &[]).finish();
    assert!(run.status.success(), "{}", run.stderr);
    // Each line is `[  NNN ms] what`.
    let lines: Vec<(u64, &str)> = run
        .stdout
        .iter()
        .map(|line| {
            let (ms, what) = line
                .strip_prefix('[')
                .and_then(|l| l.split_once(" ms] "))
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            (ms.trim().parse().expect("milliseconds"), what)
        })
        .collect();
    let whats: Vec<&str> = lines.iter().map(|(_, what)| *what).collect();
    assert_eq!(
        whats,
        [
            "spawning timers of 300, 100 and 200 ms",
            "the 100 ms timer fired",
            "the 200 ms timer fired",
            "the 300 ms timer fired",
            "interval tick 1 of 3",
            "interval tick 2 of 3",
            "interval tick 3 of 3",
            "gave up on the 10 s operation after 200 ms: the operation timed out",
            "done",
        ]
    );
    // Never early: each event comes no sooner than its schedule allows.
    let at: Vec<u64> = lines.iter().map(|(ms, _)| *ms).collect();
    for (i, earliest) in [0, 100, 200, 300, 400, 500, 600, 800, 800]
        .iter()
        .enumerate()
    {
        assert!(at[i] >= *earliest, "{:?} came at {} ms", whats[i], at[i]);
    }
}

#[test]
fn stats_answers_the_loops_figures_as_json() {
    let stats = Example::start("stats", &["--port", "0"]);
    let addr = stats.address();
    let ask = |path: &str| {
        let stream = connect(addr);
        let mut writer = stream.try_clone().expect("clone");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        writer.write_all(request.as_bytes()).expect("send request");
        read_response(&mut BufReader::new(stream))
    };
    let (status, body) = ask("/stats");
    assert_eq!(status.trim_end(), "HTTP/1.1 200 OK");
    assert!(
        body.starts_with("{\"tasks_alive\":") && body.ends_with("}}\n"),
        "{body}"
    );
    for field in [
        "\"polls\":",
        "\"delay\":{\"count\":",
        "\"reactor\":",
        "\"pool\":",
    ] {
        assert!(body.contains(field), "no {field} in {body}");
    }
    // This request's own connection task is alive while it answers.
    assert!(!body.contains("\"tasks_alive\":0,"), "{body}");
    let (status, _) = ask("/nothing");
    assert_eq!(status.trim_end(), "HTTP/1.1 404 Not Found");
}

#[test]
fn tour_runs_to_completion_and_prints_its_figures() {
    let run = Example::start("tour", &["--quick"]).finish();
    assert!(run.status.success(), "{}", run.stderr);
    let line = |prefix: &str| {
        run.stdout
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:#?}", run.stdout))
            .clone()
    };
    assert!(line("echo:   200 connections open at once").contains("connected in"));
    assert!(line("echo:   1000 messages echoed in").ends_with(" messages/s"));
    assert!(line("timers: 100 timers").ends_with(", 0 early"));
    assert!(line("files:  10 files").contains("checked on the pool"));
    assert!(line("hash:   20000 rounds of SHA-256").contains("on a pool thread"));
    assert!(line("stall:  ").contains("reported on stderr as a slow poll"));
    assert!(line("loop:   came back to ready work within ").contains(" slow poll(s)"));
    // The hash on the loop is named by the line that spawns it (a debug
    // build on a busy machine may report other stalls of its loop too).
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tour.rs"))
            .expect("the tour's source");
    let spawn_line = 1 + source
        .lines()
        .position(|l| l.contains("bureau::spawn(hash_on_the_loop(STALL))"))
        .expect("the tour spawns its stall");
    let site = format!("examples/tour.rs:{spawn_line}:");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("slow poll:") && l.contains(&site)),
        "no slow poll at {site}: {}",
        run.stderr
    );
    assert!(line("done in").ends_with(" s"));
}

/// Issue 7's promise: the full tour (5,000 connections) ends by itself in
/// under 10 s on 2 cores. Measured on 2 cores shared with other jobs:
/// 0.9-2.8 s in release (6 s beside a cargo build), but 11-29 s in a debug
/// build, nearly all of it the unoptimized SHA-256 of the slow hash; hence
/// ignored by a plain `cargo test`. CI runs it with
/// `cargo build --release --examples && cargo test --release --test examples -- --ignored`.
#[test]
#[ignore = "the 10 s bound is for a release build: cargo build --release --examples && \
            cargo test --release --test examples -- --ignored"]
fn full_tour_ends_within_10_s_in_release() {
    const LIMIT: Duration = Duration::from_secs(10);
    if cfg!(debug_assertions) {
        panic!(
            "the full tour's 10 s bound is for a release build: run `cargo build --release \
             --examples && cargo test --release --test examples -- --ignored`"
        );
    }
    let run = Example::start("tour", &[]).finish_within(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let has = |prefix: &str| run.stdout.iter().any(|l| l.starts_with(prefix));
    for prefix in [
        "echo:   5000 connections open at once",
        "echo:   50000 messages echoed in",
        "timers: 1000 timers",
        "files:  100 files",
        "hash:   3000000 rounds of SHA-256",
        "done in",
    ] {
        assert!(has(prefix), "no {prefix:?} line in {:#?}", run.stdout);
    }
    assert!(
        run.stdout
            .iter()
            .any(|l| l.starts_with("timers: ") && l.ends_with(", 0 early")),
        "{:#?}",
        run.stdout
    );
}

#[test]
fn tour_uses_fewer_connections_when_descriptors_are_scarce() {
    // The shell lowers both limits to 300 descriptors, then becomes the
    // tour: 200 connections would need about 600.
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("ulimit -n 300 && exec \"$0\" --quick")
        .arg(example_path("tour"));
    let run = Example::spawn("tour", command).finish();
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout[0].starts_with("note: this process may open only 300 descriptors"),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout[0].ends_with("uses 50 connections instead of 200"));
    assert!(
        run.stdout
            .iter()
            .any(|l| l.starts_with("echo:   50 connections open at once")),
        "{:?}",
        run.stdout
    );
}

#[test]
fn every_example_rejects_a_bad_argument_with_usage_and_exit_code_2() {
    let cases: [(&'static str, &[&str]); 13] = [
        ("echo", &["--bogus"]),
        ("stats", &["--port", "-1"]),
        ("echo", &["--port", "70000"]),
        ("http", &["--port"]),
        ("chat", &["--port", "x"]),
        ("proxy", &["--listen", "127.0.0.1:0"]),
        ("walk", &[".", "--jobs", "0"]),
        ("walk", &[]),
        ("timers", &["--now"]),
        ("tour", &["--slow"]),
        ("service", &["--grace", "-1"]),
        ("service", &["--grace"]),
        ("shell", &["--bogus"]),
    ];
    for (name, args) in cases {
        let run = Example::start(name, args).finish();
        assert_eq!(
            run.status.code(),
            Some(2),
            "{name} {args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("usage: "),
            "{name} {args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{name} {args:?}: {:?}", run.stdout);
    }
}

/// Sends `GET target` on a new connection, and leaves the answer unread.
fn send_get(addr: SocketAddr, target: &str) -> TcpStream {
    let stream = connect(addr);
    (&stream)
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .expect("send the request");
    stream
}

/// Expects the server to close `stream` without sending anything (more).
fn assert_closed_without_answer(mut stream: impl Read, what: &str) {
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("{what}: no EOF: {e}"));
    assert!(
        rest.is_empty(),
        "{what}: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn service_finishes_the_requests_in_flight_at_sigterm_and_refuses_new_connections() {
    let service = Example::start("service", &["--port", "0"]);
    let addr = service.address();
    // A keep-alive connection, idle once its one request is answered.
    let mut idle = BufReader::new(send_get(addr, "/"));
    assert_eq!(read_response(&mut idle).0, "HTTP/1.1 200 OK");
    let mut slow = BufReader::new(send_get(addr, "/slow?ms=3000"));
    service.stderr_line_with("request GET /slow?ms=3000");

    service.signal(Signal::TERM);
    let shutdown = service.stderr_line_with("shutting down");
    assert!(
        shutdown.contains("1 request in flight, closing 1 idle connection"),
        "{shutdown}"
    );
    // The listener is gone by the time the shutdown is logged.
    let refused = TcpStream::connect(addr).expect_err("a connection after SIGTERM");
    assert_eq!(
        refused.kind(),
        io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    assert_closed_without_answer(&mut idle, "the idle connection");
    // The request in flight is answered in full, then its connection closes.
    let (status, body) = read_response(&mut slow);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "waited 3000 ms\n");
    assert_closed_without_answer(&mut slow, "the slow request's connection");

    let run = service.finish();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("all requests done"), "{}", run.stderr);
}

#[test]
fn service_closes_the_requests_left_at_the_deadline_and_exits_0() {
    let service = Example::start("service", &["--port", "0", "--grace", "0.5"]);
    let slow = send_get(service.address(), "/slow?ms=600000");
    service.stderr_line_with("request GET /slow");
    service.signal(Signal::TERM);
    // Cut after 0.5 s: well within the client's read timeout.
    assert_closed_without_answer(slow, "the request slower than the grace period");
    let run = service.finish();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("closed 1 connection at the deadline"),
        "{}",
        run.stderr
    );
}

#[test]
fn service_closes_silent_clients_at_sigterm_and_the_rest_at_a_second_signal() {
    // Only the second signal can end it within the test's bounds.
    let service = Example::start("service", &["--port", "0", "--grace", "600"]);
    let addr = service.address();
    // A client that never sends its request. It connects before the slow
    // request's client, so the server has accepted it once that request
    // is in.
    let silent = connect(addr);
    let slow = send_get(addr, "/slow?ms=600000");
    service.stderr_line_with("request GET /slow");

    service.signal(Signal::TERM);
    let shutdown = service.stderr_line_with("shutting down");
    assert!(
        shutdown.contains("1 request in flight, closing 1 idle connection"),
        "{shutdown}"
    );
    assert_closed_without_answer(silent, "the client that sent nothing");
    service.signal(Signal::INT);
    assert_closed_without_answer(slow, "the request in flight at the second signal");
    let run = service.finish();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("closed 1 connection at a second signal, SIGINT"),
        "{}",
        run.stderr
    );
}

/// Shell's lines, `[ NNNNN ms] what`, as (milliseconds, what).
fn shell_lines(stdout: &[String]) -> Vec<(u64, &str)> {
    stdout
        .iter()
        .map(|line| {
            let (ms, what) = line
                .strip_prefix('[')
                .and_then(|l| l.split_once(" ms] "))
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            (ms.trim().parse().expect("milliseconds"), what)
        })
        .collect()
}

/// What shell printed, ticks left out.
fn without_ticks<'a>(lines: &[(u64, &'a str)]) -> Vec<&'a str> {
    lines
        .iter()
        .map(|&(_, what)| what)
        .filter(|what| !what.starts_with("tick "))
        .collect()
}

#[test]
fn shell_streams_the_childs_lines_as_they_come_while_the_timer_ticks() {
    let run = Example::start("shell", &[]).finish();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let lines = shell_lines(&run.stdout);
    let shown = without_ticks(&lines);
    assert!(
        shown[0].starts_with(r#"started ["sh", "-c", "#),
        "{shown:?}"
    );
    assert_eq!(
        shown[1..],
        [
            "> line 1",
            "> line 2",
            "> line 3",
            "> line 4",
            "> line 5",
            "exit status: 0"
        ]
    );
    // Each line is printed when the child writes it, 200 ms apart, and the
    // timer fires meanwhile: a tick comes between the first and the last.
    let at = |what: &str| lines.iter().position(|&(_, w)| w == what).expect(what);
    let (first, last) = (at("> line 1"), at("> line 5"));
    assert!(
        lines[first..last]
            .iter()
            .any(|(_, w)| w.starts_with("tick ")),
        "{:#?}",
        run.stdout
    );
    let ticks: Vec<&str> = lines
        .iter()
        .map(|&(_, w)| w)
        .filter(|w| w.starts_with("tick "))
        .collect();
    let numbered: Vec<String> = (1..=ticks.len()).map(|n| format!("tick {n}")).collect();
    assert_eq!(ticks, numbered);
    assert!(
        lines.windows(2).all(|pair| pair[0].0 <= pair[1].0),
        "{:#?}",
        run.stdout
    );
}

#[test]
fn shell_reports_the_exit_status_and_exits_with_the_childs_code() {
    let run = Example::start("shell", &["sh", "-c", "echo out; exit 3"]).finish();
    assert_eq!(run.status.code(), Some(3), "{}", run.stderr);
    let lines = shell_lines(&run.stdout);
    assert_eq!(without_ticks(&lines)[1..], ["> out", "exit status: 3"]);
}

#[test]
fn shell_of_a_missing_program_fails_clearly() {
    let run = Example::start("shell", &["no-such-program-for-bureau"]).finish();
    assert_eq!(run.status.code(), Some(127), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            r#"shell: cannot run "no-such-program-for-bureau": No such file or directory"#
        ),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
}

#[test]
fn shell_shows_binary_output_and_a_huge_line_as_safe_text() {
    let script =
        r"printf 'a\000b\033[31m\377\r\n'; head -c 1000000 /dev/zero | tr '\0' x; echo; echo after";
    let run = Example::start("shell", &["sh", "-c", script]).finish();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let lines = shell_lines(&run.stdout);
    // NUL and ESC escaped, the byte 0xff replaced, the CR of CRLF dropped;
    // of the line of 1,000,000 bytes, the first 4096 and a count of the rest.
    let control = "> a\\u{0}b\\u{1b}[31m\u{fffd}";
    let long = format!("> {}... (995904 more bytes)", "x".repeat(4096));
    assert_eq!(
        without_ticks(&lines)[1..],
        [control, &long, "> after", "exit status: 0"]
    );
}
