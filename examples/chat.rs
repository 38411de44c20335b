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

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use bureau::Timer;
use bureau::io::BufReader;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

const USAGE: &str = "usage: chat [--port PORT]   (PORT 0 picks a free port; default 7001)";
/// The longest line passed on whole, in bytes; a longer one goes out in
/// pieces of this size, so a client cannot make the server buffer forever.
const MAX_LINE: u64 = 4096;
/// Lines waiting for one client; a client that lets more pile up is too slow
/// to keep and is disconnected, so it cannot make the server hoard memory.
const OUTBOX: usize = 256;

/// One client as the room sees it: its outbox and its socket.
struct Member {
    outbox: Sender<Rc<str>>,
    stream: TcpStream,
}

type Room = Rc<RefCell<HashMap<SocketAddr, Member>>>;

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
            // A failed accept turns a client away, not the server down. Out of
            // descriptors, the listener itself refuses the waiting clients and
            // waits for a new one; only an error that would recur at once needs
            // a pause (see `may_fail_again_at_once`).
            Err(e) => {
                eprintln!("chat: accept failed: {e}");
                if may_fail_again_at_once(&e) {
                    Timer::after(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let room = room.clone();
        bureau::spawn(async move {
            if let Err(e) = client(stream, peer, &room).await {
                eprintln!("chat: {peer}: {e}");
            }
            room.borrow_mut().remove(&peer);
            broadcast(&room, peer, format!("* {peer} left\n"));
        })
        .detach();
    }
}

/// Reads the client's lines and hands each to the others, until it leaves.
async fn client(stream: TcpStream, peer: SocketAddr, room: &Room) -> io::Result<()> {
    let (outbox, inbox) = async_channel::bounded(OUTBOX);
    // Writing gets a task of its own, so that a client slow to read holds up
    // only itself. Dropping the handle when this function returns stops it.
    let _writer = bureau::spawn(deliver(stream.clone(), inbox));
    let others = room.borrow().len();
    room.borrow_mut().insert(
        peer,
        Member {
            outbox: outbox.clone(),
            stream: stream.clone(),
        },
    );
    let welcome = format!("* welcome, you are {peer}; {others} other(s) here\n");
    outbox.try_send(welcome.into()).ok();
    broadcast(room, peer, format!("* {peer} joined\n"));

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
        broadcast(room, peer, format!("{peer}: {}\n", text.trim_end()));
    }
}

/// Writes the lines sent to one client, in order.
async fn deliver(mut stream: TcpStream, inbox: Receiver<Rc<str>>) -> io::Result<()> {
    while let Ok(line) = inbox.recv().await {
        stream.write_all(line.as_bytes()).await?;
    }
    Ok(())
}

/// Puts `line` in the outbox of everyone but `from`. No `.await` here: the
/// room is borrowed only for this instant.
fn broadcast(room: &Room, from: SocketAddr, line: String) {
    let line: Rc<str> = line.into();
    room.borrow_mut().retain(|addr, member| {
        if *addr == from || member.outbox.try_send(line.clone()).is_ok() {
            return true;
        }
        // Its outbox is full: it stopped reading. Shutting the socket down
        // ends its tasks, which then say goodbye for it.
        member.stream.shutdown(Shutdown::Both).ok();
        false
    });
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

/// Whether an accept that failed with `e` would fail the same way if tried
/// again at once. Out of descriptors (`EMFILE`, `ENFILE`), the listener has
/// already turned away the clients that were waiting and waits for a new
/// one; an aborted connection has left the queue. Neither repeats. Other
/// errors (`ENOMEM`, a security module's `EACCES`) leave the client queued and
/// the listener ready: retried at once, accept would fail again and again
/// without ever letting the loop run another task.
fn may_fail_again_at_once(e: &io::Error) -> bool {
    use rustix::io::Errno;
    let out_of_descriptors = [Errno::MFILE, Errno::NFILE].map(Errno::raw_os_error);
    e.kind() != io::ErrorKind::ConnectionAborted
        && !e
            .raw_os_error()
            .is_some_and(|code| out_of_descriptors.contains(&code))
}
