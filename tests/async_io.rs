//! API.md's "I/O readiness" under `bureau::block_on`: `Async<T>` on the
//! socket types, readiness futures (and that a readiness loop does not
//! spin), two tasks on one socket, deregistration on drop, and an `Async`
//! moved between threads. No test here may sleep to synchronise or run
//! unbounded in time.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use bureau::prelude::*;
use bureau::{Async, timeout};

mod common;
use common::bounded;

#[test]
fn tcp_accept_connect_and_incoming() {
    bounded(20, || {
        bureau::block_on(async {
            let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
            let addr = l.get_ref().local_addr()?;
            let client = bureau::spawn(async move {
                let mut c = Async::<TcpStream>::connect(addr).await?;
                c.write_all(b"one").await?;
                Async::<TcpStream>::connect(addr).await?;
                io::Result::Ok(c)
            });
            let (mut s, peer) = l.accept().await?;
            let mut buf = [0; 3];
            s.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"one");
            let second = l.incoming().next().await.unwrap()?;
            assert!(second.get_ref().peer_addr()?.ip().is_loopback());
            assert_eq!(client.await?.get_ref().local_addr()?, peer);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn udp_and_unix_datagrams_round_trip() {
    bounded(20, || {
        bureau::block_on(async {
            let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
            let b = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
            a.send_to(b"udp", b.get_ref().local_addr()?).await?;
            let mut buf = [0; 8];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!((&buf[..n], from), (&b"udp"[..], a.get_ref().local_addr()?));

            let (x, y) = Async::<UnixDatagram>::pair()?;
            x.send(b"unix").await?;
            assert_eq!(y.recv(&mut buf).await?, 4);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_read_and_a_write_on_one_socket_by_two_tasks() {
    bounded(20, || {
        bureau::block_on(async {
            let (a, b) = Async::<UnixStream>::pair()?;
            let a = std::rc::Rc::new(a);
            let reader = bureau::spawn({
                let a = a.clone();
                async move {
                    let mut buf = [0; 2];
                    (&*a).read_exact(&mut buf).await?;
                    io::Result::Ok(buf)
                }
            });
            let total = 4 * 1024 * 1024;
            let writer = bureau::spawn({
                let a = a.clone();
                async move { (&*a).write_all(&vec![9u8; total]).await }
            });
            let mut b = &b;
            let mut got = 0;
            let mut buf = vec![0; 64 * 1024];
            b.write_all(b"hi").await?;
            while got < total {
                got += b.read(&mut buf).await?;
            }
            assert_eq!(&reader.await?, b"hi");
            writer.await?;
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn readable_waits_for_data_and_writable_is_ready_on_an_empty_buffer() {
    bounded(20, || {
        bureau::block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            a.writable().await?;
            // Learn that nothing is there yet; `readable` then waits.
            let r = timeout(
                Duration::from_millis(20),
                a.read_with(|mut s| s.read(&mut [0; 1])),
            );
            assert!(r.await.is_err());
            assert!(
                timeout(Duration::from_millis(20), a.readable())
                    .await
                    .is_err()
            );
            b.write_all(b"z")?;
            a.readable().await?;
            assert_eq!(a.read_with(|mut s| s.read(&mut [0; 1])).await?, 1);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_dropped_async_leaves_no_registration_to_wake_a_new_socket() {
    bounded(20, || {
        bureau::block_on(async {
            let (old, mut old_peer) = UnixStream::pair()?;
            // A duplicate keeps the socket open after the drop, so only the
            // drop's deregistration (not the close) removes it from epoll.
            let dup = old.try_clone()?;
            drop(Async::new(old)?);
            // Likely on the freed key (unless another test is quicker).
            let (new, _new_peer) = UnixStream::pair()?;
            let new = Async::new(new)?;
            assert!(bureau::future::poll_once(new.readable()).await.is_none());
            old_peer.write_all(b"stale")?;
            let r = timeout(Duration::from_millis(30), new.readable());
            assert!(r.await.is_err(), "the new socket saw the old one's event");
            drop(dup);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn an_async_made_on_one_thread_is_used_in_another_threads_block_on() {
    bounded(20, || {
        let (a, b) = Async::<UnixStream>::pair().unwrap();
        let t = std::thread::spawn(move || {
            bureau::block_on(async move {
                let mut a = a;
                let mut buf = [0; 5];
                a.read_exact(&mut buf).await?;
                a.write_all(&buf).await?;
                io::Result::Ok(())
            })
        });
        bureau::block_on(async move {
            let mut b = b;
            b.write_all(b"hello").await?;
            let mut buf = [0; 5];
            b.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"hello");
            io::Result::Ok(())
        })
        .unwrap();
        t.join().unwrap().unwrap();
    });
}

#[test]
fn connect_errors_are_returned_not_hung() {
    bounded(20, || {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = bureau::block_on(Async::<TcpStream>::connect(([127, 0, 0, 1], port)));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn a_readable_then_read_loop_waits_for_the_peer_without_spinning() {
    bounded(20, || {
        bureau::block_on(async {
            let (a, b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            let rounds = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let reader = bureau::spawn({
                let rounds = rounds.clone();
                async move {
                    let mut buf = [0; 8];
                    loop {
                        rounds.set(rounds.get() + 1);
                        if rounds.get() > 100 {
                            return Err(io::Error::other("the readable/read loop spins"));
                        }
                        a.readable().await?;
                        match a.get_ref().read(&mut buf) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                            res => return res.map(|n| buf[..n].to_vec()),
                        }
                    }
                }
            });
            // The peer writes after a while: once the reader had its chance
            // to run (and, if it spun, to give up).
            bureau::Timer::after(Duration::from_millis(20)).await;
            (&b).write_all(b"late")?;
            let got = timeout(Duration::from_secs(5), reader).await??;
            assert_eq!(got, b"late");
            assert!(rounds.get() <= 3, "{} rounds for one write", rounds.get());
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_socket_becomes_ready_while_a_task_yields_forever() {
    // The loop never runs out of work here, so the socket's event can only
    // arrive through the reactor's non-blocking turns between task polls.
    bounded(10, || {
        bureau::block_on(async {
            bureau::spawn(async {
                loop {
                    bureau::yield_now().await;
                }
            })
            .detach();
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            let writer = std::thread::spawn(move || b.write_all(b"ping").map(|()| b));
            let mut buf = [0; 4];
            (&a).read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            drop(writer.join().expect("writer thread"));
            io::Result::Ok(())
        })
        .unwrap();
    });
}
