//! `Unblock::get_mut`: it lends the inner value only after the pool's job
//! has stopped, so bytes handed to a write are in `T` when it returns.

mod common;

use std::io::{self, Cursor, Write};

use bureau_blocking::Unblock;
use common::within;
use futures_lite::future::block_on;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

#[test]
fn get_mut_after_write_all_sees_every_byte_without_a_flush() {
    within(10, || {
        // A pipe smaller than the data, so the writing job is mid-way when
        // `get_mut` is called.
        let mut out = Unblock::with_capacity(16, Vec::new());
        let data: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        block_on(async {
            out.write_all(&data).await.unwrap();
            assert_eq!(out.get_mut().await, &data);
            // The handle stays usable: the lent value is the one it writes to.
            out.get_mut().await.clear();
            out.write_all(b"again").await.unwrap();
            assert_eq!(out.get_mut().await, b"again");
        });
    });
}

#[test]
fn get_mut_on_a_file_sees_the_written_bytes_on_disk() {
    within(10, || {
        let path =
            std::env::temp_dir().join(format!("bureau-blocking-get-mut-{}", std::process::id()));
        let mut file = Unblock::new(std::fs::File::create(&path).unwrap());
        block_on(async {
            file.write_all(b"flushed by get_mut").await.unwrap();
            let len = file.get_mut().await.metadata().unwrap().len();
            assert_eq!(len, 18);
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"flushed by get_mut");
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn get_mut_keeps_the_read_ahead_for_the_next_read() {
    within(10, || {
        let mut input = Unblock::with_capacity(4, Cursor::new(b"abcdefgh".to_vec()));
        block_on(async {
            let mut first = [0; 2];
            input.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"ab");
            // The cursor is past whatever was read ahead; the bytes the
            // caller did not take still come next.
            let position = input.get_mut().await.position();
            assert!((2..=8).contains(&position), "position {position}");
            let mut rest = String::new();
            input.read_to_string(&mut rest).await.unwrap();
            assert_eq!(rest, "cdefgh");
        });
    });
}

/// A writer whose every write fails.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("broken"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_found_by_get_mut_is_returned_by_the_next_flush() {
    within(10, || {
        let mut out = Unblock::new(Broken);
        block_on(async {
            // The write is buffered, so it succeeds; the error comes later.
            out.write_all(b"lost").await.unwrap();
            let _: &mut Broken = out.get_mut().await;
            let err = out.flush().await.unwrap_err();
            assert_eq!(err.to_string(), "broken");
            out.flush().await.unwrap();
        });
    });
}
