//! One HTTP server spread over several processes, the way Node's `cluster`
//! module spreads a server over cores: N worker processes, each running
//! one bureau loop and listening on the same port with `SO_REUSEPORT`, so
//! that the kernel shares the incoming connections among them.
//!
//! ```text
//! cargo run --release --example cluster -- --workers 2 --port 8080
//! curl -i http://127.0.0.1:8080/     # X-Worker names the worker that answered
//! wrk -c 100 -d 10s http://127.0.0.1:8080/
//! ```
//!
//! ctrl-c, or `kill -TERM` of the parent, stops every worker and ends the
//! parent with status 0.
//!
//! The parent serves nothing; it runs its own binary again, once per
//! worker, with `--worker ID --port PORT` (through `bureau::process`), and
//! keeps these promises:
//! - The port is the parent's: it binds a reuse-port socket first (so
//!   `--port 0` becomes a real port) and holds it, without listening, for
//!   as long as it runs, so no other program takes the port while workers
//!   come and go. A socket that does not listen is given no connections.
//! - Its first line on stdout is `listening on http://ADDR/`, printed once
//!   every worker listens (a worker says so with a line on its stdout, a
//!   pipe to the parent); then one `worker ID: pid PID` line per worker.
//! - No worker outlives it: a worker's stdin is a pipe from the parent,
//!   never written, and a worker that reads its end (the parent is gone,
//!   even killed with `SIGKILL`) exits.
//! - Workers run in a process group of their own, so a terminal's ctrl-c
//!   reaches the parent alone. On `SIGTERM` or `SIGINT` the parent sends
//!   `SIGTERM` to every worker, waits for each (a second signal, or
//!   [`STOP_DEADLINE`], sends `SIGKILL` instead) and exits 0 if every one
//!   stopped cleanly, 1 if not.
//! - A worker that exits by itself after it listened is reported on stdout
//!   and replaced by a new one with the same id, as Node programs do with
//!   `cluster.on('exit', ...)`. One that fails before it listens (it cannot
//!   bind, say) stops the whole cluster with status 1: a new one would most
//!   likely fail the same way, again and again.
//!
//! A worker answers `GET /` with a hello that names it (`X-Worker: ID` and
//! `X-Worker-Pid: PID`), on keep-alive connections. On `SIGTERM` it stops
//! at once and drops its open connections; letting in-flight requests
//! finish first is the graceful-shutdown example's business
//! (`examples/service.rs`). The HTTP handling is deliberately small:
//! `examples/http.rs` is the careful parser.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::rc::Rc;
use std::time::Duration;

use bureau::Timer;
use bureau::future;
use bureau::io::BufReader;
use bureau::net::{TcpSocket, TcpStream};
use bureau::prelude::*;
use bureau::process::{Child, Command, Stdio};
use bureau::signal::{Signal, Signals};
use rustix::process::{Pid, Signal as RawSignal, kill_process};

const USAGE: &str = "usage: cluster [--workers N] [--port PORT]   \
    (N defaults to the number of cores; PORT 0 picks a free port, default 8080)";
/// The line a worker prints on its stdout once it listens.
const READY: &str = "ready";
/// How long a worker may take to start listening before it counts as
/// failed.
const STARTUP: Duration = Duration::from_secs(10);
/// How long the workers get to stop after `SIGTERM`, before `SIGKILL`.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// The most bytes of request heads a worker buffers on one connection.
const MAX_HEAD: usize = 8 * 1024;

/// What the command line asked this process to be.
#[derive(Debug, PartialEq)]
enum Role {
    /// The parent of `workers` workers, serving on `port`.
    Parent { workers: usize, port: u16 },
    /// Worker `id`, listening on `port` beside its siblings.
    Worker { id: usize, port: u16 },
}

