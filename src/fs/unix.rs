//! What only Unix has: symbolic links, file modes, inode numbers and
//! `open(2)` flags, as extension traits on `bureau::fs`'s types.
//!
//! The traits only record settings or read what `std` already holds; the
//! one call that touches the disk, `symlink`, runs on the pool. This module
//! must never make a blocking call on the caller's thread.

use std::io;
use std::path::Path;

#[cfg(loom)]
use super::unblock;
#[cfg(not(loom))]
use crate::unblock;

use super::{DirBuilder, DirEntry, OpenOptions};

pub use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

/// Creates a symbolic link at `dst` that points to `src`. `src` is stored
/// as written: a relative `src` is resolved from `dst`'s directory when
/// the link is followed, and it need not exist.
///
/// ```
/// # bureau::block_on(async {
/// let link = std::env::temp_dir().join("bureau-doc-symlink");
/// # let _ = bureau::fs::remove_file(&link).await;
/// bureau::fs::unix::symlink(std::env::current_dir()?.join("Cargo.toml"), &link).await?;
/// assert!(bureau::fs::symlink_metadata(&link).await?.file_type().is_symlink());
/// assert!(bureau::fs::metadata(&link).await?.is_file());
/// # bureau::fs::remove_file(&link).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn symlink(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref().to_owned(), dst.as_ref().to_owned());
    unblock(move || std::os::unix::fs::symlink(src, dst)).await
}

/// Keeps the traits below implemented only by this crate's types, so that
/// methods can be added to them later.
mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for DirBuilder {}
impl sealed::Sealed for DirEntry {}
impl sealed::Sealed for OpenOptions {}

/// Unix settings for [`DirBuilder`].
pub trait DirBuilderExt: sealed::Sealed {
    /// Sets the mode new directories are created with (default 0o777); the
    /// process's umask clears bits from it, as `mkdir(2)` does.
    ///
    /// ```
    /// use bureau::fs::unix::{DirBuilderExt, PermissionsExt};
    ///
    /// # bureau::block_on(async {
    /// let dir = std::env::temp_dir().join("bureau-doc-dir-builder-mode");
    /// # let _ = bureau::fs::remove_dir(&dir).await;
    /// bureau::fs::DirBuilder::new().mode(0o700).create(&dir).await?;
    /// let mode = bureau::fs::metadata(&dir).await?.permissions().mode();
    /// assert_eq!(mode & 0o077, 0, "no access for group or others");
    /// # bureau::fs::remove_dir(&dir).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    fn mode(&mut self, mode: u32) -> &mut Self;
}

impl DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }
}

/// Unix facts about a [`DirEntry`].
pub trait DirEntryExt: sealed::Sealed {
    /// The entry's inode number, as the directory listing gave it (no
    /// system call: it was read with the entry).
    ///
    /// ```
    /// use bureau::fs::unix::{DirEntryExt, MetadataExt};
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let entry = bureau::fs::read_dir("src").await?.next().await.unwrap()?;
    /// assert_eq!(entry.ino(), entry.metadata().await?.ino());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    fn ino(&self) -> u64;
}

impl DirEntryExt for DirEntry {
    fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.0)
    }
}

/// Unix settings for [`OpenOptions`].
pub trait OpenOptionsExt: sealed::Sealed {
    /// Sets the mode a new file is created with (default 0o666); the
    /// process's umask clears bits from it, as `open(2)` does. A file that
    /// exists keeps its mode.
    ///
    /// ```
    /// use bureau::fs::unix::{OpenOptionsExt, PermissionsExt};
    ///
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-open-options-mode");
    /// # let _ = bureau::fs::remove_file(&path).await;
    /// let file = bureau::fs::OpenOptions::new()
    ///     .write(true)
    ///     .create_new(true)
    ///     .mode(0o600)
    ///     .open(&path)
    ///     .await?;
    /// assert_eq!(file.metadata().await?.permissions().mode() & 0o077, 0);
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    fn mode(&mut self, mode: u32) -> &mut Self;

    /// Adds flags to those `open(2)` is given (for example `O_NOFOLLOW`);
    /// the access mode bits are ignored, as `read`, `write` and `append`
    /// set those.
    ///
    /// ```
    /// use bureau::fs::unix::OpenOptionsExt;
    ///
    /// # #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    /// # bureau::block_on(async {
    /// const O_NOFOLLOW: i32 = 0o400000; // its value on x86-64 Linux
    /// let link = std::env::temp_dir().join("bureau-doc-custom-flags");
    /// # let _ = bureau::fs::remove_file(&link).await;
    /// bureau::fs::unix::symlink(std::env::current_dir()?.join("Cargo.toml"), &link).await?;
    /// let opened = bureau::fs::OpenOptions::new()
    ///     .read(true)
    ///     .custom_flags(O_NOFOLLOW)
    ///     .open(&link)
    ///     .await;
    /// assert!(opened.is_err(), "O_NOFOLLOW refuses to follow the link");
    /// # bureau::fs::remove_file(&link).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    fn custom_flags(&mut self, flags: i32) -> &mut Self;
}

impl OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }
}
