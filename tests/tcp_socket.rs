//! `bureau::net::TcpSocket`: options set before bind, listen and connect
//! take effect, reuse-port lets two listeners share a port, and the
//! handles it makes work on the loop.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use bureau::block_on;
use bureau::net::{TcpListener, TcpSocket, TcpStream};
use bureau::prelude::*;
use futures_lite::future;

mod common;
use common::bounded;

/// An IPv4 loopback address with a port the kernel picks.
fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A new IPv4 socket with reuse-port set as `reuseport`, bound to `addr`.
fn bound(addr: SocketAddr, reuseport: bool) -> std::io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseport(reuseport)?;
    socket.bind(addr)?;
    Ok(socket)
}

#[test]
fn a_new_socket_is_non_blocking_and_close_on_exec() {
    for socket in [TcpSocket::new_v4().unwrap(), TcpSocket::new_v6().unwrap()] {
        assert!(socket2::SockRef::from(&socket).nonblocking().unwrap());
        let flags = rustix::io::fcntl_getfd(socket.as_fd()).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }
}

#[test]
fn two_listeners_with_reuseport_on_one_port_both_accept_connections() {
    bounded(30, || {
        let first = bound(any_port(), true).unwrap();
        let addr = first.local_addr().unwrap();
        let second = bound(addr, true).unwrap();
        let listeners = [first.listen(128).unwrap(), second.listen(128).unwrap()];
        block_on(async {
            // The kernel picks a listener by hashing each connection's
            // addresses: some of 200 connections go to each, unless the
            // sharing is broken.
            let mut accepted = [0; 2];
            for _ in 0..200 {
                let client = TcpStream::connect(addr).await.unwrap();
                let which = future::or(
                    async { listeners[0].accept().await.map(|(s, _)| (0, s)) },
                    async { listeners[1].accept().await.map(|(s, _)| (1, s)) },
                )
                .await;
                let (which, server) = which.unwrap();
                assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
                accepted[which] += 1;
                if accepted.iter().all(|&n| n > 0) {
                    return;
                }
            }
            panic!("one listener got every connection: {accepted:?}");
        });
    });
}

#[test]
fn without_reuseport_a_second_socket_cannot_take_the_port() {
    let first = bound(any_port(), false).unwrap();
    let addr = first.local_addr().unwrap();
    let _listener = first.listen(128).unwrap();
    for reuseport in [false, true] {
        let err = bound(addr, reuseport).expect_err("bound twice");
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    }
}

#[test]
fn with_reuseaddr_alone_the_second_listen_fails() {
    // Both may bind while neither listens; the second to listen cannot.
    let sockets = [TcpSocket::new_v4().unwrap(), TcpSocket::new_v4().unwrap()];
    for socket in &sockets {
        socket.set_reuseaddr(true).unwrap();
    }
    sockets[0].bind(any_port()).unwrap();
    let addr = sockets[0].local_addr().unwrap();
    sockets[1].bind(addr).unwrap();
    let [first, second] = sockets;
    let _listener = first.listen(128).unwrap();
    let err = second.listen(128).expect_err("listened twice");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[test]
fn options_read_back_what_was_set() {
    for socket in [TcpSocket::new_v4().unwrap(), TcpSocket::new_v6().unwrap()] {
        for on in [true, false] {
            socket.set_reuseaddr(on).unwrap();
            assert_eq!(socket.reuseaddr().unwrap(), on);
            socket.set_reuseport(on).unwrap();
            assert_eq!(socket.reuseport().unwrap(), on);
            socket.set_nodelay(on).unwrap();
            assert_eq!(socket.nodelay().unwrap(), on);
        }
        // Linux doubles the size asked for, so compare sizes with each
        // other: a larger request reads back larger, and at least as
        // large as asked.
        socket.set_send_buffer_size(8 * 1024).unwrap();
        let small = socket.send_buffer_size().unwrap();
        socket.set_send_buffer_size(96 * 1024).unwrap();
        let large = socket.send_buffer_size().unwrap();
        assert!(small >= 8 * 1024 && large >= 96 * 1024 && large > small);
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        let small = socket.recv_buffer_size().unwrap();
        socket.set_recv_buffer_size(96 * 1024).unwrap();
        let large = socket.recv_buffer_size().unwrap();
        assert!(small >= 8 * 1024 && large >= 96 * 1024 && large > small);
    }
}

#[test]
fn a_configured_socket_connects_from_its_bound_address_and_data_flows() {
    bounded(30, || {
        block_on(async {
            for (listen_on, v6) in [("127.0.0.1:0", false), ("[::1]:0", true)] {
                let listener = TcpListener::bind(listen_on).await.unwrap();
                let socket = if v6 {
                    TcpSocket::new_v6().unwrap()
                } else {
                    TcpSocket::new_v4().unwrap()
                };
                socket.set_nodelay(true).unwrap();
                let mut from = listener.local_addr().unwrap();
                from.set_port(0);
                socket.bind(from).unwrap();
                let from = socket.local_addr().unwrap();
                let mut client = socket
                    .connect(listener.local_addr().unwrap())
                    .await
                    .unwrap();
                assert_eq!(client.local_addr().unwrap(), from);
                assert!(client.nodelay().unwrap());
                let (mut server, peer) = listener.accept().await.unwrap();
                assert_eq!(peer, from);
                client.write_all(b"ping").await.unwrap();
                let mut buf = [0; 4];
                server.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"ping");
                server.write_all(b"pong").await.unwrap();
                server.close().await.unwrap();
                let mut back = Vec::new();
                client.read_to_end(&mut back).await.unwrap();
                assert_eq!(back, b"pong");
            }
        });
    });
}

#[test]
fn a_listener_made_by_listen_accepts_on_the_loop() {
    bounded(30, || {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(any_port()).unwrap();
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        block_on(async {
            // Nothing to accept yet: the loop goes on to the timer.
            let waited = future::or(async { listener.accept().await.map(|_| false) }, async {
                bureau::Timer::after(std::time::Duration::from_millis(20)).await;
                Ok(true)
            });
            assert!(waited.await.unwrap());
            let client = TcpStream::connect(addr).await.unwrap();
            let (_server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
        });
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    bounded(30, || {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        let err = block_on(socket.connect(closed)).expect_err("connected");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}
