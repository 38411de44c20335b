//! The hello-world HTTP/1.1 keep-alive server of `http_bureau`, spread over
//! worker processes that each run one bureau loop and listen on the same
//! address with `SO_REUSEPORT`: the design of `examples/cluster.rs`, with
//! the framing every bench server shares (`bureau_bench::http`), for the
//! `cluster` workload.
//!
//! The parent runs this binary again as each worker (`--worker ADDR`,
//! through `bureau::process`), prints `listening on ADDR` once every worker
//! has said it listens, and serves nothing itself. It must never leave a
//! worker behind: a worker's stdin is a pipe from the parent, and a worker
//! exits at its end, so killing the parent (as the harness does) ends them
//! all. A worker that dies ends the parent with a failure, so that no run
//! counts fewer workers than it names. It must never panic on a client's
//! I/O error.
//!
//! usage: http_cluster_bureau ADDR [--workers N]   (N is 2 by default)

use bureau::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use bureau::net::{TcpSocket, TcpStream};
use bureau::process::{Child, Command, Stdio};
use bureau_bench::http;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: http_cluster_bureau ADDR [--workers N]";
/// The line a worker prints on its stdout once it listens.
const READY: &str = "ready";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, addr] if flag == "--worker" => bureau::block_on(worker(addr)),
        [addr] => bureau::block_on(parent(addr, 2)),
        [addr, flag, n] if flag == "--workers" => match n.parse() {
            Ok(n) if n > 0 => bureau::block_on(parent(addr, n)),
            _ => Err(io::Error::other(format!(
                "{n:?} is not a worker count\n{USAGE}"
            ))),
        },
        _ => Err(io::Error::other(USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_cluster_bureau: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `workers` workers on `addr`, says so once all listen, and
/// returns (with an error) when the first of them exits.
async fn parent(addr: &str, workers: usize) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut children: Vec<Child> = (0..workers)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", addr])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
        })
        .collect::<io::Result<_>>()?;
    for child in &mut children {
        let stdout = child.stdout.take().ok_or(io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        if line.trim_end() != READY {
            return Err(io::Error::other(format!(
                "worker {} did not start",
                child.id()
            )));
        }
    }
    println!("listening on {addr}");
    let (exits, exited) = async_channel::bounded(workers);
    for mut child in children {
        let exits = exits.clone();
        bureau::spawn(async move {
            // Held, never written, until the worker exits: its end tells
            // the worker that the parent is gone.
            let _stdin = child.stdin.take();
            let status = child.status().await;
            let _ = exits.send((child.id(), status)).await;
        })
        .detach();
    }
    let (pid, status) = exited.recv().await.map_err(io::Error::other)?;
    Err(io::Error::other(format!("worker {pid} exited: {status:?}")))
}

/// Listens on `addr` beside the other workers and serves until its stdin
/// ends.
async fn worker(addr: &str) -> io::Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| io::Error::other(format!("{addr:?} is not an address")))?;
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    println!("{READY}");
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => bureau::spawn(serve(stream)).detach(),
                Err(error) => eprintln!("http_cluster_bureau: accept: {error}"),
            }
        }
    };
    let parent_gone = async {
        let _ = bureau::io::copy(bureau::io::stdin(), &mut bureau::io::sink()).await;
    };
    futures_lite::future::or(accept, parent_gone).await;
    Ok(())
}

async fn serve(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let mut filled = 0;
    loop {
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (requests, rest) = http::take_requests(&mut buf, filled + n);
        if rest == buf.len() {
            return;
        }
        filled = rest;
        for _ in 0..requests {
            if stream.write_all(http::RESPONSE).await.is_err() {
                return;
            }
        }
    }
}
