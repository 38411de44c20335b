//! `ChildStdin`, `ChildStdout` and `ChildStderr`: this process's ends of
//! the pipes `Command::spawn` made for a child, non-blocking and
//! registered with the reactor, so reading and writing them wait on the
//! loop like a socket.
//!
//! Making an end non-blocking is safe only because it is this process's
//! alone: the child holds the other end of the pipe, a different open file,
//! whose mode does not change. So these types must never wrap a descriptor
//! the user handed in (a `Stdio::from(file)` gives no handle here), and
//! must never do I/O on the blocking pool. [`ChildStdin::into_stdio`] and
//! its twins put the end back into blocking mode before it is handed on.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};

use crate::Async;

/// The write end of a child's standard input, from [`Child::stdin`] when
/// it was spawned with [`Stdio::piped`]. Drop it (or pass it to
/// [`Child::status`], which drops it) to close the pipe: the child then
/// reads end of file.
///
/// [`Child::stdin`]: super::Child::stdin
/// [`Child::status`]: super::Child::status
///
/// ```
/// use bureau::prelude::*;
/// use bureau::process::{Command, Stdio};
///
/// bureau::block_on(async {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"through cat").await?;
///     drop(stdin);
///     let output = child.output().await?;
///     assert_eq!(output.stdout, b"through cat");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStdin(Async<std::process::ChildStdin>);

/// The read end of a child's standard output, from [`Child::stdout`] when
/// it was spawned with [`Stdio::piped`].
///
/// [`Child::stdout`]: super::Child::stdout
///
/// ```
/// use bureau::prelude::*;
/// use bureau::process::{Command, Stdio};
///
/// bureau::block_on(async {
///     let mut child = Command::new("echo").arg("hello").stdout(Stdio::piped()).spawn()?;
///     let mut line = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut line).await?;
///     assert_eq!(line, "hello\n");
///     assert!(child.status().await?.success());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStdout(Async<std::process::ChildStdout>);

/// The read end of a child's standard error, from [`Child::stderr`] when
/// it was spawned with [`Stdio::piped`].
///
/// [`Child::stderr`]: super::Child::stderr
///
/// ```
/// use bureau::prelude::*;
/// use bureau::process::{Command, Stdio};
///
/// bureau::block_on(async {
///     let mut child = Command::new("sh")
///         .args(["-c", "echo oops >&2"])
///         .stderr(Stdio::piped())
///         .spawn()?;
///     let mut text = String::new();
///     child.stderr.take().unwrap().read_to_string(&mut text).await?;
///     assert_eq!(text, "oops\n");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStderr(Async<std::process::ChildStderr>);

impl ChildStdin {
    /// Registers `pipe`, an end that `Command::spawn` created.
    pub(super) fn new(pipe: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Async::new(pipe).map(ChildStdin)
    }

    /// Gives the pipe back as a [`Stdio`] (in blocking mode again), to hand
    /// to another child's [`Command::stdin`](super::Command::stdin) or the
    /// like.
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    ///
    /// bureau::block_on(async {
    ///     // `cat` writes into the pipe whose other end is `first`'s stdin.
    ///     let mut first = Command::new("cat")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     let stdin = first.stdin.take().unwrap().into_stdio().await?;
    ///     let second = Command::new("echo").arg("piped").stdout(stdin).status().await?;
    ///     assert!(second.success());
    ///     let output = first.output().await?;
    ///     assert_eq!(output.stdout, b"piped\n");
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn into_stdio(self) -> io::Result<Stdio> {
        into_stdio(self.0)
    }
}

impl ChildStdout {
    /// Registers `pipe`, an end that `Command::spawn` created.
    pub(super) fn new(pipe: std::process::ChildStdout) -> io::Result<ChildStdout> {
        Async::new(pipe).map(ChildStdout)
    }

    /// Gives the pipe back as a [`Stdio`] (in blocking mode again), to hand
    /// to another child's [`Command::stdin`](super::Command::stdin) or the
    /// like.
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    ///
    /// bureau::block_on(async {
    ///     let mut echo = Command::new("echo").arg("a b c").stdout(Stdio::piped()).spawn()?;
    ///     let pipe = echo.stdout.take().unwrap().into_stdio().await?;
    ///     let words = Command::new("wc").arg("-w").stdin(pipe).output().await?;
    ///     assert_eq!(String::from_utf8_lossy(&words.stdout).trim(), "3");
    ///     assert!(echo.status().await?.success());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn into_stdio(self) -> io::Result<Stdio> {
        into_stdio(self.0)
    }
}

impl ChildStderr {
    /// Registers `pipe`, an end that `Command::spawn` created.
    pub(super) fn new(pipe: std::process::ChildStderr) -> io::Result<ChildStderr> {
        Async::new(pipe).map(ChildStderr)
    }

    /// Gives the pipe back as a [`Stdio`] (in blocking mode again), to hand
    /// to another child's [`Command::stdin`](super::Command::stdin) or the
    /// like.
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    ///
    /// bureau::block_on(async {
    ///     let mut noisy = Command::new("sh")
    ///         .args(["-c", "echo complaint >&2"])
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     let pipe = noisy.stderr.take().unwrap().into_stdio().await?;
    ///     let upper = Command::new("tr").args(["a-z", "A-Z"]).stdin(pipe).output().await?;
    ///     assert_eq!(upper.stdout, b"COMPLAINT\n");
    ///     assert!(noisy.status().await?.success());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn into_stdio(self) -> io::Result<Stdio> {
        into_stdio(self.0)
    }
}

/// Deregisters `pipe` and turns it back to blocking mode, which the next
/// process to hold it expects.
fn into_stdio<T: AsFd + Into<Stdio>>(pipe: Async<T>) -> io::Result<Stdio> {
    let pipe = pipe.into_inner()?;
    rustix::io::ioctl_fionbio(pipe.as_fd(), false)?;
    Ok(pipe.into())
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    /// Flushes (a pipe holds nothing back); the pipe closes when the
    /// handle is dropped.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// `AsyncRead` for a child's output pipe: reads go to its `Async` pipe.
macro_rules! read_through_pipe {
    ($($pipe:ty),*) => {$(
        impl AsyncRead for $pipe {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.0).poll_read(cx, buf)
            }
        }
    )*};
}

read_through_pipe!(ChildStdout, ChildStderr);

impl AsFd for ChildStdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsFd for ChildStdout {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsFd for ChildStderr {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for ChildStdin {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl AsRawFd for ChildStdout {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl AsRawFd for ChildStderr {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}
