//! The hello-world HTTP/1.1 keep-alive server on smol (async-executor,
//! async-io, async-net), for `wrk`.
//!
//! The same server as `http_bureau`, `http_tokio` and `http_raw`, framing
//! through `bureau_bench::http`; it must never panic on a client's I/O
//! error.
//!
//! usage: http_smol ADDR

use async_executor::LocalExecutor;
use async_net::{TcpListener, TcpStream};
use bureau_bench::http;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: http_smol ADDR");
        return ExitCode::FAILURE;
    };
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("http_smol: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => ex.spawn(serve(stream)).detach(),
                Err(error) => eprintln!("http_smol: accept: {error}"),
            }
        }
    }))
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
