//! `DirBuilder`: how to create a directory, the directory made on the pool.
//!
//! The builder is plain settings; `create` hands them to a pool thread,
//! which builds a `std::fs::DirBuilder` there. This module must never
//! create a directory on the caller's thread.

use std::io;
use std::path::Path;

#[cfg(loom)]
use super::unblock;
#[cfg(not(loom))]
use crate::unblock;

/// How to create a directory: the asynchronous twin of
/// [`std::fs::DirBuilder`].
///
/// ```
/// # bureau::block_on(async {
/// let top = std::env::temp_dir().join("bureau-doc-dir-builder");
/// # let _ = bureau::fs::remove_dir_all(&top).await;
/// bureau::fs::DirBuilder::new().recursive(true).create(top.join("a/b")).await?;
/// assert!(bureau::fs::metadata(top.join("a/b")).await?.is_dir());
/// # bureau::fs::remove_dir_all(&top).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct DirBuilder {
    /// Create missing parents, and succeed if the directory exists.
    recursive: bool,
    /// The new directories' mode, before the umask; `None` for 0o777.
    #[cfg(unix)]
    pub(super) mode: Option<u32>,
}

impl DirBuilder {
    /// A builder that creates one directory, whose parent must exist, with
    /// the default mode (0o777 less the umask on Unix).
    ///
    /// ```
    /// let builder = bureau::fs::DirBuilder::new();
    /// # drop(builder);
    /// ```
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Whether to create missing parents too. When set, creating a
    /// directory that already exists succeeds; when not (the default), it
    /// fails with `AlreadyExists`, and a missing parent with `NotFound`.
    ///
    /// ```
    /// let builder = bureau::fs::DirBuilder::new().recursive(true).clone();
    /// # drop(builder);
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// Creates the directory `path` with these settings.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let orphan = std::env::temp_dir().join("bureau-doc-no-such-parent/child");
    /// let err = bureau::fs::DirBuilder::new().create(&orphan).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (settings, path) = (self.clone(), path.as_ref().to_owned());
        unblock(move || settings.to_std().create(path)).await
    }

    /// The `std` builder with these settings.
    fn to_std(&self) -> std::fs::DirBuilder {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(self.recursive);
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
        }
        builder
    }
}
