//! The hello-world HTTP/1.1 keep-alive server of `http_tokio` on tokio's
//! multi-thread runtime with N worker threads, each connection a
//! `tokio::spawn`ed task: the peer of `http_cluster_bureau` in the
//! `cluster` workload.
//!
//! Framing through `bureau_bench::http`, as every bench server; it must
//! never panic on a client's I/O error.
//!
//! usage: http_cluster_tokio ADDR [--threads N]   (N is 2 by default)

use bureau_bench::http;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: http_cluster_tokio ADDR [--threads N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, threads) = match args.as_slice() {
        [addr] => (addr.clone(), 2),
        [addr, flag, n] if flag == "--threads" => match n.parse() {
            Ok(n) if n > 0 => (addr.clone(), n),
            _ => {
                eprintln!("http_cluster_tokio: {n:?} is not a thread count\n{USAGE}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("http_cluster_tokio: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("http_cluster_tokio: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(serve(stream))),
                Err(error) => eprintln!("http_cluster_tokio: accept: {error}"),
            }
        }
    })
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