fn main() -> ExitCode {
    let role = match parse_args(std::env::args().skip(1)) {
        Ok(role) => role,
        Err(message) => {
            eprintln!("cluster: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match role {
        Role::Parent { workers, port } => match bureau::block_on(supervise(workers, port)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("cluster: {e}");
                ExitCode::FAILURE
            }
        },
        Role::Worker { id, port } => match bureau::block_on(work(id, port)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cluster: worker {id}: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a line of the parent's log on stdout. A log line that nobody
/// reads any more is lost; the cluster goes on.
fn log(line: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
}

// ---------------------------------------------------------------------------
// The parent.

/// What the parent's loop waits for.
enum Event {
    /// Worker `id`, process `pid`, listens.
    Ready { id: usize, pid: u32 },
    /// Worker `id`, process `pid`, has exited and been reaped; `listened`
    /// says whether it had said it listens.
    Exited {
        id: usize,
        pid: u32,
        status: io::Result<ExitStatus>,
        listened: bool,
    },
    /// The parent was asked to stop.
    Signal(Signal),
    /// The workers had [`STOP_DEADLINE`] to stop, and some did not.
    Deadline,
}

/// Why the cluster stops.
#[derive(Clone, Copy)]
enum Stop {
    /// A signal asked it to.
    Asked,
    /// A worker could not be started, or failed before it listened.
    Failed,
}

/// The parent's state, owned by its loop.
struct Supervisor {
    /// This binary, run again for each worker.
    exe: PathBuf,
    addr: SocketAddr,
    events: async_channel::Sender<Event>,
    /// The pid of each worker while it is unreaped (its pid cannot be
    /// reused then, so a signal to it reaches the worker); `None` from the
    /// moment it is reaped. Shared with the tasks that watch the workers.
    pids: Rc<RefCell<Vec<Option<u32>>>>,
    /// Workers started and not yet reaped.
    running: usize,
    /// Each worker's pid once it listens, until every one has listened
    /// once and the address is out.
    starting: Vec<Option<u32>>,
    listening: bool,
    stop: Option<Stop>,
    /// Fires [`STOP_DEADLINE`] after the stop began.
    deadline: Timer,
    /// Whether every worker stopped as asked.
    clean: bool,
}

/// Starts `workers` workers on `port`, replaces the ones that die, and
/// stops them all at `SIGTERM` or `SIGINT`; the exit code says whether all
/// went well.
async fn supervise(workers: usize, port: u16) -> io::Result<ExitCode> {
    // Listening before any worker starts: from here on, a SIGTERM or
    // ctrl-c is the parent's to forward, never the default action's.
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let reserved = TcpSocket::new_v4()?;
    reserved.set_reuseport(true)?;
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    reserved
        .bind(wanted)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {wanted}: {e}")))?;
    let (events, received) = async_channel::unbounded();
    let mut supervisor = Supervisor {
        exe: std::env::current_exe()?,
        addr: reserved.local_addr()?,
        events,
        pids: Rc::new(RefCell::new(vec![None; workers])),
        running: 0,
        starting: vec![None; workers],
        listening: false,
        stop: None,
        deadline: Timer::never(),
        clean: true,
    };
    for id in 0..workers {
        if supervisor.stop.is_none() {
            supervisor.launch(id);
        }
    }
    while supervisor.running > 0 {
        let event = next_event(&received, &mut signals, &mut supervisor.deadline).await?;
        supervisor.handle(event);
    }
    // Held until here, so the port stayed ours while any worker ran.
    drop(reserved);
    Ok(match supervisor.stop {
        Some(Stop::Asked) if supervisor.clean => {
            log(format_args!("all workers stopped"));
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    })
}

/// The next event: a worker's news, a signal, or the stop's deadline.
async fn next_event(
    received: &async_channel::Receiver<Event>,
    signals: &mut Signals,
    deadline: &mut Timer,
) -> io::Result<Event> {
    // The loop holds a sender, so the channel never closes under it.
    let news = async { received.recv().await.map_err(io::Error::other) };
    let signal = async {
        match signals.next().await {
            Some(signal) => Ok(Event::Signal(signal)),
            // A `Signals` stream never ends.
            None => future::pending().await,
        }
    };
    let late = async {
        deadline.await;
        Ok(Event::Deadline)
    };
    future::or(news, future::or(signal, late)).await
}

impl Supervisor {
    /// Starts worker `id` and a task that watches it; stops the cluster if
    /// it cannot be started.
    ///
    /// The pid is recorded here, before the loop takes its next event, so
    /// a stop that comes next signals this worker too.
    fn launch(&mut self, id: usize) {
        match self.start_worker(id) {
            Ok(child) => {
                self.pids.borrow_mut()[id] = Some(child.id());
                self.running += 1;
                let (events, pids) = (self.events.clone(), self.pids.clone());
                bureau::spawn(watch(child, id, events, pids)).detach();
            }
            Err(e) => {
                eprintln!("cluster: cannot start worker {id}: {e}");
                self.begin_stop(Stop::Failed);
            }
        }
    }

    /// Runs this binary again as worker `id`, in a process group of its
    /// own, with its stdin and stdout piped to us and its stderr shared.
    fn start_worker(&self, id: usize) -> io::Result<Child> {
        let mut command = std::process::Command::new(&self.exe);
        command
            .args(["--worker", &id.to_string()])
            .args(["--port", &self.addr.port().to_string()])
            .process_group(0);
        Command::from(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Ready { id, pid } if !self.listening => {
                self.starting[id] = Some(pid);
                if self.starting.iter().all(Option::is_some) {
                    self.listening = true;
                    log(format_args!("listening on http://{}/", self.addr));
                    for (id, pid) in self.starting.iter().enumerate() {
                        log(format_args!("worker {id}: pid {}", pid.unwrap_or(0)));
                    }
                }
            }
            Event::Ready { id, pid } => log(format_args!("worker {id}: pid {pid}")),
            Event::Exited {
                id,
                pid,
                status,
                listened,
            } => {
                self.running -= 1;
                self.exited(id, pid, status, listened);
            }
            Event::Signal(signal) if self.stop.is_none() => {
                let running = self.running;
                log(format_args!(
                    "{signal}: stopping {running} workers with SIGTERM"
                ));
                self.begin_stop(Stop::Asked);
            }
            // Asked twice, or too slow to stop.
            Event::Signal(_) | Event::Deadline => {
                log(format_args!("killing the {} workers left", self.running));
                self.clean = false;
                self.deadline = Timer::never();
                self.signal_workers(RawSignal::KILL);
            }
        }
    }

    /// Worker `id`, process `pid`, has exited with `status`.
    fn exited(&mut self, id: usize, pid: u32, status: io::Result<ExitStatus>, listened: bool) {
        let shown = match &status {
            Ok(status) => status.to_string(),
            Err(e) => format!("status unknown: {e}"),
        };
        if self.stop.is_some() {
            // Killed by our SIGTERM counts as stopped: it came before the
            // worker listened for it.
            let stopped =
                status.is_ok_and(|s| s.success() || s.signal() == Some(RawSignal::TERM.as_raw()));
            self.clean &= stopped;
            log(format_args!("worker {id} (pid {pid}) stopped: {shown}"));
        } else if listened {
            log(format_args!(
                "worker {id} (pid {pid}) exited unexpectedly ({shown}); starting a new one"
            ));
            self.starting[id] = None;
            self.launch(id);
        } else {
            eprintln!("cluster: worker {id} (pid {pid}) failed to start ({shown})");
            self.begin_stop(Stop::Failed);
        }
    }

    /// Sends every worker `SIGTERM`, once, and starts the deadline.
    fn begin_stop(&mut self, why: Stop) {
        if self.stop.is_none() {
            self.stop = Some(why);
            self.deadline = Timer::after(STOP_DEADLINE);
            self.signal_workers(RawSignal::TERM);
        }
    }

    /// Sends `signal` to every worker not reaped yet.
    fn signal_workers(&self, signal: RawSignal) {
        for pid in self.pids.borrow().iter().flatten() {
            let Some(pid) = i32::try_from(*pid).ok().and_then(Pid::from_raw) else {
                continue;
            };
            // Fails only if the worker is gone, which its `Exited` will say.
            let _ = kill_process(pid, signal);
        }
    }
}

/// Watches worker `id`: tells the loop when it listens and when it has
/// exited, and clears its pid at the reaping.
async fn watch(
    mut child: Child,
    id: usize,
    events: async_channel::Sender<Event>,
    pids: Rc<RefCell<Vec<Option<u32>>>>,
) {
    let pid = child.id();
    // Held, never written, until the worker has exited: its end of file
    // is how the worker learns that the parent is gone.
    let _stdin = child.stdin.take();
    let listened = match child.stdout.take() {
        Some(stdout) => matches!(bureau::timeout(STARTUP, ready(stdout)).await, Ok(true)),
        None => false,
    };
    if listened {
        let _ = events.send(Event::Ready { id, pid }).await;
    } else {
        // Silent, or slow to listen: it counts as failed either way. An
        // error means it has exited already.
        let _ = child.kill();
    }
    let status = child.status().await;
    // In the same poll as the reaping, before anything else runs: from now
    // on `pid` may be another process's.
    pids.borrow_mut()[id] = None;
    let exited = Event::Exited {
        id,
        pid,
        status,
        listened,
    };
    let _ = events.send(exited).await;
}

/// Whether the worker's first line on stdout says it listens.
async fn ready(stdout: impl AsyncRead + Unpin) -> bool {
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line).await;
    read.is_ok() && line.trim_end() == READY
}

// ---------------------------------------------------------------------------
// A worker.

/// Listens on `port` beside the other workers and serves until `SIGTERM`,
/// or until its stdin ends (the parent is gone).
async fn work(id: usize, port: u16) -> io::Result<()> {
    // Before it says it is ready, so that the parent's SIGTERM is handled
    // from the moment the parent counts this worker as listening.
    let mut terminate = Signals::new([Signal::Term])?;
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseport(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let listener = socket.listen(1024)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{READY}")?;
        out.flush()?;
    }
    let pid = std::process::id();
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => bureau::spawn(serve(stream, id, pid)).detach(),
                // The listener pauses an error that would recur at once, so
                // logging it and accepting again never spins.
                Err(e) => eprintln!("cluster: worker {id}: accept failed: {e}"),
            }
        }
    };
    let parent_gone = async {
        let _ = bureau::io::copy(bureau::io::stdin(), &mut bureau::io::sink()).await;
        eprintln!("cluster: worker {id}: the parent is gone; exiting");
    };
    let terminated = async {
        terminate.next().await;
    };
    future::or(accept, future::or(parent_gone, terminated)).await;
    Ok(())
}

/// Answers the requests of one connection until the client closes it or
/// asks to, or sends something this small server does not take.
async fn serve(mut stream: TcpStream, id: usize, pid: u32) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = find_head_end(&pending) {
            let (reply, keep_alive) = answer(&pending[..end], id, pid);
            if stream.write_all(&reply).await.is_err() || !keep_alive {
                return;
            }
            pending.drain(..end);
        }
        if pending.len() > MAX_HEAD {
            let (reply, _) = refuse("the request head is too long");
            let _ = stream.write_all(&reply).await;
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The index just past the blank line that ends the first request head.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The response to one request head, and whether the connection stays
/// open after it.
fn answer(head: &[u8], id: usize, pid: u32) -> (Vec<u8>, bool) {
    let Ok(head) = std::str::from_utf8(head) else {
        return refuse("the request head is not text");
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return refuse("the request line is not `METHOD PATH HTTP/1.1`");
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return refuse("only HTTP/1.0 and HTTP/1.1 are spoken here"),
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return refuse("a header line has no `:`");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            keep_alive = value.eq_ignore_ascii_case("keep-alive");
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length") && value != "0")
        {
            // This server reads no bodies, so it could not tell where the
            // next request starts.
            return refuse("request bodies are not taken here");
        }
    }
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/") => ("200 OK", format!("Hello from bureau worker {id}!\n")),
        ("GET" | "HEAD", _) => ("404 Not Found", "not found\n".to_string()),
        _ => ("405 Method Not Allowed", "only GET and HEAD\n".to_string()),
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Connection: {connection}\r\n\
         X-Worker: {id}\r\n\
         X-Worker-Pid: {pid}\r\n\
         \r\n",
        body.len()
    );
    if method != "HEAD" {
        reply.push_str(&body);
    }
    (reply.into_bytes(), keep_alive)
}

/// A 400 that closes the connection: after a request it cannot frame, the
/// server cannot trust the bytes that follow.
fn refuse(why: &str) -> (Vec<u8>, bool) {
    let body = format!("bad request: {why}\n");
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    );
    (reply.into_bytes(), false)
}

// ---------------------------------------------------------------------------
// The command line.

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Role, String> {
    let mut workers = None;
    let mut port = 8080;
    let mut worker = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--workers" => {
                let value = value("--workers")?;
                workers = match value.parse() {
                    Ok(n) if n > 0 => Some(n),
                    _ => return Err(format!("--workers: {value:?} is not a positive number")),
                };
            }
            "--port" => {
                let value = value("--port")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number (0-65535)"))?;
            }
            // Given by the parent to the processes it starts.
            "--worker" => {
                let value = value("--worker")?;
                worker = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--worker: {value:?} is not a worker id"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match (worker, workers) {
        (Some(_), Some(_)) => Err("--worker and --workers do not go together".to_string()),
        (Some(_), None) if port == 0 => Err("a worker needs the cluster's port".to_string()),
        (Some(id), None) => Ok(Role::Worker { id, port }),
        (None, workers) => Ok(Role::Parent {
            workers: workers.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
            port,
        }),
    }
}
