//! Tests of `Unblock<T>` over files, in-memory I/O and iterators.

mod common;

use std::io::{self, Cursor, Read, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bureau_blocking::Unblock;
use common::within;
use futures_lite::future::block_on;
use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, StreamExt};

/// A fresh, empty directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_dir(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("bureau-unblock-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn reads_a_file_to_the_end() {
    within(10, || {
        let dir = scratch_dir("read");
        let path = dir.join("data");
        std::fs::write(&path, sample(100_000)).unwrap();
        let mut file = Unblock::new(std::fs::File::open(&path).unwrap());
        let mut got = Vec::new();
        block_on(file.read_to_end(&mut got)).unwrap();
        assert_eq!(got, sample(100_000));
    });
}

#[test]
fn writes_a_file_and_flush_puts_it_on_disk() {
    within(10, || {
        let dir = scratch_dir("write");
        let path = dir.join("data");
        let mut file = Unblock::new(std::fs::File::create(&path).unwrap());
        block_on(async {
            for chunk in sample(50_000).chunks(333) {
                file.write_all(chunk).await.unwrap();
            }
            file.flush().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), sample(50_000));
    });
}

#[test]
fn many_small_reads_cost_few_blocking_reads() {
    struct Counting<R>(R, Arc<AtomicUsize>);
    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.read(buf)
        }
    }
    within(10, || {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut io = Unblock::new(Counting(Cursor::new(sample(10_000)), calls.clone()));
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        block_on(async {
            while io.read(&mut byte).await.unwrap() == 1 {
                got.push(byte[0]);
            }
        });
        assert_eq!(got, sample(10_000));
        // 10,000 one-byte reads, but the blocking side reads 8 KiB at a time.
        assert!(
            calls.load(Ordering::SeqCst) <= 4,
            "{calls:?} blocking reads"
        );
    });
}

#[test]
fn seek_counts_from_what_was_read_not_what_was_read_ahead() {
    within(10, || {
        let dir = scratch_dir("seek");
        let path = dir.join("data");
        std::fs::write(&path, sample(20_000)).unwrap();
        let mut file = Unblock::new(std::fs::File::open(&path).unwrap());
        block_on(async {
            let mut head = [0u8; 10];
            file.read_exact(&mut head).await.unwrap();
            assert_eq!(head[..], sample(10)[..]);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 10);
            let mut next = [0u8; 5];
            file.read_exact(&mut next).await.unwrap();
            assert_eq!(next[..], sample(15)[10..]);
            assert_eq!(file.seek(SeekFrom::Start(19_990)).await.unwrap(), 19_990);
            let mut tail = Vec::new();
            file.read_to_end(&mut tail).await.unwrap();
            assert_eq!(tail[..], sample(20_000)[19_990..]);
        });
    });
}

#[test]
fn bytes_read_ahead_survive_with_mut() {
    within(10, || {
        let mut io = Unblock::new(Cursor::new(sample(1000)));
        block_on(async {
            let mut head = [0u8; 3];
            io.read_exact(&mut head).await.unwrap();
            let position = io.with_mut(|cursor| cursor.position()).await;
            assert_eq!(position, 1000, "the whole input was read ahead");
            let mut rest = Vec::new();
            io.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest[..], sample(1000)[3..]);
        });
    });
}

#[test]
fn with_mut_and_into_inner_see_what_was_written() {
    within(10, || {
        let mut io = Unblock::new(Vec::new());
        let bytes = block_on(async {
            io.write_all(b"hello ").await.unwrap();
            assert_eq!(io.with_mut(|bytes| bytes.len()).await, 6);
            io.write_all(b"world").await.unwrap();
            io.into_inner().await
        });
        assert_eq!(bytes, b"hello world");
    });
}

#[test]
fn a_write_error_surfaces_at_flush() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    within(10, || {
        let mut io = Unblock::new(Broken);
        let err = block_on(async {
            // The first write may be accepted into the buffer.
            let written = io.write_all(b"data").await;
            match written {
                Err(err) => err,
                Ok(()) => io.flush().await.unwrap_err(),
            }
        });
        assert_eq!(err.to_string(), "disk on fire");
    });
}

