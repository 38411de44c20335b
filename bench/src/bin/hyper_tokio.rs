//! The hello-world HTTP/1.1 keep-alive server through hyper on tokio's
//! current-thread runtime (with hyper-util's `TokioIo`), for `wrk`; tasks
//! go through a `LocalSet`, or through `tokio::spawn` with `--spawn`.
//!
//! The same server as `hyper_bureau` and `hyper_smol`: hyper's HTTP/1.1
//! server with its defaults, serving `bureau_bench::http::hyper_hello`; they
//! differ only in the runtime and its glue. It must never panic on a
//! client's I/O error.
//!
//! usage: hyper_tokio ADDR [--spawn]

use bureau_bench::http;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::process::ExitCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().cloned() else {
        eprintln!("usage: hyper_tokio ADDR [--spawn]");
        return ExitCode::FAILURE;
    };
    let global = args.iter().any(|a| a == "--spawn");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("hyper_tokio: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    LocalSet::new().block_on(&rt, async move {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("hyper_tokio: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) if global => drop(tokio::spawn(serve(stream))),
                Ok((stream, _)) => drop(tokio::task::spawn_local(serve(stream))),
                Err(error) => eprintln!("hyper_tokio: accept: {error}"),
            }
        }
    })
}

/// Serves one connection until the client closes it; its errors are the
/// client's business.
async fn serve(stream: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(http::hyper_hello))
        .await;
}
