//! A short read may end the reading of a stream socket (no second read that
//! fails with `WouldBlock`), but never at the cost of a lost end of stream
//! (a FIN that arrives together with the last data, in one epoll edge, or
//! after a drained read, must still reach the reader), and never on a
//! descriptor whose reads stop at message boundaries.
//!
//! No timer runs in these tests: a pending timer would make every reactor
//! turn a timed wait and keep the edges off the path under test. `bounded`
//! turns a lost EOF (a hang) into a failure.

mod common;

use bureau::Async;
use bureau::io::{AsyncReadExt, AsyncWriteExt};
use bureau::net::{TcpListener, TcpStream};
use common::bounded;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;

/// Reads `s` to its end; the number of bytes read.
async fn read_to_end(s: &mut TcpStream) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match s.read(&mut buf).await {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn data_and_fin_together_or_apart_reach_eof() {
    bounded(20, || {
        bureau::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for round in 0..300 {
                // A blocking std client: data and FIN leave back to back.
                let client = std::thread::spawn(move || {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
                    c.shutdown(std::net::Shutdown::Write).unwrap();
                    c
                });
                let (mut s, _) = listener.accept().await.unwrap();
                // Even rounds: both have landed before the first read (one
                // edge). Odd rounds: the read races the client's FIN.
                let client = if round % 2 == 0 {
                    Some(client.join().unwrap())
                } else {
                    drop(client);
                    None
                };
                assert_eq!(read_to_end(&mut s).await, 18, "round {round}");
                drop(client);
            }
        })
    });
}

#[test]
fn fin_after_a_drained_read_wakes_the_reader() {
    bounded(20, || {
        bureau::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut c = TcpStream::connect(addr).await.unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            for _ in 0..100 {
                c.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], b"ping");
            }
            c.close().await.unwrap();
            assert_eq!(read_to_end(&mut s).await, 0);
        })
    });
}

/// A datagram socket read through `Read`: each read returns one message, so
/// a read shorter than the buffer does not mean that nothing is left.
struct Messages(UnixDatagram);

impl AsFd for Messages {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Read for Messages {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

#[test]
fn a_short_read_of_one_message_does_not_end_the_reading() {
    bounded(20, || {
        bureau::block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let mut a = Async::new(Messages(a)).unwrap();
            let mut buf = [0u8; 64];
            // The read waits first; then both messages arrive while the
            // loop runs this task, so the reactor sees them in one edge.
            let (first, ()) = bureau::future::zip(a.read(&mut buf), async {
                b.send(b"one").unwrap();
                b.send(b"two").unwrap();
            })
            .await;
            assert_eq!(first.unwrap(), 3);
            assert_eq!(a.read(&mut buf).await.unwrap(), 3);
            assert_eq!(&buf[..3], b"two");
        })
    });
}
