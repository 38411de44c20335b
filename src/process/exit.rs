//! Waiting for a child process to exit without blocking the loop: a pidfd
//! registered with the reactor, readable once the child has exited, or,
//! where the kernel gives no pidfd, a `SIGCHLD` listener (`sigchld.rs`)
//! after whose every arrival the child is asked again.
//!
//! Ground rules: every wait here is `waitpid(pid, WNOHANG)` (through
//! `std::process::Child::try_wait`, which also keeps the status once
//! reaped), so nothing here ever blocks the thread; and only this child's
//! own pid is waited for, never `-1`, so no other child of the process is
//! reaped behind its owner's back. The pid cannot be reused while the
//! child is unreaped, so the pidfd and `kill` always reach this child.
//! Whatever tells of the exit (pidfd, `SIGCHLD` listener) exists before
//! the first `try_wait` that it is to follow up, so an exit between that
//! `try_wait` and the wait is still told.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, pidfd_open};

use super::sigchld::Sigchld;
use crate::{Async, Timer};

/// The first wait of the last resort, in which a short-lived child has
/// often exited already.
const POLL_FIRST: Duration = Duration::from_millis(1);

/// The longest wait of the last resort: how late, at worst, it learns of
/// an exit.
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
    /// No pidfd: ready after each `SIGCHLD`, which may be this child's or
    /// another's, so `try_wait` tells which.
    Sigchld(Sigchld),
    /// No pidfd and no `SIGCHLD` listener: poll `try_wait` when `timer`
    /// fires, every `every`, doubling up to [`POLL_MAX`], and try to
    /// listen again at each firing.
    ///
    /// The last resort, for when [`Sigchld::listen`] fails: the signal
    /// module could not make its eventfd (often the very `EMFILE` that
    /// cost the pidfd), or runs under loom. The child runs already and
    /// must be reaped, orphan or not, and with nothing to tell of its exit
    /// only a timer can ask.
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
    /// `SIGCHLD`, and a failure to listen for that to the timer, which
    /// needs no descriptor.
    pub(super) fn new(child: std::process::Child) -> Process {
        let exit = match open_pidfd(&child) {
            Ok(pidfd) => Exit::Pidfd(pidfd),
            Err(_) => match listen_sigchld() {
                Ok(sigchld) => Exit::Sigchld(sigchld),
                Err(_) => Exit::Poll {
                    timer: Timer::never(),
                    every: POLL_FIRST,
                },
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

    /// Sends `signal`, unless the child was reaped already (then it does
    /// nothing and returns `Ok`): a reaped child's process id may name
    /// another process by now, while an unreaped one's cannot.
    pub(super) fn signal(&mut self, signal: crate::signal::Signal) -> io::Result<()> {
        if matches!(self.exit, Exit::Reaped) {
            return Ok(());
        }
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "bureau: no such process id");
        let pid = i32::try_from(self.id())
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(invalid)?;
        let raw = rustix::process::Signal::from_named_raw(signal.as_raw()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bureau: cannot send {signal}"),
            )
        })?;
        Ok(rustix::process::kill_process(pid, raw)?)
    }

    /// Reaps the child if it has exited, without waiting.
    pub(super) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            // Closes the pidfd (or lets go of the listener, or cancels the
            // timer) as soon as it has told all it can.
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
                // Made before the `try_wait` above, so a `SIGCHLD` of this
                // child's exit comes after it and completes the wait.
                Exit::Sigchld(sigchld) => sigchld.arrival().await,
                Exit::Poll { timer, every } => {
                    timer.set_after(*every);
                    timer.await;
                    *every = (*every * 2).min(POLL_MAX);
                    // Made before the next `try_wait`, as in `new`.
                    if let Ok(sigchld) = listen_sigchld() {
                        self.exit = Exit::Sigchld(sigchld);
                    }
                }
                // `try_wait` above returned the kept status.
                Exit::Reaped => {}
            }
        }
    }
}

