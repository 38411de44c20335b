//! Accepting connections without spinning when the process is out of
//! descriptors: each listener keeps a spare descriptor that it gives up to
//! accept-and-close the pending connections while `accept` fails with
//! `EMFILE`/`ENFILE` (the trick libuv uses), so the backlog drains, clients
//! are not left hanging and the loop stays responsive.
//!
//! It must never retry a failing `accept` in a loop without waiting for a
//! new readiness edge.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use futures_lite::Stream;

use crate::async_io::{Async, Waiter};
use crate::source::{READ, Source, lock};

impl<T: AsFd> Async<T> {
    /// Accepts with `op`, waiting for read readiness; see the module doc.
    pub(crate) async fn accept_with<R>(
        &self,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut waiter = Waiter::new(&self.source, READ);
        futures_lite::future::poll_fn(|cx| self.poll_accept_with(&mut waiter, cx, &mut op)).await
    }

    /// A stream of accepted connections made by `op`.
    pub(crate) fn incoming_with<R: 'static>(
        &self,
        mut op: fn(&T) -> io::Result<R>,
    ) -> impl Stream<Item = io::Result<R>> + Unpin + '_ {
        let mut waiter = Waiter::new(&self.source, READ);
        futures_lite::stream::poll_fn(move |cx| {
            self.poll_accept_with(&mut waiter, cx, &mut op).map(Some)
        })
    }

    /// One attempt at accepting, through `waiter` when not ready.
    fn poll_accept_with<R>(
        &self,
        waiter: &mut Waiter<'_>,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        reserve_spare(&self.source);
        loop {
            let Some(tick) = self.source.ready_tick(READ) else {
                futures_lite::ready!(waiter.poll(cx));
                continue;
            };
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.source.clear_readiness(READ, tick)
                }
                Err(e) if is_out_of_descriptors(&e) => {
                    self.shed_backlog(tick, op);
                    return Poll::Ready(Err(e));
                }
                res => return Poll::Ready(res),
            }
        }
    }

    /// Out of descriptors: frees the spare, accepts and closes every pending
    /// connection, then takes the spare back. The readiness is cleared so
    /// the caller's next accept waits for a new connection instead of
    /// spinning on the same error.
    fn shed_backlog<R>(&self, tick: u64, op: &mut impl FnMut(&T) -> io::Result<R>) {
        let mut spare = lock(&self.source.spare);
        if spare.take().is_some() {
            loop {
                match op(self.get_ref()) {
                    Ok(conn) => drop(conn),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            *spare = File::open("/dev/null").ok();
        }
        self.source.clear_readiness(READ, tick);
    }
}

/// Opens the listener's spare descriptor if it has none.
fn reserve_spare(source: &Source) {
    let mut spare = lock(&source.spare);
    if spare.is_none() {
        *spare = File::open("/dev/null").ok();
    }
}

/// `EMFILE` or `ENFILE`.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(rustix::io::Errno::MFILE.raw_os_error())
        || code == Some(rustix::io::Errno::NFILE.raw_os_error())
}
