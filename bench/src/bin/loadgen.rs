//! The load generator shared by every echo server: opens C connections and
//! either runs fixed-size messages in a closed loop, or holds them idle and
//! counts how often the server's threads wake.
//!
//! The closed loop prints `measuring` when its counted window opens and
//! `measured` when it closes, each on a line of its own before the figures,
//! so that the harness can have the server count over the same window.
//!
//! Written directly on `polling`, with no runtime, so that it loads every
//! server alike. It must only ever connect to the address it is given (the
//! harness gives it 127.0.0.1), and it always stops by itself.

use bureau_bench::{limits, procfs, stats};
use polling::{Event, Events, PollMode, Poller};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: loadgen echo|idle ADDR --conns C --secs S --pid SERVER_PID [--size BYTES]";

/// What the command line asked for.
struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    pid: u32,
    size: usize,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("loadgen: {message}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = limits::raise_nofile().and_then(|_| match args.mode.as_str() {
        "echo" => echo(&args),
        _ => idle(&args),
    });
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let args: Vec<String> = args.collect();
    let [mode, addr, flags @ ..] = args.as_slice() else {
        return Err("missing mode or address".to_string());
    };
    if mode != "echo" && mode != "idle" {
        return Err(format!("unknown mode {mode}"));
    }
    let addr = addr.parse().map_err(|_| format!("bad address {addr}"))?;
    let flag = |name: &str| -> Result<Option<&str>, String> {
        match flags.iter().position(|f| f == name) {
            Some(i) => flags
                .get(i + 1)
                .map(|v| Some(v.as_str()))
                .ok_or(format!("{name} needs a value")),
            None => Ok(None),
        }
    };
    let number = |name: &str, default: Option<f64>| -> Result<f64, String> {
        match flag(name)? {
            Some(v) => v.parse().map_err(|_| format!("bad {name} {v}")),
            None => default.ok_or(format!("{name} is required")),
        }
    };
    Ok(Args {
        mode: mode.clone(),
        addr,
        conns: number("--conns", None)? as usize,
        secs: number("--secs", None)?,
        pid: number("--pid", None)? as u32,
        size: number("--size", Some(64.0))? as usize,
    })
}

/// How many connections are opened before waiting for the server to answer
/// on each of them.
const CONNECT_BATCH: usize = 100;

/// Opens `count` connections, each set to reset on close so that repeated
/// runs leave no TIME_WAIT behind. They are opened in batches, and each
/// batch echoes one byte before the next is opened: this paces the
/// connects to the server's accepts, so its listen backlog never overflows
/// (an overflow drops the SYN and costs the client a 1 s retransmit).
fn connect(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch = CONNECT_BATCH.min(count - streams.len());
        let first = streams.len();
        for i in first..first + batch {
            let stream = TcpStream::connect(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            reset_on_close(&stream)?;
            (&stream).write_all(b"!")?;
            streams.push(stream);
        }
        for stream in &streams[first..] {
            let mut byte = [0u8; 1];
            (&*stream).read_exact(&mut byte)?;
        }
    }
    Ok(streams)
}

