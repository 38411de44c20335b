//! The hello-world HTTP/1.1 keep-alive server through hyper on bureau
//! (`bureau::hyper`), for `wrk`.
//!
//! The same server as `hyper_smol` and `hyper_tokio`: hyper's HTTP/1.1
//! server with its defaults, serving `bureau_bench::http::hyper_hello`; they
//! differ only in the runtime and its glue. It must never panic on a
//! client's I/O error.
//!
//! usage: hyper_bureau ADDR

use bureau::hyper::BureauIo;
use bureau::net::{TcpListener, TcpStream};
use bureau_bench::http;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: hyper_bureau ADDR");
        return ExitCode::FAILURE;
    };
    bureau::block_on(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("hyper_bureau: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => bureau::spawn(serve(stream)).detach(),
                Err(error) => eprintln!("hyper_bureau: accept: {error}"),
            }
        }
    })
}

/// Serves one connection until the client closes it; its errors are the
/// client's business.
async fn serve(stream: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(BureauIo::new(stream), service_fn(http::hyper_hello))
        .await;
}
