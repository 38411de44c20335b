//! The raw reference HTTP server: the same hello-world keep-alive server as
//! the runtime ones, written directly on `polling` with no executor: the
//! floor any runtime on `polling` pays.
//!
//! Edge-triggered, reading until `WouldBlock` (see `echo_raw` for why a
//! short read cannot end the turn on `polling`). Framing through
//! `bureau_bench::http`. It must never depend on a runtime, and never panic
//! on a client's I/O error: the connection is closed instead.
//!
//! usage: http_raw ADDR

use bureau_bench::http;
use polling::{Event, Events, PollMode, Poller};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

/// The listener's key (`polling` reserves `usize::MAX`); connections use
/// their slot index.
const LISTENER: usize = usize::MAX - 1;

/// One client: what it sent that is not yet a whole request, and the
/// responses not yet written.
struct Conn {
    stream: TcpStream,
    buf: Box<[u8; 4096]>,
    filled: usize,
    out: Vec<u8>,
    written: usize,
    /// Whether the poller watches for writability (blocked responses)
    /// rather than readability.
    writing: bool,
}

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: http_raw ADDR");
        return ExitCode::FAILURE;
    };
    match serve(&addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_raw: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: the listener lives until this function returns, after the
    // poller's last use of it.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    println!("listening on {addr}");
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::new();
    loop {
        events.clear();
        poller.wait(&mut events, None)?;
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
                eprintln!("http_raw: accept: {e}");
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
            filled: 0,
            out: Vec::new(),
            written: 0,
            writing: false,
        };
        if key == conns.len() {
            conns.push(Some(conn));
        } else {
            conns[key] = Some(conn);
        }
    }
}

/// Answers every whole request until a read would block or the send buffer
/// is full; false when the connection must close.
fn serve_conn(poller: &Poller, slot: &mut Option<Conn>, key: usize) -> bool {
    let Some(conn) = slot else { return true };
    let blocked = loop {
        while conn.written < conn.out.len() {
            match conn.stream.write(&conn.out[conn.written..]) {
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        if conn.written < conn.out.len() {
            break true;
        }
        conn.out.clear();
        conn.written = 0;
        let n = match conn.stream.read(&mut conn.buf[conn.filled..]) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(_) => return false,
        };
        let (requests, rest) = http::take_requests(&mut conn.buf[..], conn.filled + n);
        if rest == conn.buf.len() {
            return false;
        }
        conn.filled = rest;
        for _ in 0..requests {
            conn.out.extend_from_slice(http::RESPONSE);
        }
    };
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
