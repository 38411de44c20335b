//! Accepting connections, and the accept-error policy, so that a caller's
//! loop that logs an error and accepts again never spins:
//!
//! - out of descriptors (`EMFILE`/`ENFILE`), each listener gives up a spare
//!   descriptor it keeps to accept-and-close the pending connections (the
//!   trick libuv uses), so the backlog drains, clients are not left
//!   hanging, and the next accept waits for a new connection;
//! - an error that would come back at once if accept were tried again
//!   (`ENOMEM`, `ENOBUFS`, out of descriptors with no spare to give up, a
//!   security module's `EACCES`...: anything but an aborted connection, an
//!   interrupted call, or out of descriptors with the backlog shed) is
//!   returned after a pause of [`ACCEPT_PAUSE`] on a reactor timer.
//!
//! The spares live in a table here, keyed by the listener's source, not in
//! the per-socket `Source`: only listeners need one, and every connection
//! would otherwise pay for the room.
//!
//! It must never retry a failing `accept` without waiting, for a new
//! readiness edge or for the pause.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{Stream, ready};

use crate::Timer;
use crate::async_io::{Async, Waiter, never_drained, poll_io};
use crate::source::{READ, Source};
use crate::sync::lock;

/// How long `accept` waits before it returns an error that would come back
/// at once (see the module doc).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

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
        let mut accepting = Accepting::new(&self.source);
        futures_lite::future::poll_fn(|cx| self.poll_accept_with(&mut accepting, cx, &mut op)).await
    }

    /// A stream of accepted connections made by `op`.
    pub(crate) fn incoming_with<R: 'static>(
        &self,
        mut op: fn(&T) -> io::Result<R>,
    ) -> impl Stream<Item = io::Result<R>> + Unpin + '_ {
        let mut accepting = Accepting::new(&self.source);
        futures_lite::stream::poll_fn(move |cx| {
            self.poll_accept_with(&mut accepting, cx, &mut op).map(Some)
        })
    }

    /// One accept: waits for read readiness through `accepting`, or for its
    /// pause after an error that would come back at once.
    fn poll_accept_with<R>(
        &self,
        accepting: &mut Accepting<'_>,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if let Some((pause, _)) = &mut accepting.paused {
                ready!(Pin::new(pause).poll(cx));
            }
            if let Some((_, e)) = accepting.paused.take() {
                return Poll::Ready(Err(e));
            }
            reserve_spare(&self.source);
            let mut backlog_shed = false;
            let waiter = &mut accepting.waiter;
            let accepted = poll_io(
                &self.source,
                READ,
                cx,
                |cx| waiter.poll(cx),
                |state| match op(self.get_ref()) {
                    Err(e) if is_out_of_descriptors(&e) => {
                        backlog_shed = self.shed_backlog(state, op);
                        Err(e)
                    }
                    res => res,
                },
                never_drained,
            );
            match ready!(accepted) {
                Err(e) if fails_again_at_once(&e, backlog_shed) => {
                    accepting.paused = Some((Timer::after(ACCEPT_PAUSE), e));
                }
                res => return Poll::Ready(res),
            }
        }
    }

    /// Out of descriptors: frees the spare, accepts and closes every pending
    /// connection, then takes the spare back, and clears the readiness (as
    /// of `state`) so the caller's next accept waits for a new connection
    /// instead of failing again. Returns whether it did; without a spare it
    /// does nothing, and the backlog stays for the accept after the pause.
    ///
    /// The table stays locked until the spare is back, so that nobody
    /// (another thread accepting on this listener) opens a new spare in the
    /// descriptor this one freed.
    fn shed_backlog<R>(&self, state: u64, op: &mut impl FnMut(&T) -> io::Result<R>) -> bool {
        let source = &*self.source;
        let mut spares = lock(&SPARES);
        let Some(at) = spares.iter().position(|&(key, _)| key == source.key) else {
            return false;
        };
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
        drop(spares);
        source.clear_readiness(READ, state);
        true
    }
}

