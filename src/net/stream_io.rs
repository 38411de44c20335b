//! What the stream handles (`TcpStream`, `UnixStream`) share: conversion from
//! an `Async` stream, and `AsyncRead`/`AsyncWrite` for the handle and for a
//! reference to it, forwarded to the `Async` inside. Closing shuts the write
//! half down, so the peer sees end-of-file while clones of the handle can
//! still read. One macro, so the two handles cannot drift apart; it must
//! never hold anything specific to one socket type.

/// Implements the shared stream traits for `$handle`, a struct with an
/// `inner: Arc<Async<$std>>` field. The `@io` arm writes the forwarding
/// impls once, for the handle and for a reference to it.
macro_rules! stream_io {
    (@io $t:ty) => {
        impl futures_lite::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_lite::AsyncRead::poll_read(std::pin::Pin::new(&mut &*self.inner), cx, buf)
            }
        }

        impl futures_lite::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_lite::AsyncWrite::poll_write(std::pin::Pin::new(&mut &*self.inner), cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_lite::AsyncWrite::poll_flush(std::pin::Pin::new(&mut &*self.inner), cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(shutdown_write(self.inner.get_ref()))
            }
        }
    };
    ($handle:ident, $std:ty) => {
        impl From<crate::Async<$std>> for $handle {
            fn from(inner: crate::Async<$std>) -> $handle {
                $handle {
                    inner: std::sync::Arc::new(inner),
                }
            }
        }

        stream_io!(@io $handle);
        stream_io!(@io &$handle);

        /// Shuts the write half down; a peer that is already gone is not an
        /// error for a close.
        fn shutdown_write(stream: &$std) -> std::io::Result<()> {
            match stream.shutdown(std::net::Shutdown::Write) {
                Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
                r => r,
            }
        }
    };
}
