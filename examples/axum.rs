//! An axum router served by hyper on bureau (`bureau::hyper`, the `hyper`
//! feature), with no tokio runtime: axum with `default-features = false`
//! depends on no tokio at all.
//!
//! ```text
//! cargo run --features hyper --example axum -- --port 3000
//! curl http://127.0.0.1:3000/hello/bureau
//! ```
//!
//! Routes: `/` greets; `/hello/{name}` greets by name; `/sleep/{ms}`
//! answers after `ms` milliseconds (at most 10000) of a `bureau::Timer`,
//! awaited inside the handler; `/visits` counts its own visits, in the
//! router's state; `/peer` answers the client's address; anything else
//! is a 404.
//!
//! The glue is a few lines: an accept loop, and hyper's `service_fn`
//! calling the router. What needs axum's `tokio` feature (which brings
//! tokio's runtime, `net` and `rt`, and hyper-util) is absent here:
//! `axum::serve`, `extract::ConnectInfo` and
//! `Router::into_make_service_with_connect_info`, `Sse::keep_alive`, and
//! the `ws` feature. For the peer's address, the loop below puts it in
//! each request's extensions, and a handler takes it as
//! `Extension<SocketAddr>`. axum's handlers and state must be `Send`;
//! bureau runs them on its one thread all the same.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use bureau::hyper::{BureauIo, BureauTimer};
use bureau::net::TcpListener;
use bureau::prelude::*;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tower_service::Service;

const USAGE: &str = "usage: axum [--port PORT]   (PORT 0 picks a free port; default 3000)";
/// The longest `/sleep/{ms}` sleeps.
const MAX_SLEEP_MS: u64 = 10_000;

fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("axum: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum: {e}");
            ExitCode::FAILURE
        }
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum on bureau!\n" }))
        .route("/hello/{name}", get(hello))
        .route("/sleep/{ms}", get(sleep))
        .route("/visits", get(visits))
        .route("/peer", get(peer))
        .with_state(Arc::new(AtomicU64::new(0)))
}

async fn hello(Path(name): Path<String>) -> String {
    format!("Hello, {name}!\n")
}

async fn sleep(Path(ms): Path<u64>) -> (StatusCode, String) {
    if ms > MAX_SLEEP_MS {
        let message = format!("at most {MAX_SLEEP_MS} ms\n");
        return (StatusCode::BAD_REQUEST, message);
    }
    bureau::Timer::after(Duration::from_millis(ms)).await;
    (StatusCode::OK, format!("slept {ms} ms\n"))
}

async fn visits(State(count): State<Arc<AtomicU64>>) -> String {
    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    format!("visit {n}\n")
}

async fn peer(Extension(peer): Extension<SocketAddr>) -> String {
    format!("you are {peer}\n")
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let mut stdout = bureau::io::stdout();
    let address = format!("listening on http://{}/\n", listener.local_addr()?);
    stdout.write_all(address.as_bytes()).await?;
    stdout.flush().await?;
    let router = router();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("axum: accept failed: {e}");
                continue;
            }
        };
        let router = router.clone();
        // The router as hyper's service: each request gets a clone of it,
        // readied and called as a tower service is, and the peer's address
        // in its extensions. A router never fails (its error type is
        // `Infallible`).
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            let mut router = router.clone();
            request.extensions_mut().insert(peer);
            async move {
                poll_fn(|cx| Service::<hyper::Request<Incoming>>::poll_ready(&mut router, cx))
                    .await?;
                router.call(request).await
            }
        });
        let connection = http1::Builder::new()
            .timer(BureauTimer)
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(BureauIo::new(stream), service);
        bureau::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("axum: {peer}: {e}");
            }
        })
        .detach();
    }
}

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
