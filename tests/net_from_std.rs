//! `TryFrom` a std socket for each `bureau::net` handle: the std socket
//! comes in blocking, and the handle it becomes waits through the reactor
//! (the loop serves a timer while it waits) and then carries data.
//!
//! A conversion that left the socket blocking would block the loop's
//! thread in the first wait; `bounded` turns that into a failure.

use std::io::{Read, Write};
use std::time::Duration;

use bureau::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use bureau::prelude::*;
use bureau::{Timer, block_on};
use futures_lite::future;

mod common;
use common::bounded;

/// Runs `op` against a 20 ms timer and asserts the timer wins: `op` waits
/// for something that has not happened, and the loop went on meanwhile.
async fn waits<T>(op: impl Future<Output = std::io::Result<T>>) {
    let op_first = future::or(async { op.await.map(|_| true) }, async {
        Timer::after(Duration::from_millis(20)).await;
        Ok(false)
    });
    assert!(!op_first.await.unwrap(), "finished with nothing to do");
}

/// A socket path of its own for `name`, not existing yet.
fn socket_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("bureau-from-std-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_std_tcp_listener_becomes_a_listener_that_accepts_on_the_loop() {
    bounded(30, || {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listener = TcpListener::try_from(std_listener).unwrap();
        let addr = listener.local_addr().unwrap();
        block_on(async {
            waits(listener.accept()).await;
            let client = TcpStream::connect(addr).await.unwrap();
            let (_server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
        });
    });
}

#[test]
fn a_std_tcp_stream_becomes_a_stream_that_reads_and_writes_on_the_loop() {
    bounded(30, || {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std_client = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        // Bytes that arrived before the conversion are read too.
        peer.write_all(b"early ").unwrap();
        let mut client = TcpStream::try_from(std_client).unwrap();
        block_on(async {
            let mut buf = [0; 6];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"early ");
            waits(client.read(&mut buf)).await;
            peer.write_all(b"late").unwrap();
            let mut late = [0; 4];
            client.read_exact(&mut late).await.unwrap();
            assert_eq!(&late, b"late");
            client.write_all(b"back").await.unwrap();
            client.close().await.unwrap();
        });
        let mut back = Vec::new();
        peer.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"back");
    });
}

#[test]
fn a_std_udp_socket_becomes_a_socket_that_receives_on_the_loop() {
    bounded(30, || {
        let socket =
            UdpSocket::try_from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        block_on(async {
            let mut buf = [0; 8];
            waits(socket.recv_from(&mut buf)).await;
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"dgram", addr).unwrap();
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"dgram"[..], sender.local_addr().unwrap())
            );
        });
    });
}

#[test]
fn a_std_unix_listener_becomes_a_listener_that_accepts_on_the_loop() {
    bounded(30, || {
        let path = socket_path("listener");
        let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let listener = UnixListener::try_from(std_listener).unwrap();
        block_on(async {
            waits(listener.accept()).await;
            let mut client = UnixStream::connect(&path).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            client.write_all(b"hi").await.unwrap();
            let mut buf = [0; 2];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hi");
        });
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn a_std_unix_stream_becomes_a_stream_that_reads_and_writes_on_the_loop() {
    bounded(30, || {
        let (std_stream, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut stream = UnixStream::try_from(std_stream).unwrap();
        block_on(async {
            let mut buf = [0; 4];
            waits(stream.read(&mut buf)).await;
            peer.write_all(b"ping").unwrap();
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            stream.write_all(b"pong").await.unwrap();
            stream.close().await.unwrap();
        });
        let mut back = Vec::new();
        peer.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"pong");
    });
}
