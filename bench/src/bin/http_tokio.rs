//! The hello-world HTTP/1.1 keep-alive server on tokio's current-thread
//! runtime, for `wrk`; tasks go through a `LocalSet`, or through
//! `tokio::spawn` with `--spawn`.
//!
//! The same server as `http_bureau`, `http_smol` and `http_raw`, framing
//! through `bureau_bench::http`; it must never panic on a client's I/O
//! error.
//!
//! usage: http_tokio ADDR [--spawn]

use bureau_bench::http;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().cloned() else {
        eprintln!("usage: http_tokio ADDR [--spawn]");
        return ExitCode::FAILURE;
    };
    let global = args.iter().any(|a| a == "--spawn");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("http_tokio: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    LocalSet::new().block_on(&rt, async move {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("http_tokio: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) if global => drop(tokio::spawn(serve(stream))),
                Ok((stream, _)) => drop(tokio::task::spawn_local(serve(stream))),
                Err(error) => eprintln!("http_tokio: accept: {error}"),
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
