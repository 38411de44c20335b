//! `bureau::net` under `bureau::block_on`: address forms and host names,
//! 1,000 concurrent echo connections, UDP, Unix sockets, errors and EOF.
//! No test here may sleep to synchronise or run unbounded in time.

use std::io;
use std::net::Shutdown;

use bureau::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream, resolve};
use bureau::prelude::*;

mod common;
use common::bounded;

/// Raises the soft descriptor limit to the hard one (for many sockets).
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, lim);
}

#[test]
fn a_thousand_concurrent_connections_echo_64_kib_each() {
    raise_fd_limit();
    bounded(60, || {
        bureau::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = bureau::spawn(async move {
                for _ in 0..1000 {
                    let (s, _) = listener.accept().await?;
                    bureau::spawn(async move {
                        let mut w = s.clone();
                        bureau::io::copy(&s, &mut w).await?;
                        w.close().await
                    })
                    .detach();
                }
                io::Result::Ok(())
            });
            let clients: Vec<_> = (0..1000u32)
                .map(|i| {
                    bureau::spawn(async move {
                        let data: Vec<u8> = (0..64 * 1024u32)
                            .map(|j| (j.wrapping_mul(31) ^ i) as u8)
                            .collect();
                        let s = TcpStream::connect(addr).await?;
                        let mut w = s.clone();
                        let mut r = s;
                        let write = async {
                            w.write_all(&data).await?;
                            w.close().await
                        };
                        let read = async {
                            let mut back = Vec::new();
                            r.read_to_end(&mut back).await?;
                            io::Result::Ok(back)
                        };
                        let (wr, back) = bureau::future::zip(write, read).await;
                        wr?;
                        assert!(back? == data, "connection {i} echoed wrong bytes");
                        io::Result::Ok(())
                    })
                })
                .collect();
            for c in clients {
                c.await?;
            }
            server.await
        })
        .unwrap();
    });
}

#[test]
fn host_names_and_address_forms_resolve() {
    bounded(20, || {
        bureau::block_on(async {
            let l = TcpListener::bind(("127.0.0.1", 0)).await?;
            let port = l.local_addr()?.port();
            // "localhost:PORT" goes through the blocking pool's resolver.
            let accept = bureau::spawn({
                let l = l.clone();
                async move {
                    l.accept().await?;
                    l.accept().await?;
                    l.accept().await?;
                    l.accept().await
                }
            });
            let mut connected = 0;
            for r in [
                TcpStream::connect(format!("localhost:{port}")).await,
                TcpStream::connect(("localhost", port)).await,
                TcpStream::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await,
                TcpStream::connect((std::net::IpAddr::from([127, 0, 0, 1]), port)).await,
            ] {
                assert!(r?.peer_addr()?.ip().is_loopback());
                connected += 1;
            }
            assert_eq!(connected, 4);
            accept.await?;
            let addrs = resolve(format!("localhost:{port}")).await?;
            assert!(!addrs.is_empty() && addrs.iter().all(|a| a.port() == port));
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn bad_addresses_are_clear_errors() {
    bounded(20, || {
        bureau::block_on(async {
            let e = TcpStream::connect("no port here").await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let e = TcpStream::connect("localhost:99999").await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(
                resolve("name.that.does.not.exist.invalid:80")
                    .await
                    .is_err()
            );
        });
    });
}

#[test]
fn connecting_to_a_closed_port_returns_an_error() {
    bounded(20, || {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = bureau::block_on(TcpStream::connect(("127.0.0.1", port)));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn eof_after_the_peer_shuts_down_writing() {
    bounded(20, || {
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let mut c = TcpStream::connect(l.local_addr()?).await?;
            let (mut s, _) = l.accept().await?;
            c.write_all(b"last words").await?;
            c.shutdown(Shutdown::Write)?;
            let mut got = String::new();
            s.read_to_string(&mut got).await?;
            assert_eq!(got, "last words");
            assert_eq!(s.read(&mut [0; 8]).await?, 0);
            // The other direction still works.
            s.write_all(b"ok").await?;
            let mut buf = [0; 2];
            c.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ok");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_read_and_a_write_awaited_at_once_by_two_tasks() {
    bounded(20, || {
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let c = TcpStream::connect(l.local_addr()?).await?;
            let (s, _) = l.accept().await?;
            // One task waits to read while another writes far more than
            // the socket buffers hold, on the same socket `c`.
            let reader = bureau::spawn({
                let mut c = c.clone();
                async move {
                    let mut buf = [0; 5];
                    c.read_exact(&mut buf).await?;
                    io::Result::Ok(buf)
                }
            });
            let total = 8 * 1024 * 1024;
            let writer = bureau::spawn({
                let mut c = c.clone();
                async move { c.write_all(&vec![1u8; total]).await }
            });
            let mut s2 = s.clone();
            let drain = bureau::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let mut got = 0;
                while got < total {
                    got += s2.read(&mut buf).await?;
                }
                io::Result::Ok(got)
            });
            (&s).write_all(b"hello").await?;
            assert_eq!(&reader.await?, b"hello");
            writer.await?;
            assert_eq!(drain.await?, total);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn udp_round_trip() {
    bounded(20, || {
        bureau::block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind(("127.0.0.1", 0)).await?;
            a.send_to(b"ping", b.local_addr()?).await?;
            let mut buf = [0; 8];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
            b.connect(from).await?;
            b.send(b"pong").await?;
            let (n, from) = a.peek_from(&mut buf).await?;
            assert_eq!((&buf[..n], from), (&b"pong"[..], b.local_addr()?));
            let (n, _) = a.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"pong");
            a.connect(b.local_addr()?).await?;
            a.send(b"again").await?;
            assert_eq!(b.peek(&mut buf).await?, 5);
            assert_eq!(b.recv(&mut buf).await?, 5);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn unix_stream_listener_and_pair() {
    bounded(20, || {
        let path = std::env::temp_dir().join(format!("bureau-net-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        bureau::block_on(async {
            let l = UnixListener::bind(&path)?;
            let mut c = UnixStream::connect(&path).await?;
            let (mut s, _) = l.accept().await?;
            c.write_all(b"over unix").await?;
            c.close().await?;
            let mut got = String::new();
            s.read_to_string(&mut got).await?;
            assert_eq!(got, "over unix");
            let _c2 = UnixStream::connect(&path).await?;
            l.incoming().next().await.unwrap()?;

            let (mut a, mut b) = UnixStream::pair()?;
            a.write_all(b"pair").await?;
            let mut buf = [0; 4];
            b.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pair");
            io::Result::Ok(())
        })
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        let e = bureau::block_on(UnixStream::connect(&path)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn incoming_yields_connections() {
    bounded(20, || {
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let addr = l.local_addr()?;
            let clients = bureau::spawn(async move {
                let mut v = Vec::new();
                for _ in 0..3 {
                    v.push(TcpStream::connect(addr).await?);
                }
                io::Result::Ok(v)
            });
            let got: Vec<_> = l.incoming().take(3).try_collect::<_, _, Vec<_>>().await?;
            assert_eq!(got.len(), 3);
            let s = &got[0];
            s.set_nodelay(true)?;
            assert!(s.nodelay()?);
            clients.await?;
            io::Result::Ok(())
        })
        .unwrap();
    });
}
