//! The raw reference echo server: the same echo as the runtime servers,
//! written directly on `polling` with no executor: the floor any runtime on
//! `polling` pays.
//!
//! Edge-triggered, 4 KiB buffer per connection, reading until `WouldBlock`
//! as edge triggering demands: `polling` registers no `EPOLLRDHUP`, so a
//! short read cannot be taken as "drained" without losing an EOF that came
//! with the last data. One message thus costs two reads and one write, as it
//! does any correct runtime on `polling`. It must never depend on a runtime,
//! and never panic on a client's I/O error: the connection is closed
//! instead.
//!
//! usage: echo_raw ADDR [--tick]   (--tick: wake once a second, as the idle
//! workload's interval timer)

use polling::{Event, Events, PollMode, Poller};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The listener's key (`polling` reserves `usize::MAX`); connections use
/// their slot index.
const LISTENER: usize = usize::MAX - 1;

/// One client, and the part of its echo not yet written back.
struct Conn {
    stream: TcpStream,
    buf: Box<[u8; 4096]>,
    pending: std::ops::Range<usize>,
    /// Whether the poller watches for writability (a blocked echo) rather
    /// than readability.
    writing: bool,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: echo_raw ADDR [--tick]");
        return ExitCode::FAILURE;
    };
    let tick = args.any(|a| a == "--tick");
    match serve(&addr, tick) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_raw: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: &str, tick: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: the listener outlives the poller's use of it: both live until
    // this function returns, and the poller is dropped first.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    println!("listening on {addr}");
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::new();
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    loop {
        events.clear();
        let timeout = tick.then(|| next_tick.saturating_duration_since(Instant::now()));
        poller.wait(&mut events, timeout)?;
        if tick && Instant::now() >= next_tick {
            next_tick += Duration::from_secs(1);
        }
        for event in events.iter() {
            if event.key == LISTENER {
                accept_all(&listener, &poller, &mut conns, &mut free);
            } else if !serve_conn(&poller, &mut conns[event.key], event.key) {
                if let Some(conn) = conns[event.key].take() {
                    // The client is gone either way: a failed delete changes nothing.
                    let _ = poller.delete(&conn.stream);
                }
                free.push(event.key);
            }
        }
    }
}

fn accept_all(
    listener: &TcpListener,
    poller: &Poller,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("echo_raw: accept: {e}");
                return;
            }
        };
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        let key = free.pop().unwrap_or(conns.len());
        // SAFETY: the stream is deleted from the poller before it is dropped
        // (in `serve` when the connection closes).
        if unsafe { poller.add_with_mode(&stream, Event::readable(key), PollMode::Edge) }.is_err() {
            free.push(key);
            continue;
        }
        let conn = Conn {
            stream,
            buf: Box::new([0; 4096]),
            pending: 0..0,
            writing: false,
        };
        if key == conns.len() {
            conns.push(Some(conn));
        } else {
            conns[key] = Some(conn);
        }
    }
}

/// Echoes until the socket is drained or its send buffer is full; false
/// when the connection must close.
fn serve_conn(poller: &Poller, slot: &mut Option<Conn>, key: usize) -> bool {
    let Some(conn) = slot else { return true };
    loop {
        if conn.pending.is_empty() {
            match conn.stream.read(&mut conn.buf[..]) {
                Ok(0) => return false,
                Ok(n) => conn.pending = 0..n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        while !conn.pending.is_empty() {
            match conn.stream.write(&conn.buf[conn.pending.clone()]) {
                Ok(n) => conn.pending.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        if !conn.pending.is_empty() {
            break;
        }
    }
    let blocked = !conn.pending.is_empty();
    if blocked == conn.writing {
        return true;
    }
    conn.writing = blocked;
    let interest = if blocked {
        Event::writable(key)
    } else {
        Event::readable(key)
    };
    poller
        .modify_with_mode(&conn.stream, interest, PollMode::Edge)
        .is_ok()
}
