//! `File` and `OpenOptions`: an open file used asynchronously, its reads,
//! writes and seeks made on the pool.
//!
//! A `File` reads ahead and buffers writes through `Unblock`, and keeps the
//! file position where the caller expects it when it switches from reading
//! to writing. This module must never make a blocking call on the caller's
//! thread.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

#[cfg(loom)]
use super::unblock;
use crate::Unblock;
#[cfg(not(loom))]
use crate::unblock;
use futures_lite::future::poll_fn;
use futures_lite::{AsyncRead, AsyncSeek, AsyncWrite};

use super::{Metadata, Permissions};

/// An open file: [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`].
///
/// Writes are buffered: flush (or close) the file to see a write error;
/// bytes written and not flushed still reach the file after a drop.
///
/// ```
/// use bureau::prelude::*;
///
/// # bureau::block_on(async {
/// let path = std::env::temp_dir().join("bureau-doc-file");
/// let mut file = bureau::fs::File::create(&path).await?;
/// file.write_all(b"hello").await?;
/// file.flush().await?;
///
/// let mut text = String::new();
/// bureau::fs::File::open(&path).await?.read_to_string(&mut text).await?;
/// assert_eq!(text, "hello");
/// # bureau::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct File {
    /// The file itself, for the calls that need no position.
    file: Arc<std::fs::File>,
    /// Reads, writes and seeks, made on the pool.
    io: Unblock<SharedFile>,
    /// The last operation was a read, so the file's own position may be
    /// past what the caller has read.
    reading: bool,
}

/// A handle to the same open file that the pool's jobs can own.
struct SharedFile(Arc<std::fs::File>);

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self.0).seek(pos)
    }
}

impl File {
    /// Opens the file at `path` for reading.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let err = bureau::fs::File::open("/no/such/file").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        unblock(move || std::fs::File::open(path))
            .await
            .map(File::from)
    }

    /// Opens the file at `path` for writing, creating it or truncating it.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-file-create");
    /// let file = bureau::fs::File::create(&path).await?;
    /// assert_eq!(file.metadata().await?.len(), 0);
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        unblock(move || std::fs::File::create(path))
            .await
            .map(File::from)
    }

    /// Flushes what was written and waits until the data and metadata are
    /// on the disk.
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-file-sync-all");
    /// let mut file = bureau::fs::File::create(&path).await?;
    /// file.write_all(b"kept").await?;
    /// file.sync_all().await?;
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.flush_buffer().await?;
        let file = self.file.clone();
        unblock(move || file.sync_all()).await
    }

    /// Flushes what was written and waits until the data is on the disk
    /// (metadata such as the modification time may not be).
    ///
    /// ```
    /// use bureau::prelude::*;
    ///
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-file-sync-data");
    /// let mut file = bureau::fs::File::create(&path).await?;
    /// file.write_all(b"kept").await?;
    /// file.sync_data().await?;
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.flush_buffer().await?;
        let file = self.file.clone();
        unblock(move || file.sync_data()).await
    }

    /// Flushes what was written, then truncates or extends the file to
    /// `size` bytes. The position does not change.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-file-set-len");
    /// let mut file = bureau::fs::File::create(&path).await?;
    /// file.set_len(10).await?;
    /// assert_eq!(file.metadata().await?.len(), 10);
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.flush_buffer().await?;
        let file = self.file.clone();
        unblock(move || file.set_len(size)).await
    }

    /// Flushes what was written, then changes the file's permissions.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let path = std::env::temp_dir().join("bureau-doc-file-set-permissions");
    /// let mut file = bureau::fs::File::create(&path).await?;
    /// let mut perm = file.metadata().await?.permissions();
    /// perm.set_readonly(true);
    /// file.set_permissions(perm).await?;
    /// assert!(file.metadata().await?.permissions().readonly());
    /// # bureau::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn set_permissions(&mut self, perm: Permissions) -> io::Result<()> {
        self.flush_buffer().await?;
        let file = self.file.clone();
        unblock(move || file.set_permissions(perm)).await
    }

    /// The file's metadata. Bytes written and not yet flushed may not be
    /// counted in its length.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let file = bureau::fs::File::open("Cargo.toml").await?;
    /// assert!(file.metadata().await?.len() > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let file = self.file.clone();
        unblock(move || file.metadata()).await
    }

    async fn flush_buffer(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut self.io).poll_flush(cx)).await
    }
}

impl From<std::fs::File> for File {
    /// Wraps a file opened with `std`.
    ///
    /// ```
    /// let file = bureau::fs::File::from(std::fs::File::open("Cargo.toml").unwrap());
    /// # drop(file);
    /// ```
    fn from(file: std::fs::File) -> File {
        let file = Arc::new(file);
        File {
            io: Unblock::new(SharedFile(file.clone())),
            file,
            reading: false,
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.file).finish()
    }
}

impl AsyncRead for File {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.reading = true;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.reading {
            // Put the file's position back to where the caller stopped
            // reading, so the write lands there and not after the read-ahead.
            ready!(Pin::new(&mut self.io).poll_seek(cx, SeekFrom::Current(0)))?;
            self.reading = false;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let position = ready!(Pin::new(&mut self.io).poll_seek(cx, pos))?;
        self.reading = false;
        Poll::Ready(Ok(position))
    }
}

/// How to open a file: the asynchronous twin of [`std::fs::OpenOptions`].
///
/// ```
/// # bureau::block_on(async {
/// let path = std::env::temp_dir().join("bureau-doc-open-options");
/// # let _ = bureau::fs::remove_file(&path).await;
/// let file = bureau::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
/// # drop(file);
/// let again = bureau::fs::OpenOptions::new().write(true).create_new(true).open(&path).await;
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # bureau::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(pub(super) std::fs::OpenOptions);

impl OpenOptions {
    /// Options with every flag off: set at least `read`, `write` or `append`.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let file = bureau::fs::OpenOptions::new().read(true).open("Cargo.toml").await?;
    /// # drop(file);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Opens for reading.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().read(true).clone();
    /// # drop(options);
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Opens for writing.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().write(true).clone();
    /// # drop(options);
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Opens for appending: every write goes to the end of the file.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().append(true).clone();
    /// # drop(options);
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncates the file to zero length when it is opened for writing.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().write(true).truncate(true).clone();
    /// # drop(options);
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().write(true).create(true).clone();
    /// # drop(options);
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Creates the file, failing with `AlreadyExists` if it exists.
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::new().write(true).create_new(true).clone();
    /// # drop(options);
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens the file at `path` with these options.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// let err = bureau::fs::OpenOptions::new().read(true).open("/no/such/file").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path) = (self.0.clone(), path.as_ref().to_owned());
        unblock(move || options.open(path)).await.map(File::from)
    }
}

impl Default for OpenOptions {
    /// The same as [`OpenOptions::new`].
    ///
    /// ```
    /// let options = bureau::fs::OpenOptions::default();
    /// # drop(options);
    /// ```
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}
