//! The asynchronous twins of `std::fs`, run on the blocking pool.
//!
//! Each call moves its arguments to a pool thread, makes the `std::fs`
//! call there and hands back its result unchanged, so errors are the
//! `std::io` errors of the underlying call (`NotFound` for a missing file).
//! This module must never make a blocking call on the caller's thread.
//!
//! Under `--cfg loom` files are not available: every call fails at once
//! with `ErrorKind::Unsupported`, and no file is touched.

mod dir_builder;
mod file;
mod read_dir;
#[cfg(unix)]
pub mod unix;

use std::io;
use std::path::{Path, PathBuf};

#[cfg(not(loom))]
use crate::unblock;

/// Under loom, `unblock` for the file calls: the call is refused, never run.
#[cfg(loom)]
fn unblock<T>(_call: impl FnOnce() -> io::Result<T>) -> futures_lite::future::Ready<io::Result<T>> {
    futures_lite::future::ready(Err(bureau_reactor::loom_reactor::unsupported("files")))
}

pub use dir_builder::DirBuilder;
pub use file::{File, OpenOptions};
pub use read_dir::{DirEntry, ReadDir, read_dir};
pub use std::fs::{FileType, Metadata, Permissions};

/// Reads the whole file at `path`.
///
/// ```
/// # bureau::block_on(async {
/// let manifest = bureau::fs::read("Cargo.toml").await?;
/// assert!(manifest.starts_with(b"["));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` as UTF-8 text.
///
/// ```
/// # bureau::block_on(async {
/// let manifest = bureau::fs::read_to_string("Cargo.toml").await?;
/// assert!(manifest.contains("[package]"));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to the file at `path`, creating or truncating it.
///
/// ```
/// # bureau::block_on(async {
/// let path = std::env::temp_dir().join("bureau-doc-write.txt");
/// bureau::fs::write(&path, "hello").await?;
/// assert_eq!(bureau::fs::read_to_string(&path).await?, "hello");
/// # bureau::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    unblock(move || std::fs::write(path, contents)).await
}

/// The metadata of the file at `path`, following symbolic links.
///
/// ```
/// # bureau::block_on(async {
/// assert!(bureau::fs::metadata("Cargo.toml").await?.is_file());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::metadata(path)).await
}

/// The metadata of the file at `path`, not following a symbolic link.
///
/// ```
/// # bureau::block_on(async {
/// assert!(bureau::fs::symlink_metadata("src").await?.is_dir());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::symlink_metadata(path)).await
}

/// Creates the directory `path`; its parent must exist.
///
/// ```
/// # bureau::block_on(async {
/// let dir = std::env::temp_dir().join("bureau-doc-create-dir");
/// # let _ = bureau::fs::remove_dir(&dir).await;
/// bureau::fs::create_dir(&dir).await?;
/// bureau::fs::remove_dir(&dir).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and any missing parents.
///
/// ```
/// # bureau::block_on(async {
/// let top = std::env::temp_dir().join("bureau-doc-create-dir-all");
/// bureau::fs::create_dir_all(top.join("a/b")).await?;
/// bureau::fs::remove_dir_all(&top).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::create_dir_all(path)).await
}

/// Removes the file at `path`.
///
/// ```
/// # bureau::block_on(async {
/// let path = std::env::temp_dir().join("bureau-doc-remove-file");
/// bureau::fs::write(&path, "x").await?;
/// bureau::fs::remove_file(&path).await?;
/// assert!(bureau::fs::metadata(&path).await.is_err());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_file(path)).await
}

/// Removes the empty directory `path`.
///
/// ```
/// # bureau::block_on(async {
/// let dir = std::env::temp_dir().join("bureau-doc-remove-dir");
/// bureau::fs::create_dir_all(&dir).await?;
/// bureau::fs::remove_dir(&dir).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_dir(path)).await
}

/// Removes the directory `path` and everything in it.
///
/// ```
/// # bureau::block_on(async {
/// let dir = std::env::temp_dir().join("bureau-doc-remove-dir-all");
/// bureau::fs::create_dir_all(dir.join("inner")).await?;
/// bureau::fs::write(dir.join("inner/file"), "x").await?;
/// bureau::fs::remove_dir_all(&dir).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_dir_all(path)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file.
///
/// ```
/// # bureau::block_on(async {
/// let dir = std::env::temp_dir();
/// bureau::fs::write(dir.join("bureau-doc-rename-a"), "x").await?;
/// bureau::fs::rename(dir.join("bureau-doc-rename-a"), dir.join("bureau-doc-rename-b")).await?;
/// assert_eq!(bureau::fs::read_to_string(dir.join("bureau-doc-rename-b")).await?, "x");
/// # bureau::fs::remove_file(dir.join("bureau-doc-rename-b")).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    unblock(move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of the file `from` to `to`, and
/// returns the number of bytes copied.
///
/// ```
/// # bureau::block_on(async {
/// let copy = std::env::temp_dir().join("bureau-doc-copy");
/// let len = bureau::fs::copy("Cargo.toml", &copy).await?;
/// assert_eq!(len, bureau::fs::metadata("Cargo.toml").await?.len());
/// # bureau::fs::remove_file(&copy).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    unblock(move || std::fs::copy(from, to)).await
}

/// The absolute form of `path`, with every symbolic link resolved.
///
/// ```
/// # bureau::block_on(async {
/// assert!(bureau::fs::canonicalize(".").await?.is_absolute());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::canonicalize(path)).await
}

/// Makes `dst` a second name (a hard link) for the file `src`; both names
/// then name the same file, and `dst` must not exist.
///
/// ```
/// # bureau::block_on(async {
/// let dir = std::env::temp_dir();
/// let (src, dst) = (dir.join("bureau-doc-hard-link-a"), dir.join("bureau-doc-hard-link-b"));
/// # let _ = bureau::fs::remove_file(&dst).await;
/// bureau::fs::write(&src, "shared").await?;
/// bureau::fs::hard_link(&src, &dst).await?;
/// assert_eq!(bureau::fs::read_to_string(&dst).await?, "shared");
/// # bureau::fs::remove_file(&src).await?;
/// # bureau::fs::remove_file(&dst).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn hard_link(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref().to_owned(), dst.as_ref().to_owned());
    unblock(move || std::fs::hard_link(src, dst)).await
}

/// The path the symbolic link `path` points to, as written in the link
/// (not resolved, and possibly relative).
///
/// ```
/// # bureau::block_on(async {
/// # #[cfg(unix)] {
/// let link = std::env::temp_dir().join("bureau-doc-read-link");
/// # let _ = bureau::fs::remove_file(&link).await;
/// bureau::fs::unix::symlink("somewhere/else", &link).await?;
/// assert_eq!(bureau::fs::read_link(&link).await?, std::path::Path::new("somewhere/else"));
/// # bureau::fs::remove_file(&link).await?;
/// # }
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read_link(path)).await
}

/// Changes the permissions of the file or directory at `path`, following
/// symbolic links.
///
/// ```
/// # bureau::block_on(async {
/// let path = std::env::temp_dir().join("bureau-doc-set-permissions");
/// bureau::fs::write(&path, "x").await?;
/// let mut perm = bureau::fs::metadata(&path).await?.permissions();
/// perm.set_readonly(true);
/// bureau::fs::set_permissions(&path, perm).await?;
/// assert!(bureau::fs::metadata(&path).await?.permissions().readonly());
/// # bureau::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::set_permissions(path, perm)).await
}
