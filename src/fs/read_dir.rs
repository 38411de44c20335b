//! `read_dir`: a directory's entries as a `Stream`, read on the pool.
//!
//! A pool thread walks the directory and hands entries over in batches, so
//! a large directory costs few thread hops. This module must never read
//! the directory or an entry's metadata on the caller's thread.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[cfg(loom)]
use super::unblock;
use crate::Unblock;
#[cfg(not(loom))]
use crate::unblock;
use futures_lite::Stream;

use super::{FileType, Metadata};

/// How many entries a pool thread reads ahead of the stream's consumer.
const BATCH: usize = 256;

/// Opens the directory `path` and returns a stream of its entries.
///
/// ```
/// use bureau::prelude::*;
///
/// # bureau::block_on(async {
/// let mut names = Vec::new();
/// let mut entries = bureau::fs::read_dir("src").await?;
/// while let Some(entry) = entries.next().await {
///     names.push(entry?.file_name());
/// }
/// assert!(names.iter().any(|name| name == "lib.rs"));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let entries = unblock(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir(Unblock::with_capacity(BATCH, entries)))
}

/// The entries of a directory, a [`Stream`] of `io::Result<DirEntry>`.
///
/// ```
/// use bureau::prelude::*;
///
/// # bureau::block_on(async {
/// let entries: Vec<_> = bureau::fs::read_dir("src").await?.try_collect().await?;
/// assert!(!entries.is_empty());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct ReadDir(Unblock<std::fs::ReadDir>);

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|entry| entry.map(|entry| entry.map(|entry| DirEntry(Arc::new(entry)))))
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

/// One entry of a directory.
///
/// ```
/// use bureau::prelude::*;
///
/// # bureau::block_on(async {
/// let mut entries = bureau::fs::read_dir("src").await?;
/// let entry = entries.next().await.unwrap()?;
/// assert_eq!(entry.path(), std::path::Path::new("src").join(entry.file_name()));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct DirEntry(pub(super) Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The entry's full path: the directory's path joined with its name.
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let entry = bureau::fs::read_dir("src").await?.next().await.unwrap()?;
    /// assert!(entry.path().starts_with("src"));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name, without its directory.
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let entry = bureau::fs::read_dir("src").await?.next().await.unwrap()?;
    /// assert!(!entry.file_name().is_empty());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's metadata, not following a symbolic link.
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let entry = bureau::fs::read_dir("src").await?.next().await.unwrap()?;
    /// let _ = entry.metadata().await?.len();
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let entry = self.0.clone();
        unblock(move || entry.metadata()).await
    }

    /// The entry's file type, not following a symbolic link.
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let entry = bureau::fs::read_dir("src").await?.next().await.unwrap()?;
    /// let kind = entry.file_type().await?;
    /// assert!(kind.is_file() || kind.is_dir());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn file_type(&self) -> io::Result<FileType> {
        let entry = self.0.clone();
        unblock(move || entry.file_type()).await
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}
