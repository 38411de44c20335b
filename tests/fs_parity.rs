//! The `fs` items of API.md's "smol parity" section: `hard_link`,
//! `read_link`, `set_permissions`, `DirBuilder`, `File::set_permissions`
//! and `fs::unix`, each checked against what the file system then shows.

#![cfg(unix)]

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bureau::block_on;
use bureau::fs::unix::{DirBuilderExt, DirEntryExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use bureau::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use bureau::prelude::*;

mod common;
use common::bounded;

/// A fresh, empty directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("bureau-fs-parity-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn hard_link_makes_a_second_name_for_the_same_inode() {
    bounded(10, || {
        let dir = scratch("hard-link");
        block_on(async {
            fs::write(dir.join("a"), "shared").await.unwrap();
            fs::hard_link(dir.join("a"), dir.join("b")).await.unwrap();
            let (a, b) = (
                fs::metadata(dir.join("a")).await.unwrap(),
                fs::metadata(dir.join("b")).await.unwrap(),
            );
            assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
            assert_eq!(b.nlink(), 2);
            // A write through one name is read through the other.
            fs::write(dir.join("a"), "changed").await.unwrap();
            assert_eq!(fs::read_to_string(dir.join("b")).await.unwrap(), "changed");
            let again = fs::hard_link(dir.join("a"), dir.join("b")).await;
            assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
        });
    });
}

#[test]
fn read_link_gives_back_what_symlink_wrote() {
    bounded(10, || {
        let dir = scratch("read-link");
        block_on(async {
            fs::write(dir.join("target"), "t").await.unwrap();
            fs::unix::symlink("target", dir.join("link")).await.unwrap();
            assert_eq!(
                fs::read_link(dir.join("link")).await.unwrap(),
                Path::new("target")
            );
            // The relative target resolves from the link's directory.
            assert_eq!(fs::read_to_string(dir.join("link")).await.unwrap(), "t");
            let kind = fs::symlink_metadata(dir.join("link"))
                .await
                .unwrap()
                .file_type();
            assert!(kind.is_symlink());
            // A file that is not a link has nothing to read.
            let err = fs::read_link(dir.join("target")).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        });
    });
}

#[test]
fn a_recursive_dir_builder_makes_nested_dirs_and_a_plain_one_needs_the_parent() {
    bounded(10, || {
        let dir = scratch("dir-builder");
        block_on(async {
            let nested = dir.join("a/b/c");
            let err = DirBuilder::new().create(&nested).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound);
            assert!(fs::metadata(dir.join("a")).await.is_err());

            DirBuilder::new()
                .recursive(true)
                .create(&nested)
                .await
                .unwrap();
            assert!(fs::metadata(&nested).await.unwrap().is_dir());
            // Recursive creation of what exists succeeds; plain creation fails.
            DirBuilder::new()
                .recursive(true)
                .create(&nested)
                .await
                .unwrap();
            let err = DirBuilder::new().create(&nested).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        });
    });
}

#[test]
fn dir_builder_mode_clears_the_bits_it_leaves_out() {
    bounded(10, || {
        let dir = scratch("dir-builder-mode");
        block_on(async {
            let made = dir.join("private");
            DirBuilder::new().mode(0o700).create(&made).await.unwrap();
            let mode = fs::metadata(&made).await.unwrap().permissions().mode();
            // The umask can only clear bits, so compare what 0o700 leaves out.
            assert_eq!(mode & 0o077, 0);
            assert!(fs::metadata(&made).await.unwrap().is_dir());
        });
    });
}

#[test]
fn set_permissions_is_seen_by_metadata() {
    bounded(10, || {
        let dir = scratch("set-permissions");
        block_on(async {
            let path = dir.join("file");
            fs::write(&path, "x").await.unwrap();
            for mode in [0o640, 0o400, 0o755] {
                fs::set_permissions(&path, Permissions::from_mode(mode))
                    .await
                    .unwrap();
                let seen = fs::metadata(&path).await.unwrap().permissions().mode();
                assert_eq!(seen & 0o7777, mode);
            }
            let missing = fs::set_permissions(dir.join("nope"), Permissions::from_mode(0o600));
            assert_eq!(missing.await.unwrap_err().kind(), ErrorKind::NotFound);
        });
    });
}

#[test]
fn file_set_permissions_flushes_then_changes_the_mode() {
    bounded(10, || {
        let dir = scratch("file-set-permissions");
        block_on(async {
            let path = dir.join("file");
            let mut file = File::create(&path).await.unwrap();
            file.write_all(b"written before").await.unwrap();
            file.set_permissions(Permissions::from_mode(0o604))
                .await
                .unwrap();
            let seen = fs::metadata(&path).await.unwrap();
            assert_eq!(seen.permissions().mode() & 0o7777, 0o604);
            // The buffered bytes reached the file before the call returned.
            assert_eq!(seen.len(), 14);
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "written before");
        });
    });
}

#[test]
fn open_options_mode_sets_a_new_files_mode_and_leaves_an_old_ones() {
    bounded(10, || {
        let dir = scratch("open-options-mode");
        block_on(async {
            let path = dir.join("file");
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .await
                .unwrap();
            drop(file);
            // The umask can only clear bits: none outside 0o600 may be set,
            // and a umask that cleared the owner's own bits is not in use here.
            let mode = fs::metadata(&path).await.unwrap().permissions().mode();
            assert_eq!(mode & 0o777 & !0o600, 0);
            assert_eq!(mode & 0o600, 0o600, "umask unexpectedly masks the owner");

            fs::set_permissions(&path, Permissions::from_mode(0o644))
                .await
                .unwrap();
            let reopened = OpenOptions::new()
                .write(true)
                .create(true)
                .mode(0o600)
                .open(&path)
                .await
                .unwrap();
            drop(reopened);
            let mode = fs::metadata(&path).await.unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "an existing file keeps its mode");
        });
    });
}

/// `O_NOFOLLOW` and `ELOOP` as x86-64 Linux numbers them.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn custom_flags_reach_open() {
    const O_NOFOLLOW: i32 = 0o400000;
    const ELOOP: i32 = 40;
    bounded(10, || {
        let dir = scratch("custom-flags");
        block_on(async {
            fs::write(dir.join("target"), "t").await.unwrap();
            fs::unix::symlink("target", dir.join("link")).await.unwrap();
            let err = OpenOptions::new()
                .read(true)
                .custom_flags(O_NOFOLLOW)
                .open(dir.join("link"))
                .await
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(ELOOP));
            // The same flag opens a plain file.
            OpenOptions::new()
                .read(true)
                .custom_flags(O_NOFOLLOW)
                .open(dir.join("target"))
                .await
                .unwrap();
        });
    });
}

#[test]
fn dir_entry_ino_matches_metadata_ino() {
    bounded(10, || {
        let dir = scratch("dir-entry-ino");
        block_on(async {
            for name in ["a", "b", "c"] {
                fs::write(dir.join(name), name).await.unwrap();
            }
            let entries: Vec<_> = fs::read_dir(&*dir)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(entries.len(), 3);
            for entry in entries {
                let ino = fs::metadata(entry.path()).await.unwrap().ino();
                assert_eq!(entry.ino(), ino, "{:?}", entry.file_name());
            }
        });
    });
}
