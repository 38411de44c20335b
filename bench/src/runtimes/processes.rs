//! The runtimes' child processes behind one trait: bureau's
//! `bureau::process`, smol's `async-process`, tokio's `tokio::process`.
//!
//! Every impl takes a `std::process::Command` for the program and its
//! arguments, sets the streams on its runtime's own command (async-process
//! forgets those set on the std one), and moves bytes with its runtime's
//! own pipe types; none may add a buffer or a copy of its own.

use std::future::Future;
use std::io;
use std::process::{Command, ExitStatus, Output, Stdio};

use super::{Bureau, Smol, TokioLocal, TokioSpawn};

/// Child processes, seen by a workload. Every call is made inside
/// [`super::Runtime::block_on`].
pub trait Processes {
    /// A running child, its stdin and stdout taken.
    type Child: Send + 'static;
    /// The write end of a child's stdin.
    type Stdin: Send + 'static;
    /// The read end of a child's stdout.
    type Stdout: Send + 'static;

    /// Spawns `command` with its stdin and stdout piped, and takes both
    /// pipes.
    fn spawn_piped(command: Command) -> io::Result<(Self::Child, Self::Stdin, Self::Stdout)>;

    /// Writes all of `buf` into the child's stdin.
    fn write_stdin<'a>(
        stdin: &'a mut Self::Stdin,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    /// Reads into `buf` what the child's stdout holds, waiting until it
    /// holds something; 0 at end of file.
    fn read_stdout<'a>(
        stdout: &'a mut Self::Stdout,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Waits for the child to exit.
    fn wait(child: Self::Child) -> impl Future<Output = io::Result<ExitStatus>> + Send;

    /// Runs `command`, its stdin empty, through the runtime's own
    /// `output()`: its exit status and everything it wrote to its stdout
    /// and stderr, both piped.
    fn output(command: Command) -> impl Future<Output = io::Result<Output>> + Send;
}

/// The pipes a child was spawned with; an error if one is missing.
fn taken<I, O>(stdin: Option<I>, stdout: Option<O>) -> io::Result<(I, O)> {
    stdin
        .zip(stdout)
        .ok_or_else(|| io::Error::other("bench: a child's pipes were not piped"))
}

impl Processes for Bureau {
    type Child = bureau::process::Child;
    type Stdin = bureau::process::ChildStdin;
    type Stdout = bureau::process::ChildStdout;

    fn spawn_piped(command: Command) -> io::Result<(Self::Child, Self::Stdin, Self::Stdout)> {
        let mut child = bureau::process::Command::from(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (stdin, stdout) = taken(child.stdin.take(), child.stdout.take())?;
        Ok((child, stdin, stdout))
    }

    fn write_stdin<'a>(
        stdin: &'a mut Self::Stdin,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stdin, buf)
    }

    fn read_stdout<'a>(
        stdout: &'a mut Self::Stdout,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stdout, buf)
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.status().await
    }

    fn output(command: Command) -> impl Future<Output = io::Result<Output>> + Send {
        bureau::process::Command::from(command)
            .stdin(Stdio::null())
            .output()
    }
}

impl Processes for Smol {
    type Child = async_process::Child;
    type Stdin = async_process::ChildStdin;
    type Stdout = async_process::ChildStdout;

    fn spawn_piped(command: Command) -> io::Result<(Self::Child, Self::Stdin, Self::Stdout)> {
        let mut child = async_process::Command::from(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (stdin, stdout) = taken(child.stdin.take(), child.stdout.take())?;
        Ok((child, stdin, stdout))
    }

    fn write_stdin<'a>(
        stdin: &'a mut Self::Stdin,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stdin, buf)
    }

    fn read_stdout<'a>(
        stdout: &'a mut Self::Stdout,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stdout, buf)
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.status().await
    }

    fn output(command: Command) -> impl Future<Output = io::Result<Output>> + Send {
        async_process::Command::from(command)
            .stdin(Stdio::null())
            .output()
    }
}

/// tokio's two ways of spawning run children the same way.
trait Tokio {}

impl Tokio for TokioLocal {}
impl Tokio for TokioSpawn {}

impl<T: Tokio> Processes for T {
    type Child = tokio::process::Child;
    type Stdin = tokio::process::ChildStdin;
    type Stdout = tokio::process::ChildStdout;

    fn spawn_piped(command: Command) -> io::Result<(Self::Child, Self::Stdin, Self::Stdout)> {
        tokio_spawn_piped(command)
    }

    fn write_stdin<'a>(
        stdin: &'a mut Self::Stdin,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(stdin, buf)
    }

    fn read_stdout<'a>(
        stdout: &'a mut Self::Stdout,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(stdout, buf)
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.wait().await
    }

    fn output(command: Command) -> impl Future<Output = io::Result<Output>> + Send {
        tokio::process::Command::from(command)
            .stdin(Stdio::null())
            .output()
    }
}

/// tokio's `spawn_piped`, the same for both ways of spawning tasks.
fn tokio_spawn_piped(
    command: Command,
) -> io::Result<(
    tokio::process::Child,
    tokio::process::ChildStdin,
    tokio::process::ChildStdout,
)> {
    let mut child = tokio::process::Command::from(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let (stdin, stdout) = taken(child.stdin.take(), child.stdout.take())?;
    Ok((child, stdin, stdout))
}