#[test]
fn a_read_error_surfaces_after_the_data_before_it() {
    struct FailsAfter(Option<Vec<u8>>);
    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.take() {
                Some(data) => {
                    buf[..data.len()].copy_from_slice(&data);
                    Ok(data.len())
                }
                None => Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")),
            }
        }
    }
    within(10, || {
        let mut io = Unblock::new(FailsAfter(Some(b"abc".to_vec())));
        let mut got = Vec::new();
        let err = block_on(io.read_to_end(&mut got)).unwrap_err();
        assert_eq!(got, b"abc");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    });
}

#[test]
fn an_iterator_becomes_a_stream() {
    within(10, || {
        let numbers = Unblock::with_capacity(16, 0..10_000u32);
        let got: Vec<u32> = block_on(numbers.collect());
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn a_stream_can_be_stopped_and_its_iterator_taken_back() {
    within(10, || {
        let mut numbers = Unblock::with_capacity(4, 0..1_000_000u64);
        let (first, rest) = block_on(async {
            let first = numbers.next().await;
            (first, numbers.into_inner().await)
        });
        assert_eq!(first, Some(0));
        // Items read ahead are gone, but the iterator stopped early.
        let next = rest.clone().next().unwrap();
        assert!((1..=10).contains(&next), "the iterator went on to {next}");
    });
}

#[test]
fn writing_after_reading_lands_where_reading_stopped_after_a_seek() {
    within(10, || {
        let dir = scratch_dir("read-write");
        let path = dir.join("data");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut file = Unblock::new(file);
        block_on(async {
            let mut head = [0u8; 4];
            file.read_exact(&mut head).await.unwrap();
            file.seek(SeekFrom::Current(0)).await.unwrap();
            file.write_all(b"ab").await.unwrap();
            file.flush().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"0123ab6789");
    });
}

#[test]
fn bytes_written_without_a_flush_still_arrive_after_a_drop() {
    struct Sink(Vec<u8>, std::sync::mpsc::Sender<Vec<u8>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Sink {
        fn drop(&mut self) {
            let _ = self.1.send(std::mem::take(&mut self.0));
        }
    }
    within(10, || {
        let (sent, received) = std::sync::mpsc::channel();
        let mut io = Unblock::new(Sink(Vec::new(), sent));
        // Less than the buffer, so the writing job may not have started yet.
        block_on(io.write_all(&sample(100))).unwrap();
        drop(io);
        let arrived = received
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(arrived, sample(100));
    });
}

#[test]
fn a_stream_is_filled_in_batches_ahead_of_its_consumer() {
    within(10, || {
        let (produced, production) = std::sync::mpsc::channel();
        let numbers = (0..1000u32).inspect(move |_| {
            let _ = produced.send(());
        });
        let mut stream = Unblock::with_capacity(16, numbers);
        assert_eq!(block_on(stream.next()), Some(0));
        // Without asking for more, the pool thread goes on until the pipe
        // is full: the taken item, 16 buffered and one waiting for room.
        for _ in 0..18 {
            production
                .recv_timeout(std::time::Duration::from_secs(5))
                .expect("the iterator should run ahead of the consumer");
        }
    });
}

#[test]
fn an_abandoned_with_mut_loses_no_bytes_read_ahead() {
    /// Hands out the chunks sent to it, blocking until each arrives.
    struct Gated(std::sync::mpsc::Receiver<Vec<u8>>);
    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let chunk = self.0.recv().unwrap_or_default();
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }
    within(10, || {
        let (send, chunks) = std::sync::mpsc::channel();
        let mut io = Unblock::new(Gated(chunks));
        send.send(b"abc".to_vec()).unwrap();
        let mut first = [0u8; 1];
        block_on(io.read_exact(&mut first)).unwrap();
        assert_eq!(&first, b"a");
        // The job now waits for the next chunk: the stop that with_mut
        // starts cannot finish, and its future is dropped half-way.
        let stopped = block_on(futures_lite::future::poll_once(io.with_mut(|_| ())));
        assert!(stopped.is_none());
        // The job reads this chunk and finds nobody to hand it to.
        send.send(b"def".to_vec()).unwrap();
        drop(send);
        let mut rest = Vec::new();
        block_on(io.read_to_end(&mut rest)).unwrap();
        assert_eq!(rest, b"bcdef");
    });
}