/// Listens for `SIGCHLD` on behalf of one child's wait.
fn listen_sigchld() -> io::Result<Sigchld> {
    #[cfg(test)]
    if tests::NO_SIGCHLD.with(std::cell::Cell::get) {
        return Err(io::ErrorKind::Unsupported.into());
    }
    Sigchld::listen()
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
    //! The fallbacks, which this kernel never takes by itself: `SIGCHLD`,
    //! and the timer behind it.

    use super::*;
    use std::cell::Cell;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    thread_local! {
        /// Set: `open_pidfd` fails as on a kernel without `pidfd_open`.
        pub(super) static NO_PIDFD: Cell<bool> = const { Cell::new(false) };
        /// Set: `listen_sigchld` fails as when the signal module cannot
        /// make its eventfd.
        pub(super) static NO_SIGCHLD: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` on a thread whose processes get no pidfd (and no `SIGCHLD`
    /// listener either if `no_sigchld`); fails instead of hanging.
    fn fallback<T: Send + 'static>(no_sigchld: bool, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            NO_PIDFD.with(|no| no.set(true));
            NO_SIGCHLD.with(|no| no.set(no_sigchld));
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("finished within 20 s, without panicking")
    }

    /// `fallback` to `SIGCHLD`.
    fn without_pidfd<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        fallback(false, f)
    }

    /// A process of `sleep 60`, for a test to kill.
    fn sleep_60() -> Process {
        Process::new(Command::new("sleep").arg("60").spawn().unwrap())
    }

    /// The `SIGCHLD` listener of `process`'s wait, if it has one.
    fn listener(process: &Process) -> Option<&Sigchld> {
        match &process.exit {
            Exit::Sigchld(sigchld) => Some(sigchld),
            _ => None,
        }
    }

    #[test]
    fn without_a_pidfd_the_exit_status_arrives_through_sigchld() {
        let status = without_pidfd(|| {
            let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
            let mut process = Process::new(child);
            assert!(listener(&process).is_some(), "{process:?}");
            crate::block_on(process.wait()).unwrap()
        });
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn without_a_pidfd_an_exit_is_noticed_at_once_through_sigchld() {
        // A wait that polls with a period above this fails the test; a
        // signal takes far less, even on a loaded machine.
        const PROMPTLY: Duration = Duration::from_secs(2);
        let (status, took) = without_pidfd(|| {
            let mut process = sleep_60();
            crate::block_on(async {
                let waited = crate::timeout(Duration::from_millis(50), process.wait()).await;
                assert!(waited.is_err(), "sleep 60 has not exited");
                // No timer is armed: only a `SIGCHLD` can end this wait
                // before the timeout does.
                assert!(listener(&process).is_some(), "{process:?}");
                process.kill().unwrap();
                let killed = std::time::Instant::now();
                let status = crate::timeout(PROMPTLY * 5, process.wait()).await;
                (status, killed.elapsed())
            })
        });
        assert!(took < PROMPTLY, "the exit was noticed after {took:?}");
        let status = status.expect("the exit was noticed").unwrap();
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }

    #[test]
    fn waits_without_a_pidfd_share_one_listener_and_each_sees_its_own_exit() {
        let (codes, shared) = without_pidfd(|| {
            let mut processes: Vec<Process> = (0..8)
                .map(|code| {
                    let exit = format!("exit {code}");
                    Process::new(Command::new("sh").args(["-c", &exit]).spawn().unwrap())
                })
                .collect();
            let listeners: Vec<&Sigchld> = processes.iter().filter_map(listener).collect();
            let shared = listeners.len() == processes.len()
                && listeners
                    .windows(2)
                    .all(|w| w[0].shares_listener_with(w[1]));
            // All wait at once: exits close together may raise one
            // `SIGCHLD`, which must send every wait back to `try_wait`.
            let codes = crate::block_on(async {
                let waits: Vec<_> = processes
                    .drain(..)
                    .map(|mut p| crate::spawn(async move { p.wait().await }))
                    .collect();
                let mut codes = Vec::new();
                for wait in waits {
                    codes.push(wait.await.unwrap().code());
                }
                codes
            });
            (codes, shared)
        });
        assert!(shared, "every fallback wait shares one SIGCHLD listener");
        assert_eq!(codes, (0..8).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn without_a_pidfd_or_a_sigchld_listener_a_timer_backs_off_until_it_can_listen() {
        let every = fallback(true, || {
            let mut process = sleep_60();
            assert!(matches!(process.exit, Exit::Poll { .. }), "{process:?}");
            crate::block_on(async {
                let waited = crate::timeout(Duration::from_millis(200), process.wait()).await;
                assert!(waited.is_err(), "sleep 60 has not exited");
                let Exit::Poll { every, .. } = process.exit else {
                    panic!("not the timer: {:?}", process.exit)
                };
                // Once a listener can be made, the next firing takes it
                // (`fallback` bounds the loop).
                NO_SIGCHLD.with(|no| no.set(false));
                while let Exit::Poll { .. } = process.exit {
                    let waited = crate::timeout(POLL_MAX, process.wait()).await;
                    assert!(waited.is_err(), "sleep 60 has not exited");
                }
                assert!(listener(&process).is_some(), "{process:?}");
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
