//! Focused workloads on the reactor's hot paths, for before/after
//! measurements of a change (`valgrind --tool=callgrind`, or the wall time it
//! prints): `cargo run --release -p bureau-reactor --example hotpath -- MODE`.
//!
//! It must never be part of the test suite or assert anything: it only runs
//! one workload and prints how long it took.
//!
//! Modes: `echo` (64-byte echoes on a Unix pair), `zero-turns` (non-blocking
//! turns while another thread drives), `register` (Async::new and drop),
//! `accept` (TCP connect and accept), `timers` (timers that fire through the
//! reactor; `timers-busy`: with 100,000 far timers pending), `write` (writes into a full send buffer), `mixed` (echo while
//! another thread registers and deregisters sockets).

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bureau_reactor::{Async, Parker, Timer, Unparker};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};

/// Wakes a parker.
struct Wakeup(Unparker);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread, parking in the reactor between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut parker = Parker::new();
    let waker = Waker::from(Arc::new(Wakeup(parker.unparker())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        parker.park(None);
    }
}

fn main() -> io::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let n: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let start = Instant::now();
    match mode.as_str() {
        "echo" => echo(n)?,
        "zero-turns" => zero_turns(n),
        "register" => register(n)?,
        "accept" => accept(n)?,
        "timers" => timers(n),
        "timers-busy" => timers_busy(n),
        "write" => write(n)?,
        "mixed" => mixed(n)?,
        _ => {
            eprintln!("modes: echo zero-turns register accept timers write [N]");
            return Ok(());
        }
    }
    println!("{mode} x{n}: {:?}", start.elapsed());
    Ok(())
}

fn echo(n: u32) -> io::Result<()> {
    let (a, b) = Async::<UnixStream>::pair()?;
    block_on(async {
        let server = async {
            let (mut r, mut w) = (&b, &b);
            let mut buf = [0; 64];
            for _ in 0..n {
                r.read_exact(&mut buf).await?;
                w.write_all(&buf).await?;
            }
            io::Result::Ok(())
        };
        let client = async {
            let mut c = &a;
            let mut buf = [0; 64];
            for _ in 0..n {
                c.write_all(&[1; 64]).await?;
                c.read_exact(&mut buf).await?;
            }
            io::Result::Ok(())
        };
        let (s, c) = future::zip(server, client).await;
        s.and(c)
    })
}

fn mixed(n: u32) -> io::Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((x, y)) = Async::<UnixStream>::pair() {
                    drop((x, y));
                }
            }
        }
    });
    let start = Instant::now();
    echo(n)?;
    println!("echo under churn: {:?}", start.elapsed());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().ok();
    Ok(())
}

fn zero_turns(n: u32) {
    let mut driver = Parker::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let mut p = Parker::new();
        tx.send(p.unparker()).ok();
        while done_rx.try_recv().is_err() {
            p.park(None);
        }
    });
    let u = rx.recv().expect("the driver thread started");
    // Let the other thread become the driver (a wall-clock wait is fine in a
    // bench; it only decides who drives).
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..n {
        driver.park(Some(Duration::ZERO));
    }
    done_tx.send(()).ok();
    u.unpark();
    t.join().ok();
}

fn register(n: u32) -> io::Result<()> {
    let (a, _b) = UnixStream::pair()?;
    let mut a = Some(a);
    for _ in 0..n {
        let s = Async::new(a.take().expect("present"))?;
        a = Some(s.into_inner()?);
    }
    for _ in 0..n / 10 {
        let (x, y) = Async::<UnixStream>::pair()?;
        drop((x, y));
    }
    Ok(())
}

fn accept(n: u32) -> io::Result<()> {
    let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
    let addr = l.get_ref().local_addr()?;
    block_on(async {
        for _ in 0..n {
            let (c, s) = future::zip(Async::<TcpStream>::connect(addr), l.accept()).await;
            drop((c?, s?));
        }
        io::Result::Ok(())
    })
}

fn timers(n: u32) {
    for _ in 0..10 {
        // Far enough ahead that every timer registers before it is due, even
        // under valgrind.
        let at = Instant::now() + Duration::from_millis(50);
        let mut ts: Vec<Timer> = (0..n / 10).map(|_| Timer::at(at)).collect();
        block_on(async {
            let mut pending = Vec::new();
            for t in &mut ts {
                if future::poll_once(&mut *t).await.is_none() {
                    pending.push(t);
                }
            }
            for t in pending {
                t.await;
            }
        });
    }
}

fn timers_busy(n: u32) {
    let mut far: Vec<Timer> = (0..100_000)
        .map(|_| Timer::after(Duration::from_secs(3600)))
        .collect();
    block_on(async {
        for t in &mut far {
            let _ = future::poll_once(&mut *t).await;
        }
    });
    timers(n);
    drop(far);
}

fn write(n: u32) -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let a = Async::new(a)?;
    let mut b = b;
    let total = n as usize * 1024;
    let t = std::thread::spawn(move || {
        let mut buf = vec![0; 4096];
        let mut got = 0;
        while got < total {
            match b.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
    });
    block_on(async {
        let chunk = vec![3u8; 256 * 1024];
        let mut sent = 0;
        let mut w = &a;
        while sent < total {
            sent += w.write(&chunk[..chunk.len().min(total - sent)]).await?;
        }
        w.flush().await
    })?;
    t.join().ok();
    let _ = a.get_ref().write(&[]);
    Ok(())
}
