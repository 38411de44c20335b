//! Child processes, the asynchronous twin of `std::process` (in the shape
//! of async-process): [`Command`] spawns a [`Child`] whose exit and whose
//! piped standard streams are awaited on the loop.
//!
//! A child's exit is watched through its pidfd, registered with the
//! reactor, or where the kernel gives none, through `SIGCHLD` (see
//! `exit.rs` and `sigchld.rs`); its pipes are non-blocking and registered
//! too (see `pipe.rs`); a `Child` dropped while its process runs hands it
//! to a reaper that needs no task (see `orphan.rs`), so no child is left a
//! zombie. This module must never block the loop waiting for a child, and
//! never use the blocking pool: `spawn` itself is the one call that takes
//! its time on the caller's thread (the fork and exec, as in every
//! runtime).

mod exit;
mod orphan;
mod pipe;
mod sigchld;

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;

use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt};

use exit::Process;

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

/// A process to run: the program, its arguments, environment, directory
/// and standard streams, as with [`std::process::Command`]; spawning it
/// gives a [`Child`] to await.
///
/// By default [`spawn`](Command::spawn) and [`status`](Command::status)
/// let the child inherit all three standard streams, and
/// [`output`](Command::output) captures its stdout and stderr and gives it
/// an empty stdin, as std's do.
///
/// ```
/// use bureau::process::Command;
///
/// bureau::block_on(async {
///     let output = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi").output().await?;
///     assert_eq!(output.stdout, b"hi\n");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct Command {
    inner: std::process::Command,
    /// Whether the user chose each stream; `output` fills in only the
    /// others.
    stdin: bool,
    stdout: bool,
    stderr: bool,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no
    /// `/`), with no arguments, this process's environment and directory,
    /// and the default streams.
    ///
    /// ```
    /// let status = bureau::block_on(bureau::process::Command::new("true").status()).unwrap();
    /// assert!(status.success());
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(Command::new("echo").arg("one").arg("two").output()).unwrap();
    /// assert_eq!(output.stdout, b"one two\n");
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(Command::new("echo").args(["one", "two"]).output()).unwrap();
    /// assert_eq!(output.stdout, b"one two\n");
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(
    ///     Command::new("sh").args(["-c", "echo $COLOUR"]).env("COLOUR", "blue").output(),
    /// )
    /// .unwrap();
    /// assert_eq!(output.stdout, b"blue\n");
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Sets environment variables for the child.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(
    ///     Command::new("sh").args(["-c", "echo $A$B"]).envs([("A", "1"), ("B", "2")]).output(),
    /// )
    /// .unwrap();
    /// assert_eq!(output.stdout, b"12\n");
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(
    ///     Command::new("sh")
    ///         .args(["-c", "echo ${GONE-unset}"])
    ///         .env("GONE", "set")
    ///         .env_remove("GONE")
    ///         .output(),
    /// )
    /// .unwrap();
    /// assert_eq!(output.stdout, b"unset\n");
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Clears the child's environment, this process's variables included.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(
    ///     Command::new("/usr/bin/env").env_clear().env("ONLY", "this").output(),
    /// )
    /// .unwrap();
    /// assert_eq!(output.stdout, b"ONLY=this\n");
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory. A relative `program` is found
    /// as the platform finds it (see [`std::process::Command::current_dir`]).
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(Command::new("pwd").current_dir("/").output()).unwrap();
    /// assert_eq!(output.stdout, b"/\n");
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped`] gives
    /// [`Child::stdin`] a [`ChildStdin`].
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    /// let child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
    /// assert!(child.stdin.is_some());
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self.stdin = true;
        self
    }

    /// Sets the child's standard output: [`Stdio::piped`] gives
    /// [`Child::stdout`] a [`ChildStdout`].
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    /// let output = bureau::block_on(Command::new("echo").stdout(Stdio::null()).output()).unwrap();
    /// assert!(output.stdout.is_empty());
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self.stdout = true;
        self
    }

    /// Sets the child's standard error: [`Stdio::piped`] gives
    /// [`Child::stderr`] a [`ChildStderr`].
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    /// let child = Command::new("true").stderr(Stdio::piped()).spawn().unwrap();
    /// assert!(child.stderr.is_some());
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self.stderr = true;
        self
    }

    /// Whether dropping the [`Child`] kills the process (with `SIGKILL`).
    /// Off by default: a dropped child runs on, and is reaped when it
    /// exits. Either way, it is reaped.
    ///
    /// ```
    /// use bureau::process::Command;
    /// bureau::block_on(async {
    ///     let child = Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    ///     drop(child); // killed here, reaped once it is gone
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the process.
    ///
    /// On failure the error keeps std's kind (`NotFound` for a program or a
    /// [`current_dir`](Command::current_dir) that does not exist,
    /// `PermissionDenied` for one that may not run) and its message names
    /// the program, and the directory if one was set.
    ///
    /// Spawning, though quick, waits on this thread for the fork and the
    /// exec, as it does in every runtime. The exit and the pipes are then
    /// awaited on the loop.
    ///
    /// ```
    /// use bureau::process::Command;
    ///
    /// bureau::block_on(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    ///     assert_eq!(child.status().await?.code(), Some(3));
    ///
    ///     let missing = Command::new("no-such-program-here").spawn().unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        #[cfg(not(loom))]
        let child = self.inner.spawn().map_err(|e| self.spawn_error(e))?;
        // Under loom, refused before any process starts.
        #[cfg(loom)]
        let child = Err(bureau_reactor::loom_reactor::unsupported("processes"))?;
        Child::new(child, self.kill_on_drop)
    }

    /// Starts the process now and returns a future of its exit status. The
    /// streams the command did not set are inherited; a piped stdin is
    /// closed at once.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let status = bureau::block_on(Command::new("sh").args(["-c", "exit 3"]).status()).unwrap();
    /// assert_eq!(status.code(), Some(3));
    /// ```
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + use<> {
        let child = self.spawn();
        async move { child?.status().await }
    }

    /// Starts the process now and returns a future of its exit status and
    /// everything it wrote to its stdout and stderr, both read at once. The
    /// streams the command did not set are: stdin empty (`/dev/null`),
    /// stdout and stderr piped. A stream set on a `std::process::Command`
    /// before it was converted (`From`) is one bureau cannot see: `output()`
    /// sets it as above, and afterwards it is back to inheriting. Set the
    /// streams on bureau's `Command` to keep them.
    ///
    /// ```
    /// use bureau::process::Command;
    /// let output = bureau::block_on(
    ///     Command::new("sh").args(["-c", "echo out; echo err >&2"]).output(),
    /// )
    /// .unwrap();
    /// assert!(output.status.success());
    /// assert_eq!((&output.stdout[..], &output.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// ```
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + use<> {
        let (stdin, stdout, stderr) = (self.stdin, self.stdout, self.stderr);
        if !stdin {
            self.inner.stdin(Stdio::null());
        }
        if !stdout {
            self.inner.stdout(Stdio::piped());
        }
        if !stderr {
            self.inner.stderr(Stdio::piped());
        }
        let child = self.spawn();
        // Back to the defaults of `spawn`, as if `output` had set nothing.
        if !stdin {
            self.inner.stdin(Stdio::inherit());
        }
        if !stdout {
            self.inner.stdout(Stdio::inherit());
        }
        if !stderr {
            self.inner.stderr(Stdio::inherit());
        }
        async move { child?.output().await }
    }

    /// `e`, from spawning, with the program (and directory) in its message.
    // (Unused under loom, where nothing is spawned.)
    #[cfg_attr(loom, allow(dead_code))]
    fn spawn_error(&self, e: io::Error) -> io::Error {
        let program = self.inner.get_program();
        let message = match self.inner.get_current_dir() {
            Some(dir) => format!("cannot run {program:?} in directory {dir:?}: {e}"),
            None => format!("cannot run {program:?}: {e}"),
        };
        io::Error::new(e.kind(), message)
    }
}

impl From<std::process::Command> for Command {
    /// Takes a std command as it is. Its streams count as not set, so
    /// [`Command::output`] pipes stdout and stderr unless they are set
    /// again here.
    ///
    /// ```
    /// let mut std_command = std::process::Command::new("echo");
    /// std_command.arg("from std");
    /// let output = bureau::block_on(bureau::process::Command::from(std_command).output()).unwrap();
    /// assert_eq!(output.stdout, b"from std\n");
    /// ```
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            stdin: false,
            stdout: false,
            stderr: false,
            kill_on_drop: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("inner", &self.inner)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

/// A spawned process, from [`Command::spawn`].
///
/// Await its exit with [`status`](Child::status); its piped streams are in
/// the public fields. Dropping a `Child` does not wait for the process: it
/// runs on (unless [`Command::kill_on_drop`] was set) and is reaped when it
/// exits, so it never lingers as a zombie, provided a loop runs (or the
/// reactor's helper thread, started for waits outside any loop).
///
/// ```
/// use bureau::prelude::*;
/// use bureau::process::{Command, Stdio};
///
/// bureau::block_on(async {
///     let mut child = Command::new("tr")
///         .args(["a-z", "A-Z"])
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"shout\n").await?;
///     drop(stdin);
///     let mut out = String::new();
///     child.stdout.as_mut().unwrap().read_to_string(&mut out).await?;
///     assert_eq!(out, "SHOUT\n");
///     assert!(child.status().await?.success());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Child {
    /// The child's standard input, if it was [piped](Stdio::piped) and not
    /// taken yet.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was [piped](Stdio::piped) and not
    /// taken yet.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was [piped](Stdio::piped) and not
    /// taken yet.
    pub stderr: Option<ChildStderr>,
    /// `Some` until `drop` hands it to a reaper.
    process: Option<Process>,
    kill_on_drop: bool,
}

impl Child {
    /// Watches `child` and registers its pipes. If a pipe cannot be
    /// registered, the child (which the caller will never see) is killed
    /// and reaped, and the error returned.
    fn new(mut child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut this = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            process: Some(Process::new(child)),
            kill_on_drop: true,
        };
        this.stdin = stdin.map(ChildStdin::new).transpose()?;
        this.stdout = stdout.map(ChildStdout::new).transpose()?;
        this.stderr = stderr.map(ChildStderr::new).transpose()?;
        this.kill_on_drop = kill_on_drop;
        Ok(this)
    }

    /// The process, present until `drop`.
    fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .expect("bureau: a Child's process is taken only by its drop")
    }

    /// The child's process id.
    ///
    /// ```
    /// let child = bureau::process::Command::new("true").spawn().unwrap();
    /// assert!(child.id() > 0);
    /// ```
    pub fn id(&self) -> u32 {
        self.process.as_ref().map_or(0, |process| process.id())
    }

    /// Waits for the child to exit and returns its status; after that, it
    /// returns the same status at once. Closes [`Child::stdin`] first, so a
    /// child that reads to the end of its input does not wait for more.
    ///
    /// Cancelling the wait (dropping the future) is harmless: the child
    /// runs on and a later call waits again.
    ///
    /// ```
    /// use bureau::process::Command;
    ///
    /// bureau::block_on(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    ///     let status = child.status().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     assert_eq!(child.status().await?, status);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        self.process().wait().await
    }

    /// The exit status if the child has exited (it is then reaped), `None`
    /// if it still runs; never waits.
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    ///
    /// bureau::block_on(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).spawn()?;
    ///     assert_eq!(child.try_status()?, None); // cat waits for its input
    ///     let status = child.status().await?; // closes the input
    ///     assert_eq!(child.try_status()?, Some(status));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process().try_wait()
    }

    /// Waits for the child to exit, reading all of its piped stdout and
    /// stderr at once meanwhile (so a child that fills one pipe while the
    /// other is read cannot stall). Closes [`Child::stdin`] first. A stream
    /// that was not piped, or was taken, comes out empty.
    ///
    /// ```
    /// use bureau::process::{Command, Stdio};
    ///
    /// bureau::block_on(async {
    ///     let child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    ///     let output = child.output().await?;
    ///     assert_eq!(output.stdout, b"hi\n");
    ///     assert!(output.stderr.is_empty()); // not piped
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = future::try_zip(
            read_to_end(self.stdout.take()),
            read_to_end(self.stderr.take()),
        )
        .await?;
        let status = self.status().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Sends the child `SIGKILL`. It does nothing if the child was reaped
    /// already; [`status`](Child::status) then tells how it ended.
    ///
    /// ```
    /// use bureau::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// bureau::block_on(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.kill()?;
    ///     assert_eq!(child.status().await?.signal(), Some(9));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.process().kill()
    }

    /// Sends `signal` to the child (`SIGTERM` to ask it to stop, say),
    /// unless it was reaped already: then it does nothing and returns `Ok`,
    /// since its process id may name another process by now.
    ///
    /// ```
    /// use bureau::process::Command;
    /// use bureau::signal::Signal;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// bureau::block_on(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.signal(Signal::Term)?;
    ///     assert_eq!(child.status().await?.signal(), Some(15));
    ///     child.signal(Signal::Term)?; // reaped: nothing is sent
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn signal(&mut self, signal: crate::signal::Signal) -> io::Result<()> {
        self.process().signal(signal)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        if self.kill_on_drop {
            // Fails only if the child cannot be signalled at all; then it
            // is reaped whenever it ends, like any other.
            let _ = process.kill();
        }
        // `Ok(Some)`: reaped now. `Err`: it cannot be waited for (someone
        // else reaped it). Either way there is nothing left to watch.
        if let Ok(None) = process.try_wait() {
            orphan::adopt(process);
        }
    }
}

/// Everything `pipe` yields until end of file; nothing if there is no
/// pipe.
///
/// It reads through a chunk of its own rather than with `read_to_end`,
/// which zeroes all of the vector's spare capacity again at every
/// `Pending`: for a pipe, whose reads come 64 KiB at a time, that is
/// megabytes of zeroing per read once the output is large.
async fn read_to_end(pipe: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok(bytes);
    };
    let mut chunk = vec![0; CHUNK];
    loop {
        match pipe.read(&mut chunk).await? {
            0 => return Ok(bytes),
            n => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The size of [`read_to_end`]'s reads: a Linux pipe's default capacity,
/// so one read can empty a full pipe.
const CHUNK: usize = 64 << 10;
