//! Accepting connections without spinning when the process is out of
//! descriptors: each listener keeps a spare descriptor that it gives up to
//! accept-and-close the pending connections while `accept` fails with
//! `EMFILE`/`ENFILE` (the trick libuv uses), so the backlog drains, clients
//! are not left hanging and the loop stays responsive.
//!
//! The spares live in a table here, keyed by the listener's source, not in
//! the per-socket `Source`: only listeners need one, and every connection
//! would otherwise pay for the room.
//!
//! It must never retry a failing `accept` in a loop without waiting for a
//! new readiness edge.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures_lite::Stream;

use crate::async_io::{Async, Waiter};
use crate::source::{READ, Source};
use crate::sync::lock;

/// The spare descriptor of each listener that holds one, by its source's
/// key (unique while the source is registered; the entry leaves with
/// [`release_spare`] when the listener deregisters). A source's
/// `has_spare` tells whether it has an entry, and changes only under this
/// lock. Listeners are few, so a list is enough.
static SPARES: Mutex<Vec<(usize, File)>> = Mutex::new(Vec::new());

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
        bureau_coop::poll_budgeted(cx, |cx| {
            loop {
                let Some(tick) = self.source.ready_state(READ) else {
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
        })
    }

    /// Out of descriptors: frees the spare, accepts and closes every pending
    /// connection, then takes the spare back. The readiness is cleared so
    /// the caller's next accept waits for a new connection instead of
    /// spinning on the same error.
    ///
    /// The table stays locked until the spare is back, so that nobody
    /// (another thread accepting on this listener) opens a new spare in the
    /// descriptor this one freed.
    fn shed_backlog<R>(&self, tick: u64, op: &mut impl FnMut(&T) -> io::Result<R>) {
        let source = &*self.source;
        let mut spares = lock(&SPARES);
        if let Some(at) = spares.iter().position(|&(key, _)| key == source.key) {
            drop(spares.swap_remove(at));
            source.has_spare.store(false, Ordering::Release);
            loop {
                match op(self.get_ref()) {
                    Ok(conn) => drop(conn),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            add_spare(&mut spares, source);
        }
        drop(spares);
        source.clear_readiness(READ, tick);
    }
}

/// Opens the listener's spare descriptor if it has none.
fn reserve_spare(source: &Source) {
    if source.has_spare.load(Ordering::Acquire) {
        return;
    }
    let mut spares = lock(&SPARES);
    if !source.has_spare.load(Ordering::Acquire) {
        add_spare(&mut spares, source);
    }
}

/// Opens a spare for `source` (which has none) into the locked table; on
/// failure it stays without, and the next accept tries again.
fn add_spare(spares: &mut Vec<(usize, File)>, source: &Source) {
    if let Ok(spare) = File::open("/dev/null") {
        spares.push((source.key, spare));
        source.has_spare.store(true, Ordering::Release);
    }
}

/// Closes the spare descriptor of `source`, if it holds one: called when
/// it deregisters, before its key may be reused. Costs one atomic load for
/// a source that is not a listener.
pub(crate) fn release_spare(source: &Source) {
    if !source.has_spare.load(Ordering::Acquire) {
        return;
    }
    let mut spares = lock(&SPARES);
    if let Some(at) = spares.iter().position(|&(key, _)| key == source.key) {
        drop(spares.swap_remove(at));
    }
    source.has_spare.store(false, Ordering::Release);
}

/// `EMFILE` or `ENFILE`.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(rustix::io::Errno::MFILE.raw_os_error())
        || code == Some(rustix::io::Errno::NFILE.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// A listener's spare is opened by its first accept and closed when the
    /// listener goes, so no descriptor outlives it; a stream has none.
    #[test]
    fn a_listener_spare_lives_and_dies_with_it() {
        // Registers, so it must not run within `every_epoll_ctl_is_counted`.
        let _alone = lock(&crate::reactor::tests::REGISTERING);
        let held = |key| lock(&SPARES).iter().any(|&(k, _)| k == key);
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let key = listener.source.key;
        assert!(!held(key) && !listener.source.has_spare.load(Ordering::Acquire));
        let _client = TcpStream::connect(listener.get_ref().local_addr().unwrap()).unwrap();
        let (stream, _) = futures_lite::future::block_on(listener.accept()).unwrap();
        assert!(held(key) && listener.source.has_spare.load(Ordering::Acquire));
        assert!(!stream.source.has_spare.load(Ordering::Acquire));
        drop(listener);
        assert!(!held(key), "the dropped listener's spare is still open");
    }
}
