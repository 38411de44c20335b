//! Waiting for a child process to exit without blocking the loop: a pidfd
//! registered with the reactor, readable once the child has exited, or,
//! where the kernel gives no pidfd, a timer that asks again with backoff.
//!
//! Ground rules: every wait here is `waitpid(pid, WNOHANG)` (through
//! `std::process::Child::try_wait`, which also keeps the status once
//! reaped), so nothing here ever blocks the thread; and only this child's
//! own pid is waited for, never `-1`, so no other child of the process is
//! reaped behind its owner's back. The pid cannot be reused while the
//! child is unreaped, so the pidfd and `kill` always reach this child.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::{Async, Timer};

/// The first wait of the fallback, in which a short-lived child has often
/// exited already.
const POLL_FIRST: Duration = Duration::from_millis(1);

/// The longest wait of the fallback: how late, at worst, it learns of an
/// exit.
const POLL_MAX: Duration = Duration::from_millis(100);

/// A spawned child (its standard streams taken out) and what tells of its
/// exit.
#[derive(Debug)]
pub(super) struct Process {
    child: std::process::Child,
    exit: Exit,
}

/// What wakes a wait for the exit.
#[derive(Debug)]
enum Exit {
    /// A pidfd (Linux 5.3 and later): readable once the child has exited.
    Pidfd(Async<OwnedFd>),
    /// No pidfd: poll `try_wait` when `timer` fires, every `every`,
    /// doubling up to [`POLL_MAX`].
    ///
    /// Without a pidfd, nothing the reactor can watch tells of a child's
    /// exit except `SIGCHLD`, whose handler is process-wide and belongs
    /// to a signal module; a thread blocked in `waitpid` would cost a
    /// thread per child. A `WNOHANG` poll costs one system call per
    /// firing, and its news is late by at most the current period.
    Poll { timer: Timer, every: Duration },
    /// Reaped: the status is kept by `child`, nothing is watched.
    Reaped,
}

impl Process {
    /// Watches `child`, whose standard streams were taken out already.
    ///
    /// It never fails: the child runs already, so a failure to open or
    /// register its pidfd (`ENOSYS` before Linux 5.3 or under a seccomp
    /// filter that does not know the call, `EPERM` under one that forbids
    /// it, `EMFILE` when the process is out of descriptors) falls back to
    /// the timer, which needs no descriptor.
    pub(super) fn new(child: std::process::Child) -> Process {
        let exit = match open_pidfd(&child) {
            Ok(pidfd) => Exit::Pidfd(pidfd),
            Err(_) => Exit::Poll {
                timer: Timer::never(),
                every: POLL_FIRST,
            },
        };
        Process { child, exit }
    }

    /// The child's process id.
    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIGKILL`, unless the child was reaped already (then it does
    /// nothing and returns `Ok`).
    pub(super) fn kill(&mut self) -> io::Result<()> {
        self.child.kill()
    }

    /// Reaps the child if it has exited, without waiting.
    pub(super) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            // Closes the pidfd (or cancels the timer) as soon as it has
            // told all it can.
            self.exit = Exit::Reaped;
        }
        Ok(status)
    }

    /// Waits for the child to exit and reaps it. Cancelling the wait loses
    /// nothing: a later call takes it up again.
    pub(super) async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            match &mut self.exit {
                // The child has not been reaped (above), so its pidfd turns
                // readable exactly when it has exited.
                Exit::Pidfd(pidfd) => pidfd.readable().await?,
                Exit::Poll { timer, every } => {
                    timer.set_after(*every);
                    timer.await;
                    *every = (*every * 2).min(POLL_MAX);
                }
                // `try_wait` above returned the kept status.
                Exit::Reaped => {}
            }
        }
    }
}

/// Opens `child`'s pidfd and registers it with the reactor.
fn open_pidfd(child: &std::process::Child) -> io::Result<Async<OwnedFd>> {
    #[cfg(test)]
    if tests::NO_PIDFD.with(std::cell::Cell::get) {
        return Err(io::Error::from_raw_os_error(
            rustix::io::Errno::NOSYS.raw_os_error(),
        ));
    }
    // No `PIDFD_NONBLOCK`: Linux before 5.10 refuses the flag, and
    // `Async::new` makes the descriptor non-blocking anyway. A pidfd is
    // always close-on-exec.
    let pidfd = pidfd_open(Pid::from_child(child), PidfdFlags::empty())?;
    Async::new(pidfd)
}

#[cfg(test)]
mod tests {
    //! The fallback, which this kernel never takes by itself.

    use super::*;
    use std::cell::Cell;
    use std::process::Command;

    thread_local! {
        /// Set: `open_pidfd` fails as on a kernel without `pidfd_open`.
        pub(super) static NO_PIDFD: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` on a thread whose processes get no pidfd; fails instead of
    /// hanging.
    fn without_pidfd<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            NO_PIDFD.with(|no| no.set(true));
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("finished within 20 s, without panicking")
    }

    #[test]
    fn without_a_pidfd_the_exit_status_still_arrives() {
        let status = without_pidfd(|| {
            let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
            let mut process = Process::new(child);
            assert!(matches!(process.exit, Exit::Poll { .. }));
            crate::block_on(process.wait()).unwrap()
        });
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn without_a_pidfd_the_wait_backs_off() {
        let every = without_pidfd(|| {
            let child = Command::new("sleep").arg("60").spawn().unwrap();
            let mut process = Process::new(child);
            crate::block_on(async {
                let waited = crate::timeout(Duration::from_millis(200), process.wait()).await;
                assert!(waited.is_err(), "sleep 60 has not exited");
                let Exit::Poll { every, .. } = process.exit else {
                    panic!("not the fallback: {:?}", process.exit)
                };
                process.kill().unwrap();
                process.wait().await.unwrap();
                every
            })
        });
        // The first wait (1 ms) ended well within 200 ms, and doubled the
        // next; the cap holds however many followed.
        assert!(every > POLL_FIRST && every <= POLL_MAX, "{every:?}");
    }

    #[test]
    fn without_a_pidfd_a_dropped_child_is_still_reaped() {
        without_pidfd(|| {
            let child = crate::process::Command::new("true").spawn().unwrap();
            let stat = format!("/proc/{}/stat", child.id());
            drop(child);
            crate::block_on(async {
                // Until it is reaped, the child (a zombie, once it exits)
                // keeps its /proc entry, whose fourth field is its parent.
                let parent = std::process::id().to_string();
                while std::fs::read_to_string(&stat).is_ok_and(|s| {
                    s.rsplit(") ").next().and_then(|s| s.split(' ').nth(1)) == Some(&parent)
                }) {
                    crate::Timer::after(POLL_FIRST).await;
                }
            });
        });
    }
}
