//! `Async<T>` at the reactor level: readiness (and that readiness loops do
//! not spin), the socket types of API.md, errors, EOF, deregistration, short
//! writes and use across threads. No test here may sleep to synchronise or
//! assert exact counter values (other tests move them meanwhile; exact
//! counts live in `counters.rs`).

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::time::Duration;

use bureau_reactor::{Async, timeout};
use common::{block_on, bounded};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt, future};

fn temp_path(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("bureau-reactor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn udp_round_trip() {
    bounded(10, || {
        block_on(async {
            let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
            let b = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
            let (aa, ba) = (a.get_ref().local_addr()?, b.get_ref().local_addr()?);
            let receiver = async {
                let mut buf = [0; 16];
                let (n, from) = b.recv_from(&mut buf).await?;
                assert_eq!((&buf[..n], from), (&b"ping"[..], aa));
                b.send_to(b"pong", from).await?;
                io::Result::Ok(())
            };
            let sender = async {
                a.send_to(b"ping", ba).await?;
                let mut buf = [0; 16];
                let (n, from) = a.peek_from(&mut buf).await?;
                assert_eq!((&buf[..n], from), (&b"pong"[..], ba));
                let (n, _) = a.recv_from(&mut buf).await?;
                assert_eq!(&buf[..n], b"pong");
                io::Result::Ok(())
            };
            let (r, s) = future::zip(receiver, sender).await;
            r?;
            s?;
            a.get_ref().connect(ba)?;
            b.get_ref().connect(aa)?;
            a.send(b"x").await?;
            let mut buf = [0; 4];
            assert_eq!(b.peek(&mut buf).await?, 1);
            assert_eq!(b.recv(&mut buf).await?, 1);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn unix_stream_pair_and_listener() {
    bounded(10, || {
        block_on(async {
            let (mut a, mut b) = Async::<UnixStream>::pair()?;
            a.write_all(b"hello").await?;
            let mut buf = [0; 5];
            b.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"hello");

            let path = temp_path("listener");
            let l = Async::<UnixListener>::bind(&path)?;
            let (c, s) = future::zip(Async::<UnixStream>::connect(&path), l.accept()).await;
            let (mut c, (mut s, _)) = (c?, s?);
            c.write_all(b"ok").await?;
            s.read_exact(&mut buf[..2]).await?;
            assert_eq!(&buf[..2], b"ok");
            let _c2 = UnixStream::connect(&path)?;
            l.incoming().next().await.unwrap()?;
            std::fs::remove_file(&path)?;
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn unix_datagram_pair_and_bound() {
    bounded(10, || {
        block_on(async {
            let (a, b) = Async::<UnixDatagram>::pair()?;
            a.send(b"one").await?;
            let mut buf = [0; 8];
            assert_eq!(b.recv(&mut buf).await?, 3);
            let path = temp_path("dgram");
            let bound = Async::<UnixDatagram>::bind(&path)?;
            let unbound = Async::<UnixDatagram>::unbound()?;
            unbound.send_to(b"two", &path).await?;
            let (n, _) = bound.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"two");
            std::fs::remove_file(&path)?;
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn connecting_to_a_closed_port_is_an_error() {
    bounded(10, || {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let r = block_on(Async::<TcpStream>::connect(([127, 0, 0, 1], port)));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let r = block_on(Async::<UnixStream>::connect(temp_path("nobody")));
        assert!(r.is_err());
    });
}

/// A Unix path that begins with a NUL byte names an abstract socket; any
/// other path is taken as a C string: a NUL in it is an error, as is a path
/// too long for `sun_path`; the empty path reaches no one.
#[test]
fn unix_connect_takes_a_leading_nul_as_an_abstract_name_and_other_paths_as_c_strings() {
    use rustix::io::Errno;
    use std::os::linux::net::SocketAddrExt;
    bounded(10, || {
        let error = |p: &str| {
            let r = block_on(Async::<UnixStream>::connect(p));
            r.unwrap_err().raw_os_error()
        };
        let name = format!("bureau-reactor-abstract-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        let c = block_on(Async::<UnixStream>::connect(format!("\0{name}"))).unwrap();
        let (s, _) = l.accept().unwrap();
        assert!(s.peer_addr().unwrap().is_unnamed());
        assert_eq!(
            c.get_ref().peer_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        assert_eq!(error("/tmp/a\0b"), Some(Errno::INVAL.raw_os_error()));
        assert_eq!(
            error(&format!("a\0{name}")),
            Some(Errno::INVAL.raw_os_error())
        );
        let long = format!("/tmp/{}", "x".repeat(200));
        assert_eq!(error(&long), Some(Errno::NAMETOOLONG.raw_os_error()));
        let long = format!("\0{}", "x".repeat(200));
        assert_eq!(error(&long), Some(Errno::NAMETOOLONG.raw_os_error()));
        assert_eq!(error(""), Some(Errno::CONNREFUSED.raw_os_error()));
    });
}

#[test]
fn an_abstract_unix_listener_accepts_and_echoes() {
    use std::os::linux::net::SocketAddrExt;
    bounded(10, || {
        block_on(async {
            let name = format!("bureau-reactor-abstract-echo-{}", std::process::id());
            let path = format!("\0{name}");
            let l = Async::<UnixListener>::bind(&path)?;
            let local = l.get_ref().local_addr()?;
            assert_eq!(local.as_abstract_name(), Some(name.as_bytes()));
            // No socket file was made for it.
            assert!(!std::path::Path::new(&name).exists());
            let server = async {
                let (mut s, _) = l.accept().await?;
                let mut buf = [0; 4];
                s.read_exact(&mut buf).await?;
                s.write_all(&buf).await?;
                io::Result::Ok(())
            };
            let client = async {
                let mut c = Async::<UnixStream>::connect(&path).await?;
                c.write_all(b"echo").await?;
                let mut buf = [0; 4];
                c.read_exact(&mut buf).await?;
                assert_eq!(&buf, b"echo");
                io::Result::Ok(())
            };
            let (s, c) = future::zip(server, client).await;
            s?;
            c?;
            // A second bind to the name in use fails: it really was taken.
            let again = Async::<UnixListener>::bind(&path).unwrap_err();
            assert_eq!(again.kind(), io::ErrorKind::AddrInUse);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn abstract_unix_datagrams_go_both_ways() {
    use std::os::linux::net::SocketAddrExt;
    bounded(10, || {
        block_on(async {
            let pid = std::process::id();
            let (na, nb) = (
                format!("bureau-reactor-abstract-da-{pid}"),
                format!("bureau-reactor-abstract-db-{pid}"),
            );
            let a = Async::<UnixDatagram>::bind(format!("\0{na}"))?;
            let b = Async::<UnixDatagram>::bind(format!("\0{nb}"))?;
            assert_eq!(a.send_to(b"ping", format!("\0{nb}")).await?, 4);
            let mut buf = [0; 8];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!(
                (&buf[..n], from.as_abstract_name()),
                (&b"ping"[..], Some(na.as_bytes()))
            );
            // Reply to the name the datagram came from.
            let mut reply = vec![0];
            reply.extend_from_slice(from.as_abstract_name().unwrap());
            let reply = std::ffi::OsString::from_vec(reply);
            b.send_to(b"pong", &reply).await?;
            let (n, _) = a.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"pong");
            let e = a.send_to(b"x", "/tmp/a\0b").await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn peek_leaves_the_bytes_for_the_next_read() {
    bounded(10, || {
        block_on(async {
            let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
            let (c, s) = future::zip(
                Async::<TcpStream>::connect(l.get_ref().local_addr()?),
                l.accept(),
            )
            .await;
            let (mut c, (mut s, _)) = (c?, s?);
            // The peek waits for the bytes, written only once it is waiting.
            let peek = async {
                let mut buf = [0; 16];
                let n = c.peek(&mut buf).await?;
                io::Result::Ok(buf[..n].to_vec())
            };
            let (peeked, w) = future::zip(peek, s.write_all(b"peekaboo")).await;
            w?;
            let peeked = peeked?;
            assert!(!peeked.is_empty() && b"peekaboo".starts_with(&peeked));
            // A second peek sees them again, and the read takes them.
            let mut again = [0; 16];
            let n = c.peek(&mut again).await?;
            assert_eq!(
                &again[..peeked.len().min(n)],
                &peeked[..peeked.len().min(n)]
            );
            let mut buf = [0; 8];
            c.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"peekaboo");
            // After EOF, peek gives 0.
            s.get_ref().shutdown(Shutdown::Write)?;
            assert_eq!(c.peek(&mut buf).await?, 0);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn get_mut_read_with_mut_and_write_with_mut_reach_the_handle_through_mut() {
    bounded(10, || {
        block_on(async {
            let (a, b) = UnixStream::pair()?;
            let (mut a, mut b) = (Async::new(a)?, Async::new(b)?);
            let inner: &UnixStream = a.as_ref();
            assert!(std::ptr::eq(inner, a.get_ref()));
            // The read waits for the write, issued after it started waiting.
            let mut buf = [0; 5];
            let read = a.read_with_mut(|s| s.read(&mut buf));
            let (n, w) = future::zip(read, b.write_with_mut(|s| s.write(b"hello"))).await;
            assert_eq!((n?, w?), (5, 5));
            assert_eq!(&buf, b"hello");
            // SAFETY: the stream is written to, neither replaced nor closed.
            unsafe { b.get_mut() }.write_all(b"again")?;
            let n = a.read_with_mut(|s| s.read(&mut buf)).await?;
            assert_eq!(&buf[..n], b"again");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

/// Each completed `read_with_mut`/`write_with_mut`/`peek` spends one unit
/// of the poll's cooperative budget, so once it is spent the next one
/// yields (waking its task) instead of running, as `read_with` does.
#[test]
fn the_mut_operations_and_peek_spend_the_cooperative_budget() {
    use std::pin::pin;
    use std::task::{Context, Waker};
    bounded(10, || {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut a = Async::new(a).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let ((), yielded) = bureau_coop::budgeted(|| {
            for _ in 0..bureau_coop::BUDGET {
                let w = pin!(a.write_with_mut(|s| s.write(b"x")));
                assert!(w.poll(&mut cx).is_ready());
            }
            let w = pin!(a.write_with_mut(|_| -> io::Result<()> { panic!("ran past the budget") }));
            assert!(w.poll(&mut cx).is_pending());
        });
        assert!(yielded);
        let ((), yielded) = bureau_coop::budgeted(|| {
            bureau_coop::exhaust();
            let r = pin!(a.read_with_mut(|_| -> io::Result<()> { panic!("ran past the budget") }));
            assert!(r.poll(&mut cx).is_pending());
        });
        assert!(yielded);

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = block_on(Async::<TcpStream>::connect(l.local_addr().unwrap())).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"x").unwrap();
        let mut buf = [0; 1];
        assert_eq!(block_on(c.peek(&mut buf)).unwrap(), 1);
        let ((), yielded) = bureau_coop::budgeted(|| {
            bureau_coop::exhaust();
            let p = pin!(c.peek(&mut buf));
            assert!(p.poll(&mut cx).is_pending());
        });
        assert!(yielded);
        // Outside a budgeted poll it runs.
        assert_eq!(block_on(c.peek(&mut buf)).unwrap(), 1);
    });
}

#[test]
fn eof_after_the_peer_shuts_down_writing() {
    bounded(10, || {
        block_on(async {
            let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
            let addr = l.get_ref().local_addr()?;
            let (c, s) = future::zip(Async::<TcpStream>::connect(addr), l.accept()).await;
            let (mut c, (mut s, _)) = (c?, s?);
            c.write_all(b"bye").await?;
            c.get_ref().shutdown(Shutdown::Write)?;
            let mut all = Vec::new();
            s.read_to_end(&mut all).await?;
            assert_eq!(all, b"bye");
            assert_eq!(s.read(&mut [0; 4]).await?, 0);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_read_and_a_write_awaited_at_once_on_one_socket() {
    bounded(20, || {
        block_on(async {
            let (a, b) = Async::<UnixStream>::pair()?;
            let a = &a;
            // Fill `a`'s send buffer so the writer must wait for writability
            // while the reader waits for readability on the same socket.
            let chunk = vec![7u8; 64 * 1024];
            let reader = async {
                let mut buf = [0; 3];
                (&*a).read_exact(&mut buf).await?;
                io::Result::Ok(buf)
            };
            let writer = async {
                let mut sent = 0;
                while sent < 4 * 1024 * 1024 {
                    sent += (&*a).write(&chunk).await?;
                }
                io::Result::Ok(sent)
            };
            let peer = async {
                let mut b = &b;
                b.write_all(b"abc").await?;
                let mut buf = vec![0; 64 * 1024];
                let mut got = 0;
                while got < 4 * 1024 * 1024 {
                    got += b.read(&mut buf).await?;
                }
                io::Result::Ok(got)
            };
            let ((r, w), p) = future::zip(future::zip(reader, writer), peer).await;
            assert_eq!(&r?, b"abc");
            assert_eq!(w?, p?);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn readable_and_writable_futures_wait_for_the_kernel() {
    bounded(10, || {
        block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            a.writable().await?;
            // Learn that nothing is there (this clears the readiness)...
            let r = a.read_with(|mut s| s.read(&mut [0; 1])).or_timeout().await;
            assert!(r.is_err());
            // ...so `readable` now waits until the peer writes.
            assert!(
                timeout(Duration::from_millis(20), a.readable())
                    .await
                    .is_err()
            );
            b.write_all(b"x")?;
            a.readable().await?;
            assert_eq!(a.read_with(|mut s| s.read(&mut [0; 1])).await?, 1);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

/// A `read_with` that gives up after 20 ms.
trait OrTimeout: std::future::Future + Sized {
    fn or_timeout(
        self,
    ) -> impl std::future::Future<Output = Result<Self::Output, bureau_reactor::TimedOut>> {
        timeout(Duration::from_millis(20), self)
    }
}
impl<F: std::future::Future> OrTimeout for F {}

#[test]
fn a_dropped_async_leaves_no_registration_behind() {
    bounded(10, || {
        block_on(async {
            let (a, mut peer) = UnixStream::pair()?;
            // A duplicate keeps the socket open after the drop, so only the
            // drop's deregistration (not the close) removes it from epoll.
            let dup = a.try_clone()?;
            drop(Async::new(a)?);
            // A new source, which (unless another test is quicker) reuses the
            // freed key.
            let (b, _b_peer) = UnixStream::pair()?;
            let b = Async::new(b)?;
            assert!(future::poll_once(b.readable()).await.is_none());
            // An edge on the old socket must not reach the new source.
            peer.write_all(b"stale")?;
            let r = timeout(Duration::from_millis(30), b.readable()).await;
            assert!(r.is_err(), "the dropped Async's events woke a new source");
            drop(dup);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn an_async_made_on_one_thread_works_in_another() {
    bounded(10, || {
        let (a, b) = Async::<UnixStream>::pair().unwrap();
        let t = std::thread::spawn(move || {
            block_on(async move {
                let mut a = a;
                let mut buf = [0; 4];
                a.read_exact(&mut buf).await?;
                io::Result::Ok(buf)
            })
        });
        let mut b = b;
        block_on(b.write_all(b"ping")).unwrap();
        assert_eq!(&t.join().unwrap().unwrap(), b"ping");
    });
}

#[test]
fn futures_lite_block_on_drives_io_through_the_helper() {
    bounded(10, || {
        let (mut a, mut b) = Async::<UnixStream>::pair().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            rx.recv().unwrap();
            future::block_on(b.write_all(b"late"))
        });
        let mut buf = [0; 4];
        future::block_on(async {
            let mut read = std::pin::pin!(a.read_exact(&mut buf));
            // Waiting before the data is there: only the reactor can wake us.
            assert!(future::poll_once(&mut read).await.is_none());
            tx.send(()).unwrap();
            read.await
        })
        .unwrap();
        assert_eq!(&buf, b"late");
        t.join().unwrap().unwrap();
    });
}

#[test]
fn into_inner_gives_the_handle_back() {
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let a: UnixStream = a.into_inner().unwrap();
    assert!(a.peer_addr().is_ok());
    // It was deregistered: registering it again is no EEXIST.
    let a = Async::new(a).unwrap();
    drop(a);
}

#[test]
fn a_listener_holds_a_burst_of_pending_connections() {
    // std's backlog of 128 would drop SYNs past the 129th connect, and those
    // clients would retry only a second later, again and again: the burst
    // must all be queued by the kernel without a single accept.
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = listener.get_ref().local_addr().unwrap();
    let clients = bounded(10, move || {
        (0..1_000)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(clients.len(), 1_000);
    drop(listener);
}

#[test]
fn readable_on_a_fresh_empty_socket_waits_for_data() {
    bounded(10, || {
        block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            // Nothing was ever written: not readable, whatever the cache says.
            assert!(future::poll_once(a.readable()).await.is_none());
            assert!(future::poll_once(a.readable()).await.is_none());
            b.write_all(b"x")?;
            timeout(Duration::from_secs(5), a.readable()).await??;
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_second_readable_with_no_new_data_waits() {
    bounded(10, || {
        block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            // Empty: waits. (Readiness then comes from the write's edge; a
            // readiness found by asking the kernel may be followed by one
            // spurious wake for the edge of the same data, which is allowed.)
            assert!(future::poll_once(a.readable()).await.is_none());
            b.write_all(b"xy")?;
            a.readable().await?;
            // Data left unread: readable again at once.
            assert!(future::poll_once(a.readable()).await.is_some());
            assert_eq!(a.get_ref().read(&mut [0; 8])?, 2);
            // All read, and no new edge: it must wait, not report the old one.
            assert!(future::poll_once(a.readable()).await.is_none());
            b.write_all(b"z")?;
            timeout(Duration::from_secs(5), a.readable()).await??;
            assert_eq!(a.get_ref().read(&mut [0; 8])?, 1);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_readable_then_read_loop_waits_instead_of_spinning() {
    bounded(10, || {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        // The peer writes only once the reader is known to be waiting.
        let peer = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            b.write_all(b"late").unwrap();
            b
        });
        block_on(async {
            let a = Async::new(a)?;
            let rounds = std::cell::Cell::new(0u32);
            let read = async {
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
            };
            let mut read = std::pin::pin!(read);
            assert!(future::poll_once(&mut read).await.is_none());
            go_tx.send(()).unwrap();
            let got = timeout(Duration::from_secs(5), read).await??;
            assert_eq!(got, b"late");
            let rounds = rounds.get();
            assert!(rounds <= 3, "{rounds} rounds for one write");
            io::Result::Ok(())
        })
        .unwrap();
        peer.join().unwrap();
    });
}

#[test]
fn poll_readable_in_a_loop_waits_instead_of_spinning() {
    bounded(10, || {
        block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            let a = Async::new(a)?;
            let mut ready = future::poll_fn(|cx| a.poll_readable(cx));
            assert!(future::poll_once(&mut ready).await.is_none());
            b.write_all(b"x")?;
            ready.await?;
            assert_eq!(a.get_ref().read(&mut [0; 8])?, 1);
            let again = future::poll_once(future::poll_fn(|cx| a.poll_readable(cx))).await;
            assert!(again.is_none(), "poll_readable reported a consumed edge");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn accepted_and_connected_sockets_are_non_blocking_and_close_on_exec() {
    bounded(10, || {
        block_on(async {
            let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
            let addr = l.get_ref().local_addr()?;
            let (c, s) = future::zip(Async::<TcpStream>::connect(addr), l.accept()).await;
            let (c, (s, peer)) = (c?, s?);
            assert_eq!(peer, c.get_ref().local_addr()?);
            let path = temp_path("nonblocking");
            let ul = Async::<UnixListener>::bind(&path)?;
            let (uc, us) = future::zip(Async::<UnixStream>::connect(&path), ul.accept()).await;
            let (uc, (us, uaddr)) = (uc?, us?);
            assert!(uaddr.is_unnamed(), "{uaddr:?}");
            std::fs::remove_file(&path)?;
            // Nothing was sent: a read fails at once instead of blocking.
            for r in [
                c.get_ref().read(&mut [0; 1]),
                s.get_ref().read(&mut [0; 1]),
                uc.get_ref().read(&mut [0; 1]),
                us.get_ref().read(&mut [0; 1]),
            ] {
                assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            }
            for fd in [c.as_fd(), s.as_fd(), uc.as_fd(), us.as_fd()] {
                let flags = rustix::io::fcntl_getfd(fd)?;
                assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
            }
            io::Result::Ok(())
        })
        .unwrap();
    });
}

/// A stream that counts how its writes end.
struct CountingWrites {
    inner: UnixStream,
    short: usize,
    would_block: usize,
}

impl Write for CountingWrites {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        match &r {
            Ok(n) if *n < buf.len() => self.short += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block += 1,
            _ => {}
        }
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::os::fd::AsFd for CountingWrites {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

#[test]
fn a_short_write_waits_for_the_kernel_instead_of_failing_the_next_write() {
    bounded(20, || {
        let (a, mut b) = UnixStream::pair().unwrap();
        // A small send buffer, so that every large write is short.
        socket2::SockRef::from(&a)
            .set_send_buffer_size(32 * 1024)
            .unwrap();
        let total = 16 * 1024 * 1024;
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0; 16 * 1024];
            let mut got = 0;
            while got < total {
                got += b.read(&mut buf).unwrap();
            }
        });
        let mut a = Async::new(CountingWrites {
            inner: a,
            short: 0,
            would_block: 0,
        })
        .unwrap();
        block_on(async {
            let chunk = vec![5u8; 512 * 1024];
            let mut sent = 0;
            while sent < total {
                let n = chunk.len().min(total - sent);
                sent += a.write(&chunk[..n]).await?;
            }
            io::Result::Ok(())
        })
        .unwrap();
        reader.join().unwrap();
        let (short, would_block) = (a.get_ref().short, a.get_ref().would_block);
        eprintln!("{short} short writes, {would_block} writes failed with WouldBlock");
        assert!(short > 0, "the send buffer never filled");
        // Without clearing on a short write, nearly every short write is
        // followed by a write that fails with WouldBlock.
        assert!(
            would_block * 2 <= short + 2,
            "{would_block} WouldBlock writes after {short} short ones"
        );
    });
}
