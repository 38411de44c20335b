//! Asynchronous networking: cheap-to-clone TCP, UDP and Unix socket handles
//! over [`crate::Async`], taking addresses as `"host:port"` strings,
//! `SocketAddr`s or `(ip, port)` / `(host, port)` pairs.
//!
//! This module must never block the event loop: host names are resolved on
//! the blocking pool, everything else goes through the reactor.
//!
//! ```
//! use bureau::net::{TcpListener, TcpStream};
//! use bureau::prelude::*;
//! bureau::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = bureau::spawn(async move {
//!         let (mut s, _) = listener.accept().await?;
//!         let mut buf = [0; 4];
//!         s.read_exact(&mut buf).await?;
//!         s.write_all(&buf).await?;
//!         std::io::Result::Ok(())
//!     });
//!     let mut c = TcpStream::connect(addr).await?;
//!     c.write_all(b"echo").await?;
//!     let mut buf = [0; 4];
//!     c.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"echo");
//!     server.await
//! }).unwrap();
//! ```

#[macro_use]
mod stream_io;

mod addr;
mod tcp;
mod tcp_socket;
mod udp;
mod unix;

pub use addr::{AsyncToSocketAddrs, resolve};
pub use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
