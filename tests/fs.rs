//! The promises of API.md's `bureau::fs` section: each function and type,
//! round trips through the pool, `std::io` errors, many files at once, and
//! that file I/O runs on the pool, never on the loop thread.

use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;

use bureau::block_on;
use bureau::fs::{self, File, OpenOptions};
use bureau::prelude::*;

mod common;
use common::bounded;

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

fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("bureau-fs-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn write_then_read_round_trips_bytes_and_text() {
    bounded(10, || {
        let dir = scratch("round-trip");
        block_on(async {
            let bytes: Vec<u8> = (0..=255).cycle().take(100_000).collect();
            fs::write(dir.join("bytes"), &bytes).await.unwrap();
            assert_eq!(fs::read(dir.join("bytes")).await.unwrap(), bytes);
            fs::write(dir.join("text"), "héllo").await.unwrap();
            assert_eq!(fs::read_to_string(dir.join("text")).await.unwrap(), "héllo");
        });
    });
}

#[test]
fn a_missing_file_is_not_found() {
    bounded(10, || {
        let dir = scratch("missing");
        let missing = dir.join("nope");
        block_on(async {
            assert_eq!(
                fs::read(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                fs::read_to_string(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                fs::metadata(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                fs::remove_file(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                File::open(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                fs::read_dir(&missing).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        });
    });
}

#[test]
fn reading_text_that_is_not_utf8_is_invalid_data() {
    bounded(10, || {
        let dir = scratch("not-utf8");
        let path = dir.join("latin1");
        std::fs::write(&path, [0x66, 0xff, 0x6f]).unwrap();
        let err = block_on(fs::read_to_string(&path)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn directories_are_created_listed_and_removed() {
    bounded(10, || {
        let dir = scratch("dirs");
        block_on(async {
            fs::create_dir(dir.join("one")).await.unwrap();
            assert_eq!(
                fs::create_dir(dir.join("one")).await.unwrap_err().kind(),
                ErrorKind::AlreadyExists
            );
            fs::create_dir_all(dir.join("two/deep/er")).await.unwrap();
            assert!(
                fs::metadata(dir.join("two/deep/er"))
                    .await
                    .unwrap()
                    .is_dir()
            );
            fs::remove_dir(dir.join("one")).await.unwrap();
            assert_eq!(
                fs::metadata(dir.join("one")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            fs::write(dir.join("two/deep/file"), "x").await.unwrap();
            assert!(fs::remove_dir(dir.join("two")).await.is_err(), "not empty");
            fs::remove_dir_all(dir.join("two")).await.unwrap();
            assert_eq!(
                fs::metadata(dir.join("two")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        });
    });
}

#[test]
fn rename_copy_and_canonicalize() {
    bounded(10, || {
        let dir = scratch("rename-copy");
        block_on(async {
            fs::write(dir.join("a"), "contents").await.unwrap();
            fs::rename(dir.join("a"), dir.join("b")).await.unwrap();
            assert_eq!(
                fs::read(dir.join("a")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(fs::copy(dir.join("b"), dir.join("c")).await.unwrap(), 8);
            assert_eq!(fs::read_to_string(dir.join("c")).await.unwrap(), "contents");
            let canonical = fs::canonicalize(dir.join("./b")).await.unwrap();
            assert_eq!(canonical, std::fs::canonicalize(dir.join("b")).unwrap());
        });
    });
}

#[test]
fn symlink_metadata_does_not_follow_the_link() {
    bounded(10, || {
        let dir = scratch("symlink");
        std::fs::write(dir.join("target"), "x").unwrap();
        std::os::unix::fs::symlink(dir.join("target"), dir.join("link")).unwrap();
        block_on(async {
            assert!(
                fs::symlink_metadata(dir.join("link"))
                    .await
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert!(fs::metadata(dir.join("link")).await.unwrap().is_file());
        });
    });
}

#[test]
fn read_dir_lists_every_entry_across_batches() {
    bounded(20, || {
        let dir = scratch("read-dir");
        for i in 0..600 {
            std::fs::write(dir.join(format!("f{i}")), i.to_string()).unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        block_on(async {
            let mut entries = fs::read_dir(&dir).await.unwrap();
            let mut files = Vec::new();
            let mut dirs = Vec::new();
            while let Some(entry) = entries.next().await {
                let entry = entry.unwrap();
                assert_eq!(entry.path(), dir.join(entry.file_name()));
                if entry.file_type().await.unwrap().is_dir() {
                    dirs.push(entry.file_name());
                } else {
                    assert!(entry.metadata().await.unwrap().len() > 0);
                    files.push(entry.file_name().into_string().unwrap());
                }
            }
            files.sort();
            let mut expected: Vec<String> = (0..600).map(|i| format!("f{i}")).collect();
            expected.sort();
            assert_eq!(files, expected);
            assert_eq!(dirs, ["sub"]);
        });
    });
}

#[test]
fn two_thousand_files_are_read_concurrently() {
    bounded(60, || {
        let dir = scratch("many");
        for i in 0..2000 {
            std::fs::write(dir.join(i.to_string()), i.to_string()).unwrap();
        }
        let total: usize = block_on(async {
            let tasks: Vec<_> = (0..2000)
                .map(|i| {
                    let path = dir.join(i.to_string());
                    bureau::spawn(async move {
                        let text = fs::read_to_string(path).await.unwrap();
                        assert_eq!(text, i.to_string());
                        1
                    })
                })
                .collect();
            let mut total = 0;
            for task in tasks {
                total += task.await;
            }
            total
        });
        assert_eq!(total, 2000);
    });
}

#[test]
fn a_file_is_written_read_and_seeked() {
    bounded(10, || {
        let dir = scratch("file");
        let path = dir.join("data");
        block_on(async {
            let mut file = File::create(&path).await.unwrap();
            file.write_all(b"hello, world").await.unwrap();
            file.flush().await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 12);
            drop(file);

            let mut file = File::open(&path).await.unwrap();
            let mut head = [0u8; 5];
            file.read_exact(&mut head).await.unwrap();
            assert_eq!(&head, b"hello");
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 5);
            assert_eq!(file.seek(SeekFrom::End(-5)).await.unwrap(), 7);
            let mut tail = String::new();
            file.read_to_string(&mut tail).await.unwrap();
            assert_eq!(tail, "world");
            // A file opened for reading cannot be written.
            let written = async {
                file.write_all(b"!").await?;
                file.flush().await
            };
            assert!(written.await.is_err());
        });
    });
}

#[test]
fn a_write_after_a_read_lands_where_the_read_stopped() {
    bounded(10, || {
        let dir = scratch("read-then-write");
        let path = dir.join("data");
        std::fs::write(&path, "0123456789").unwrap();
        block_on(async {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .await
                .unwrap();
            let mut head = [0u8; 3];
            file.read_exact(&mut head).await.unwrap();
            file.write_all(b"abc").await.unwrap();
            file.flush().await.unwrap();
        });
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "012abc6789");
    });
}

#[test]
fn set_len_and_sync_flush_what_was_written_first() {
    bounded(10, || {
        let dir = scratch("set-len");
        let path = dir.join("data");
        block_on(async {
            let mut file = File::create(&path).await.unwrap();
            file.write_all(b"0123456789").await.unwrap();
            file.sync_data().await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
            file.set_len(4).await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 4);
            file.write_all(b"xy").await.unwrap();
            file.sync_all().await.unwrap();
        });
        // The position did not move with set_len: the write landed at 10.
        assert_eq!(std::fs::read(&path).unwrap(), b"0123\0\0\0\0\0\0xy");
    });
}

#[test]
fn open_options_append_and_create_new() {
    bounded(10, || {
        let dir = scratch("open-options");
        let path = dir.join("log");
        block_on(async {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            file.write_all(b"one\n").await.unwrap();
            file.close().await.unwrap();
            let mut file = OpenOptions::new().append(true).open(&path).await.unwrap();
            file.write_all(b"two\n").await.unwrap();
            file.close().await.unwrap();
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "one\ntwo\n");
            let again = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await;
            assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
            let truncated = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&path)
                .await
                .unwrap();
            assert_eq!(truncated.metadata().await.unwrap().len(), 0);
        });
    });
}

#[test]
fn file_io_runs_off_the_event_loop_thread() {
    bounded(10, || {
        // While a read of a FIFO blocks until a writer appears, a task on
        // the same loop opens the writer: it could not if the read blocked
        // the loop.
        let dir = scratch("fifo");
        let path = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let text = block_on(async {
            let writer_path = path.clone();
            let writer =
                bureau::spawn(async move { fs::write(writer_path, "through the fifo").await });
            let text = fs::read_to_string(&path).await.unwrap();
            writer.await.unwrap();
            text
        });
        assert_eq!(text, "through the fifo");
    });
}
