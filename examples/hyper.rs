//! hyper's HTTP/1 server on bureau: the adapters for hyper's runtime traits
//! (`hyper::rt::Read`, `Write` and `Timer`) are the few dozen lines below,
//! which is all it takes to run a runtime-agnostic crate on bureau.
//!
//! ```text
//! cargo run --example hyper -- --port 3000
//! curl http://127.0.0.1:3000/hello
//! ```
//!
//! hyper's HTTP/1 server spawns no tasks of its own, so it needs no
//! `hyper::rt::Executor`; each connection is one `bureau::spawn`ed task,
//! which need not be `Send` because it never leaves the loop thread.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

const USAGE: &str = "usage: hyper [--port PORT]   (PORT 0 picks a free port; default 3000)";

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("hyper: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper: {e}");
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
            // A failed accept turns a client away, not the server down. Out of
            // descriptors, the listener itself refuses the waiting clients and
            // waits for a new one; only an error that would recur at once needs
            // a pause (see `may_fail_again_at_once`).
            Err(e) => {
                eprintln!("hyper: accept failed: {e}");
                if may_fail_again_at_once(&e) {
                    Timer::after(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let connection = http1::Builder::new()
            // With a timer, hyper closes connections that send their headers
            // too slowly; without one, it cannot.
            .timer(BureauTimer)
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(HyperIo(stream), service_fn(hello));
        bureau::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("hyper: {peer}: {e}");
            }
        })
        .detach();
    }
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "Hello from hyper on bureau! You asked for {}\n",
        request.uri()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// A bureau socket as hyper's I/O: hyper has its own `Read`/`Write` traits
/// so that it depends on no runtime's.
struct HyperIo(TcpStream);

impl hyper::rt::Read for HyperIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // hyper hands over uninitialised memory; reading into a small buffer
        // and copying keeps this adapter free of `unsafe`.
        let mut chunk = [0; 8 * 1024];
        let len = buf.remaining().min(chunk.len());
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, &mut chunk[..len]))?;
        buf.put_slice(&chunk[..n]);
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for HyperIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// `bureau::Timer` as hyper's timer, for its timeouts.
#[derive(Clone, Copy)]
struct BureauTimer;

impl hyper::rt::Timer for BureauTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(BureauSleep(Timer::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(BureauSleep(Timer::at(deadline)))
    }
}

/// A `bureau::Timer` that yields `()`, as `hyper::rt::Sleep` wants.
struct BureauSleep(Timer);

impl Future for BureauSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl hyper::rt::Sleep for BureauSleep {}

fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 3000;
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
