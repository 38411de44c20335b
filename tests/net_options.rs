//! `bureau::net`'s smol-parity surface: `AsyncToSocketAddrs` for
//! references, and the socket options async-net has (TTL, `peek`,
//! `nodelay`, UDP broadcast and multicast). Each option is checked by its
//! effect where the host lets a test see one, else by its round-trip.
//! No test here may sleep to synchronise or run unbounded in time.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bureau::net::{TcpListener, TcpStream, UdpSocket, resolve};
use bureau::prelude::*;

mod common;
use common::bounded;

/// Receives one datagram on `sock` and checks its payload.
async fn expect_datagram(sock: &UdpSocket, want: &[u8]) -> io::Result<()> {
    let mut buf = [0; 64];
    let (n, _) = sock.recv_from(&mut buf).await?;
    assert_eq!(&buf[..n], want);
    Ok(())
}

#[test]
fn references_to_addresses_resolve_and_send_like_the_addresses() {
    bounded(10, || {
        bureau::block_on(async {
            let to = UdpSocket::bind("127.0.0.1:0").await?;
            let addr: SocketAddr = to.local_addr()?;
            let text: &str = "127.0.0.1:0";
            let owned = addr.to_string();

            // Each reference names what its referent names.
            assert_eq!(resolve(&addr).await?, vec![addr]);
            assert_eq!(resolve(&text).await?, resolve(text).await?);
            assert_eq!(resolve(&owned).await?, vec![addr]);
            assert_eq!(resolve(&&owned).await?, vec![addr]);

            // The idiom of async-net's UDP examples: `send_to(buf, &addr)`.
            let from = UdpSocket::bind(&text).await?;
            from.send_to(b"by &SocketAddr", &addr).await?;
            expect_datagram(&to, b"by &SocketAddr").await?;
            from.send_to(b"by &String", &owned).await?;
            expect_datagram(&to, b"by &String").await?;
            from.send_to(b"by &&str", &owned.as_str()).await?;
            expect_datagram(&to, b"by &&str").await?;

            // And for TCP, with a reference to a slice of addresses.
            let l = TcpListener::bind(&text).await?;
            let la = [l.local_addr()?];
            let c = TcpStream::connect(&&la[..]).await?;
            assert_eq!(c.peer_addr()?, la[0]);
            io::Result::Ok(())
        })
    })
    .unwrap();
}

#[test]
fn set_ttl_then_ttl_round_trips_on_listener_stream_and_udp_socket() {
    bounded(10, || {
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let c = TcpStream::connect(l.local_addr()?).await?;
            let u = UdpSocket::bind("127.0.0.1:0").await?;
            for ttl in [1, 42, 255] {
                l.set_ttl(ttl)?;
                c.set_ttl(ttl)?;
                u.set_ttl(ttl)?;
                assert_eq!((l.ttl()?, c.ttl()?, u.ttl()?), (ttl, ttl, ttl));
            }
            // A clone shares the socket, so it sees the option too.
            assert_eq!(c.clone().ttl()?, 255);
            io::Result::Ok(())
        })
    })
    .unwrap();
}

#[test]
fn peek_leaves_the_bytes_for_the_next_read_and_nodelay_round_trips() {
    bounded(10, || {
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let mut c = TcpStream::connect(l.local_addr()?).await?;
            let (mut s, _) = l.accept().await?;

            // `peek` waits for data rather than returning `WouldBlock`.
            let writer = bureau::spawn(async move {
                c.write_all(b"hello").await?;
                c.close().await?;
                io::Result::Ok(c)
            });
            let mut first = [0; 5];
            let n = s.peek(&mut first).await?;
            assert!(n > 0);
            assert_eq!(&first[..n], &b"hello"[..n]);
            // A second peek sees the same bytes again: nothing was taken.
            let mut again = [0; 5];
            let m = s.peek(&mut again).await?;
            assert_eq!(&again[..n.min(m)], &first[..n.min(m)]);
            let c = writer.await?;

            let mut all = Vec::new();
            s.read_to_end(&mut all).await?;
            assert_eq!(all, b"hello");
            // After end-of-file there is nothing left to peek at.
            assert_eq!(s.peek(&mut first).await?, 0);

            for on in [true, false, true] {
                c.set_nodelay(on)?;
                assert_eq!(c.nodelay()?, on);
            }
            io::Result::Ok(())
        })
    })
    .unwrap();
}

