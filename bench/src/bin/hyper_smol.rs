//! The hello-world HTTP/1.1 keep-alive server through hyper on smol
//! (async-executor, async-io, async-net, with smol-hyper's `FuturesIo`),
//! for `wrk`.
//!
//! The same server as `hyper_bureau` and `hyper_tokio`: hyper's HTTP/1.1
//! server with its defaults, serving `bureau_bench::http::hyper_hello`; they
//! differ only in the runtime and its glue. It must never panic on a
//! client's I/O error.
//!
//! usage: hyper_smol ADDR

use async_executor::LocalExecutor;
use async_net::{TcpListener, TcpStream};
use bureau_bench::http;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use smol_hyper::rt::FuturesIo;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: hyper_smol ADDR");
        return ExitCode::FAILURE;
    };
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("hyper_smol: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => ex.spawn(serve(stream)).detach(),
                Err(error) => eprintln!("hyper_smol: accept: {error}"),
            }
        }
    }))
}

/// Serves one connection until the client closes it; its errors are the
/// client's business.
async fn serve(stream: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(FuturesIo::new(stream), service_fn(http::hyper_hello))
        .await;
}
