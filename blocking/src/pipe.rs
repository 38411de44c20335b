//! A bounded pipe that carries bytes or items between the async side and a
//! pool thread, so that many small reads or writes cost one thread hop.
//!
//! Each end is polled with a `Waker`; a pool thread drives its end with
//! `futures_lite::future::block_on`. A pipe must never grow past its
//! capacity and must never lose what was pushed into it while its reader
//! is open.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, Mutex, lock};

/// Creates a pipe that holds at most `capacity` items (at least one).
pub(crate) fn pipe<U>(capacity: usize) -> (Reader<U>, Writer<U>) {
    let shared = Arc::new(Mutex::new(State {
        items: VecDeque::new(),
        capacity: capacity.max(1),
        reader_waker: None,
        writer_waker: None,
        reader_closed: false,
        writer_closed: false,
    }));
    (Reader(shared.clone()), Writer(shared))
}

/// What both ends share.
struct State<U> {
    items: VecDeque<U>,
    capacity: usize,
    /// The reader waiting for items, if it is waiting.
    reader_waker: Option<Waker>,
    /// The writer waiting for room, if it is waiting.
    writer_waker: Option<Waker>,
    reader_closed: bool,
    writer_closed: bool,
}

/// Wakes `waker`, if any, after the lock has been released. A panic in the
/// wake is caught (the panic hook has printed it): it must not end the pool
/// thread's job, whose end of the pipe the other side still waits on.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
    }
}

/// The end that takes items out.
pub(crate) struct Reader<U>(Arc<Mutex<State<U>>>);

/// The end that puts items in.
pub(crate) struct Writer<U>(Arc<Mutex<State<U>>>);

impl<U> Reader<U> {
    /// Takes the next item; `None` once the writer is gone and the pipe is empty.
    pub(crate) fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Option<U>> {
        let mut state = lock(&self.0);
        match state.items.pop_front() {
            Some(item) => {
                let writer = state.writer_waker.take();
                drop(state);
                wake(writer);
                Poll::Ready(Some(item))
            }
            None if state.writer_closed => Poll::Ready(None),
            None => {
                state.reader_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Tells the writer to stop: from now on it can push nothing more.
    pub(crate) fn close(&mut self) {
        let mut state = lock(&self.0);
        state.reader_closed = true;
        let writer = state.writer_waker.take();
        drop(state);
        wake(writer);
    }

    /// Takes everything the pipe holds now.
    pub(crate) fn take_buffered(&mut self) -> VecDeque<U> {
        std::mem::take(&mut lock(&self.0).items)
    }
}

impl<U: Copy> Reader<U> {
    /// Moves as many items as are there (at least one) into `out`; 0 once
    /// the writer is gone and the pipe is empty, or when `out` is empty.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut [U]) -> Poll<usize> {
        if out.is_empty() {
            return Poll::Ready(0);
        }
        let mut state = lock(&self.0);
        if state.items.is_empty() {
            if state.writer_closed {
                return Poll::Ready(0);
            }
            state.reader_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.len().min(state.items.len());
        let (front, back) = state.items.as_slices();
        let from_front = n.min(front.len());
        out[..from_front].copy_from_slice(&front[..from_front]);
        out[from_front..n].copy_from_slice(&back[..n - from_front]);
        state.items.drain(..n);
        let writer = state.writer_waker.take();
        drop(state);
        wake(writer);
        Poll::Ready(n)
    }
}

impl<U> Drop for Reader<U> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<U> Writer<U> {
    /// Pushes `item` once there is room; gives it back if the reader is closed.
    pub(crate) fn poll_push(
        &mut self,
        cx: &mut Context<'_>,
        item: &mut Option<U>,
    ) -> Poll<Result<(), U>> {
        let mut state = lock(&self.0);
        let Some(value) = item.take() else {
            return Poll::Ready(Ok(()));
        };
        if state.reader_closed {
            return Poll::Ready(Err(value));
        }
        if state.items.len() >= state.capacity {
            *item = Some(value);
            state.writer_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        state.items.push_back(value);
        let reader = state.reader_waker.take();
        drop(state);
        wake(reader);
        Poll::Ready(Ok(()))
    }
}

impl<U: Copy> Writer<U> {
    /// Copies as much of `data` as there is room for (at least one item);
    /// 0 if the reader is closed or `data` is empty.
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>, data: &[U]) -> Poll<usize> {
        if data.is_empty() {
            return Poll::Ready(0);
        }
        let mut state = lock(&self.0);
        if state.reader_closed {
            return Poll::Ready(0);
        }
        let room = state.capacity.saturating_sub(state.items.len());
        if room == 0 {
            state.writer_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        state.items.extend(&data[..n]);
        let reader = state.reader_waker.take();
        drop(state);
        wake(reader);
        Poll::Ready(n)
    }
}

impl<U> Drop for Writer<U> {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.writer_closed = true;
        let reader = state.reader_waker.take();
        drop(state);
        wake(reader);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_fn};

    #[test]
    fn bytes_arrive_in_order_and_end_when_the_writer_is_gone() {
        let (mut reader, mut writer) = pipe::<u8>(4);
        let sender = std::thread::spawn(move || {
            let data: Vec<u8> = (0..100).collect();
            let mut sent = 0;
            while sent < data.len() {
                sent += block_on(poll_fn(|cx| writer.poll_write(cx, &data[sent..])));
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = block_on(poll_fn(|cx| reader.poll_read(cx, &mut buf)));
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        sender.join().unwrap();
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
    }

    #[test]
    fn the_writer_never_exceeds_the_capacity() {
        let (mut reader, mut writer) = pipe::<u8>(3);
        let n = block_on(poll_fn(|cx| writer.poll_write(cx, &[1, 2, 3, 4, 5])));
        assert_eq!(n, 3);
        assert_eq!(reader.take_buffered(), [1, 2, 3]);
    }

    #[test]
    fn a_closed_reader_stops_the_writer() {
        let (mut reader, mut writer) = pipe::<u32>(3);
        reader.close();
        assert_eq!(block_on(poll_fn(|cx| writer.poll_write(cx, &[1]))), 0);
        let mut item = Some(7);
        assert_eq!(
            block_on(poll_fn(|cx| writer.poll_push(cx, &mut item))),
            Err(7)
        );
    }

    #[test]
    fn items_are_popped_in_order() {
        let (mut reader, mut writer) = pipe::<String>(2);
        for word in ["a", "b"] {
            let mut item = Some(word.to_owned());
            assert_eq!(
                block_on(poll_fn(|cx| writer.poll_push(cx, &mut item))),
                Ok(())
            );
        }
        drop(writer);
        assert_eq!(
            block_on(poll_fn(|cx| reader.poll_pop(cx))).as_deref(),
            Some("a")
        );
        assert_eq!(
            block_on(poll_fn(|cx| reader.poll_pop(cx))).as_deref(),
            Some("b")
        );
        assert_eq!(block_on(poll_fn(|cx| reader.poll_pop(cx))), None);
    }
}