/// The state of one `accept` (or of an `incoming` stream) between polls.
struct Accepting<'a> {
    /// Waits for read readiness.
    waiter: Waiter<'a>,
    /// After an error that would come back at once: the pause, and the
    /// error to return when it is over.
    paused: Option<(Timer, io::Error)>,
}

impl<'a> Accepting<'a> {
    fn new(source: &'a Source) -> Accepting<'a> {
        Accepting {
            waiter: Waiter::new(source, READ),
            paused: None,
        }
    }
}

/// Whether an accept that failed with `e` would fail the same way if tried
/// again at once, so that returning it at once would let a caller's
/// log-and-retry loop spin. An aborted connection has left the queue and an
/// interrupted call is over; out of descriptors with the backlog shed, the
/// next accept waits for a new connection. Anything else (`ENOMEM`,
/// `ENOBUFS`, out of descriptors with no spare, a security module's
/// `EACCES`) leaves the client queued and the listener ready.
fn fails_again_at_once(e: &io::Error, backlog_shed: bool) -> bool {
    !backlog_shed
        && !matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
        )
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

    fn error(errno: rustix::io::Errno) -> io::Error {
        io::Error::from_raw_os_error(errno.raw_os_error())
    }

    /// A caller's loop that logs an accept error and accepts again, against
    /// an accept that fails with `ENOMEM` every time: between two attempts
    /// the loop's other work makes progress (many polls, not one attempt
    /// after another in the same poll), and a pause of `ACCEPT_PAUSE` passes.
    #[test]
    fn an_error_that_would_come_back_at_once_is_returned_after_a_pause() {
        use std::cell::RefCell;
        use std::time::Instant;
        let _alone = lock(&crate::reactor::tests::REGISTERING);
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let polls = std::cell::Cell::new(0u64);
        // (polls of the other work, time) at each accept attempt.
        let attempts = RefCell::new(Vec::new());
        let accept_loop = async {
            // Three attempts, then no more: a loop that spun would make them
            // all in one poll, and the test would fail rather than hang.
            while attempts.borrow().len() < 3 {
                let failed = listener
                    .accept_with(|_| {
                        attempts.borrow_mut().push((polls.get(), Instant::now()));
                        Err::<(), _>(error(rustix::io::Errno::NOMEM))
                    })
                    .await;
                assert_eq!(failed.unwrap_err().raw_os_error(), Some(12));
            }
            futures_lite::future::pending::<()>().await
        };
        let other_work = futures_lite::future::poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if attempts.borrow().len() >= 3 {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        futures_lite::future::block_on(futures_lite::future::or(other_work, accept_loop));
        let attempts = attempts.into_inner();
        for pair in attempts.windows(2) {
            let ((polls_a, at_a), (polls_b, at_b)) = (pair[0], pair[1]);
            assert!(polls_b > polls_a + 1, "accept tried again at once");
            assert!(at_b - at_a >= ACCEPT_PAUSE, "no pause between attempts");
        }
    }

    /// The pause is the listener's, for `incoming` as for `accept`; errors
    /// that do not repeat (an aborted connection) are returned at once.
    #[test]
    fn only_errors_that_would_come_back_at_once_wait_for_the_pause() {
        let _alone = lock(&crate::reactor::tests::REGISTERING);
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        fn once<F: std::future::Future>(f: F) -> Option<F::Output> {
            futures_lite::future::block_on(futures_lite::future::poll_once(f))
        }
        let aborted = listener.accept_with(|_| Err::<(), _>(error(rustix::io::Errno::CONNABORTED)));
        assert!(
            matches!(once(aborted), Some(Err(_))),
            "an aborted connection waited"
        );
        let nomem = listener.accept_with(|_| Err::<(), _>(error(rustix::io::Errno::NOMEM)));
        assert!(once(nomem).is_none(), "ENOMEM was returned at once");
        let mut incoming =
            listener.incoming_with(|_| Err::<(), _>(error(rustix::io::Errno::NOBUFS)));
        let next = futures_lite::StreamExt::next(&mut incoming);
        assert!(once(next).is_none(), "ENOBUFS was returned at once");
    }
}
