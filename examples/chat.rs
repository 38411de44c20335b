//! A line-based TCP chat room: every line a client sends goes to every other
//! client.
//!
//! ```text
//! cargo run --example chat -- --port 7001
//! nc 127.0.0.1 7001          # in two or more terminals
//! ```
//!
//! All clients live on one thread, so the room is a plain
//! `Rc<RefCell<HashMap>>`: no locks, and no `Send` needed, since
//! `bureau::spawn` runs the task on the thread that spawned it.
//!
//! Each client has two tasks: one reads its lines and puts each in the
//! others' outboxes, one writes its own outbox to its socket. A client that
//! sends without pause must not cost the others their lines, so:
//!
//! - A full outbox slows the sender, not the receiver: the line waits for
//!   room, and the sender's reading task waits with it, so no client is read
//!   faster than the slowest of the others reads, and TCP pushes back on a
//!   flooder's own socket. Every line reaches every client that reads.
//! - The reading task yields after each line it hands on. One read from the
//!   socket may bring hundreds of lines into its buffer; the yield lets the
//!   writing tasks (and every other client) run between any two of them.
//! - A client that stops reading would make every sender wait for it
//!   forever, so a client whose socket takes nothing of a line for `STALL`
//!   is dropped: its connection is closed, and its outbox too, which
//!   releases the senders waiting on it. Each client that stops reading can
//!   thus hold the room up once, for at most `STALL`. The clock is the
//!   client's own, not the sender's, so clients whose buffers fill together
//!   are dropped together.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use bureau::future;
use bureau::io::BufReader;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: chat [--port PORT]   (PORT 0 picks a free port; default 7001)";
/// The longest line passed on whole, in bytes; a longer one goes out in
/// pieces of this size, so a client cannot make the server buffer forever.
const MAX_LINE: u64 = 4096;
/// Lines waiting for one client. A sender that finds the outbox full waits
/// for room, so the server holds at most this many lines per client, plus
/// one per waiting sender.
const OUTBOX: usize = 256;
/// How long a client's socket may take nothing of a line before the client
/// is dropped.
const STALL: Duration = Duration::from_secs(5);

/// The outbox of every client, by address.
type Room = Rc<RefCell<HashMap<SocketAddr, Sender<Rc<str>>>>>;

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("chat: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let room = Room::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A failed accept turns a client away, not the server down; the
            // listener pauses an error that would recur at once, so logging
            // it and accepting again never spins.
            Err(e) => {
                eprintln!("chat: accept failed: {e}");
                continue;
            }
        };
        let room = room.clone();
        bureau::spawn(async move {
            if let Err(e) = client(stream, peer, &room).await {
                eprintln!("chat: {peer}: {e}");
            }
            room.borrow_mut().remove(&peer);
            broadcast(&room, peer, format!("* {peer} left\n")).await;
        })
        .detach();
    }
}

/// Serves one client until it leaves, or until its socket has taken nothing
/// of a line for `STALL`.
async fn client(stream: TcpStream, peer: SocketAddr, room: &Room) -> io::Result<()> {
    let (outbox, inbox) = async_channel::bounded(OUTBOX);
    // Writing gets a task of its own, so that this client's lines are still
    // read while its socket is slow to take the others'.
    let writer = bureau::spawn(deliver(stream.clone(), inbox));
    let others = room.borrow().len();
    room.borrow_mut().insert(peer, outbox.clone());
    let welcome = format!("* welcome, you are {peer}; {others} other(s) here\n");
    outbox.try_send(welcome.into()).ok();
    broadcast(room, peer, format!("* {peer} joined\n")).await;
    // Whichever side ends first ends the client; the other is dropped here
    // (dropping the writer's handle cancels its task).
    future::or(read_lines(stream, peer, room), writer).await
}

/// Reads the client's lines and hands each to the others.
async fn read_lines(stream: TcpStream, peer: SocketAddr, room: &Room) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        broadcast(room, peer, format!("{peer}: {}\n", text.trim_end())).await;
        bureau::yield_now().await;
    }
}

/// Writes the lines sent to one client, in order. Fails if the client's
/// socket takes nothing of a line for `STALL`: the client has stopped
/// reading. Returning drops the inbox, which closes the outbox and so
/// releases every sender waiting for room in it.
async fn deliver(mut stream: TcpStream, inbox: Receiver<Rc<str>>) -> io::Result<()> {
    while let Ok(line) = inbox.recv().await {
        bureau::timeout(STALL, stream.write_all(line.as_bytes()))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("read nothing for {STALL:?}; dropped"),
                )
            })??;
    }
    Ok(())
}

/// Puts `line` in the outbox of everyone but `from`, in turn, waiting for
/// room in a full one. The wait is bounded: a full outbox belongs to a
/// client that reads, or that is dropped within `STALL`. The room is borrowed
/// only to list the outboxes, never across an `.await`.
async fn broadcast(room: &Room, from: SocketAddr, line: String) {
    let line: Rc<str> = line.into();
    let outboxes: Vec<Sender<Rc<str>>> = room
        .borrow()
        .iter()
        .filter(|(addr, _)| **addr != from)
        .map(|(_, outbox)| outbox.clone())
        .collect();
    for outbox in outboxes {
        // An error means that client has left.
        outbox.send(line.clone()).await.ok();
    }
}

fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 7001;
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
