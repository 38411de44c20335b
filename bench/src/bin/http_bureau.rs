//! The hello-world HTTP/1.1 keep-alive server on bureau, for `wrk`.
//!
//! The same server as `http_smol`, `http_tokio` and `http_raw`, framing
//! through `bureau_bench::http`; it must never panic on a client's I/O
//! error.
//!
//! usage: http_bureau ADDR

use bureau::io::{AsyncReadExt, AsyncWriteExt};
use bureau::net::{TcpListener, TcpStream};
use bureau_bench::http;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: http_bureau ADDR");
        return ExitCode::FAILURE;
    };
    bureau::block_on(async {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("http_bureau: cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {addr}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => bureau::spawn(serve(stream)).detach(),
                Err(error) => eprintln!("http_bureau: accept: {error}"),
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