fn reset_on_close(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is open for the call, and `linger` is a valid option
    // value of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One connection of the closed loop.
struct Conn {
    stream: TcpStream,
    received: usize,
    sent_at: Instant,
}

/// The closed loop: each connection sends a message, waits for all of it to
/// come back, and sends the next. After a warm-up of a tenth of the run
/// (at most a second), messages, latencies and the server's CPU are counted.
fn echo(args: &Args) -> io::Result<String> {
    let message = vec![b'x'; args.size];
    let mut buf = vec![0u8; 4096];
    let now = Instant::now();
    let mut conns: Vec<Conn> = connect(args.addr, args.conns)?
        .into_iter()
        .map(|stream| Conn {
            stream,
            received: 0,
            sent_at: now,
        })
        .collect();
    let poller = Poller::new()?;
    for (key, conn) in conns.iter().enumerate() {
        conn.stream.set_nonblocking(true)?;
        // SAFETY: every stream is deleted from the poller below, before it
        // is dropped.
        unsafe { poller.add_with_mode(&conn.stream, Event::readable(key), PollMode::Level)? };
    }
    let warm_up = Duration::from_secs_f64((args.secs / 10.0).min(1.0));
    let start = Instant::now();
    let measure_from = start + warm_up;
    let end = measure_from + Duration::from_secs_f64(args.secs);
    for conn in &mut conns {
        send(conn, &message)?;
    }
    let mut latencies: Vec<u64> = Vec::with_capacity(1 << 20);
    let mut cpu_start = None;
    let mut events = Events::new();
    loop {
        events.clear();
        poller.wait(&mut events, Some(Duration::from_millis(50)))?;
        let now = Instant::now();
        if cpu_start.is_none() && now >= measure_from {
            cpu_start = Some((procfs::cpu_time(args.pid)?, now));
            println!("measuring");
        }
        if now >= end {
            println!("measured");
            break;
        }
        for event in events.iter() {
            let conn = &mut conns[event.key];
            match conn.stream.read(&mut buf) {
                Ok(0) => return Err(io::Error::other("the server closed a connection")),
                Ok(n) => conn.received += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
            if conn.received < message.len() {
                continue;
            }
            let done = Instant::now();
            if cpu_start.is_some() {
                latencies.push((done - conn.sent_at).as_nanos() as u64);
            }
            conn.received -= message.len();
            send(conn, &message)?;
        }
    }
    let (cpu_before, measured_from) =
        cpu_start.ok_or(io::Error::other("the run ended before it began"))?;
    let cpu = procfs::cpu_time(args.pid)?.since(cpu_before);
    let rss = procfs::rss_kib(args.pid)?;
    let secs = measured_from.elapsed().as_secs_f64();
    for conn in &conns {
        poller.delete(&conn.stream)?;
    }
    latencies.sort_unstable();
    Ok(format!(
        "messages={} secs={secs:.3} p50_us={:.1} p99_us={:.1} server_cpu_us={} server_user_us={} server_rss_kib={rss}",
        latencies.len(),
        stats::percentile(&latencies, 50.0) as f64 / 1000.0,
        stats::percentile(&latencies, 99.0) as f64 / 1000.0,
        cpu.total(),
        cpu.user,
    ))
}

fn send(conn: &mut Conn, message: &[u8]) -> io::Result<()> {
    conn.sent_at = Instant::now();
    // One small message per connection is in flight: the socket buffer
    // always has room, so a short write means something is badly wrong.
    match conn.stream.write(message)? {
        n if n == message.len() => Ok(()),
        n => Err(io::Error::other(format!("short write of {n} bytes"))),
    }
}

/// Holds the connections idle for the run, then reports how many times the
/// server's threads went to sleep and were woken, in total and per thread.
fn idle(args: &Args) -> io::Result<String> {
    let _conns = connect(args.addr, args.conns)?;
    std::thread::sleep(Duration::from_secs(1));
    let before = procfs::thread_switches(args.pid)?;
    std::thread::sleep(Duration::from_secs_f64(args.secs));
    let after = procfs::thread_switches(args.pid)?;
    let mut total = 0;
    let mut woken_helpers = 0;
    let mut detail = Vec::new();
    for thread in &after {
        let earlier = before
            .iter()
            .find(|t| t.tid == thread.tid)
            .map_or(0, |t| t.voluntary);
        let delta = thread.voluntary - earlier;
        total += delta;
        if thread.tid != args.pid && delta > 0 {
            woken_helpers += 1;
        }
        detail.push(format!("{}:{delta}", thread.name.replace(' ', "_")));
    }
    Ok(format!(
        "wakeups={total} secs={:.3} threads={} woken_helpers={woken_helpers} detail={}",
        args.secs,
        after.len(),
        detail.join(",")
    ))
}