#[test]
fn a_broadcast_datagram_needs_set_broadcast_and_then_reaches_the_port() {
    bounded(10, || {
        bureau::block_on(async {
            // Bound to the wildcard address: a socket bound to 127.0.0.1 is
            // not sent datagrams addressed to the broadcast address.
            let to = UdpSocket::bind("0.0.0.0:0").await?;
            let port = to.local_addr()?.port();
            // The loopback subnet's broadcast address, so nothing leaves the
            // host.
            let bcast = (Ipv4Addr::new(127, 255, 255, 255), port);
            let from = UdpSocket::bind("127.0.0.1:0").await?;

            assert!(!from.broadcast()?);
            from.set_broadcast(true)?;
            assert!(from.broadcast()?);
            match from.send_to(b"all", bcast).await {
                // Linux routes 127.255.255.255 as a local broadcast: the
                // datagram must arrive, and without the option the kernel
                // refuses the send outright.
                Ok(_) => {
                    expect_datagram(&to, b"all").await?;
                    from.set_broadcast(false)?;
                    assert!(!from.broadcast()?);
                    let err = from.send_to(b"all", bcast).await.unwrap_err();
                    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
                }
                // A host with no broadcast route for loopback: only the
                // option's round-trip can be asserted.
                Err(e) => {
                    eprintln!("no loopback broadcast route here ({e}); round-trip only");
                    from.set_broadcast(false)?;
                    assert!(!from.broadcast()?);
                }
            }
            io::Result::Ok(())
        })
    })
    .unwrap();
}

#[test]
fn multicast_loop_and_ttl_round_trip() {
    bounded(10, || {
        bureau::block_on(async {
            let s = UdpSocket::bind("0.0.0.0:0").await?;
            assert!(s.multicast_loop_v4()?, "the kernel loops back by default");
            s.set_multicast_loop_v4(false)?;
            assert!(!s.multicast_loop_v4()?);
            s.set_multicast_loop_v4(true)?;
            assert!(s.multicast_loop_v4()?);

            assert_eq!(s.multicast_ttl_v4()?, 1, "the default keeps it local");
            s.set_multicast_ttl_v4(7)?;
            assert_eq!(s.multicast_ttl_v4()?, 7);

            // IPv6 options need an IPv6 socket; a host without IPv6 skips.
            match UdpSocket::bind("[::1]:0").await {
                Ok(s6) => {
                    s6.set_multicast_loop_v6(false)?;
                    assert!(!s6.multicast_loop_v6()?);
                    s6.set_multicast_loop_v6(true)?;
                    assert!(s6.multicast_loop_v6()?);
                }
                Err(e) => eprintln!("no IPv6 here ({e}); v6 loop option not checked"),
            }
            io::Result::Ok(())
        })
    })
    .unwrap();
}

#[test]
fn joining_a_multicast_group_works_or_fails_cleanly_and_loops_back_when_joined() {
    // Everything here stays on the loopback interface: the group is joined
    // there, and the datagram leaves through it with a TTL of 0, which the
    // kernel delivers on this host only.
    bounded(10, || {
        bureau::block_on(async {
            let group = Ipv4Addr::new(224, 0, 0, 251);
            let to = UdpSocket::bind("0.0.0.0:0").await?;
            let port = to.local_addr()?.port();
            match to.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
                Ok(()) => {
                    let from = std::net::UdpSocket::bind("127.0.0.1:0")?;
                    let options = socket2::SockRef::from(&from);
                    options.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
                    options.set_multicast_ttl_v4(0)?;
                    from.send_to(b"group", (group, port))?;
                    expect_datagram(&to, b"group").await?;
                    to.leave_multicast_v4(group, Ipv4Addr::LOCALHOST)?;
                    // Left, so leaving again has nothing to leave.
                    assert!(to.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).is_err());
                }
                Err(e) => eprintln!("joining on loopback refused: {e}"),
            }
            // IPv6: join and leave on the loopback interface (index 1), or a
            // clean error where it takes no multicast.
            if let Ok(s6) = UdpSocket::bind("[::1]:0").await {
                let group6 = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
                match s6.join_multicast_v6(&group6, 1) {
                    Ok(()) => s6.leave_multicast_v6(&group6, 1)?,
                    Err(e) => eprintln!("no IPv6 multicast on loopback: {e}"),
                }
            }
            io::Result::Ok(())
        })
    })
    .unwrap();
}
