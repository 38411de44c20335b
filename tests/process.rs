//! `bureau::process`: exit statuses, pipes that keep the loop running,
//! `output` reading both streams at once, reaping of dropped children,
//! `kill` and `kill_on_drop`, and the errors of bad input.
//!
//! Each test is bounded in time. Where a test must know that a child has
//! exited or was reaped, it asks the kernel through a pidfd of its own
//! (readable at exit; `waitid` on it fails with `ECHILD` once the child is
//! reaped), never by sleeping.

use bureau::future::{self, zip};
use bureau::prelude::*;
use bureau::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use bureau::signal::{Signal, Signals};
use bureau::{Async, Timer, block_on, spawn, timeout};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};
use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;
use common::{bounded, output_within};

/// Set in the child process, which runs the zombie check.
const CHILD: &str = "BUREAU_TEST_PROCESS_CHILD";

/// Printed by that child once no child of its own is left unreaped.
const NO_ZOMBIE: &str = "NO CHILD LEFT UNREAPED";

/// How long a wait for a child's exit or reaping may take before the test
/// fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A pidfd of the test's own on `child`, registered with the reactor: it
/// turns readable when the child exits, whoever reaps it.
fn watch(child: &Child) -> Async<OwnedFd> {
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    Async::new(pidfd_open(pid, PidfdFlags::empty()).unwrap()).unwrap()
}

/// Waits until the child behind `pidfd` has exited.
async fn exited(pidfd: &Async<OwnedFd>) {
    timeout(PATIENCE, pidfd.readable())
        .await
        .expect("the child exited in time")
        .unwrap();
}

/// Waits until the child behind `pidfd` has been reaped (by bureau, since
/// the test never reaps it), polling the kernel on a 1 ms timer.
async fn reaped(pidfd: &Async<OwnedFd>) {
    let deadline = Instant::now() + PATIENCE;
    // `NOWAIT`: only look. `ECHILD`: no such child any more, it was reaped.
    let look = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match waitid(WaitId::PidFd(pidfd.as_fd()), look) {
            Err(Errno::CHILD) => return,
            // Still running (a non-blocking pidfd says `EAGAIN`), or a
            // zombie.
            Ok(_) | Err(Errno::AGAIN) => {}
            Err(e) => panic!("waitid: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the child was not reaped in time"
        );
        Timer::after(Duration::from_millis(1)).await;
    }
}

/// Children of this process that are zombies (exited, not reaped), from
/// `/proc/*/stat`: `pid (comm) state ppid ...`.
fn zombies() -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let mut after_comm = stat.rsplit(") ").next().unwrap_or("").split(' ');
            after_comm.next() == Some("Z") && after_comm.next() == Some(me.as_str())
        })
        .count()
}

#[test]
fn a_child_that_exits_3_gives_status_code_3() {
    let status = bounded(20, || {
        block_on(Command::new("sh").args(["-c", "exit 3"]).status())
    });
    let status = status.unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(!status.success());
}

#[test]
fn ten_mib_through_cat_come_back_byte_exact_while_a_5_ms_timer_keeps_firing() {
    const LEN: usize = 10 << 20;
    let (worst, ticks, took) = bounded(60, || {
        block_on(async {
            // Bytes that differ along the stream, so a lost or repeated
            // chunk shows.
            let data: Rc<Vec<u8>> = Rc::new(
                (0..LEN as u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                    .collect(),
            );
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let mut stdout = cat.stdout.take().unwrap();

            // How late each tick of a 5 ms interval comes, until the copy is
            // done and one more tick has come: a loop blocked by the pipes
            // makes the first tick after the block late.
            let done = Rc::new(Cell::new(false));
            let ticker = spawn({
                let done = done.clone();
                async move {
                    let mut interval = Timer::interval(Duration::from_millis(5));
                    let (mut worst, mut ticks) = (Duration::ZERO, 0u32);
                    while let Some(deadline) = interval.next().await {
                        worst = worst.max(deadline.elapsed());
                        ticks += 1;
                        if done.get() {
                            break;
                        }
                    }
                    (worst, ticks)
                }
            });

            let start = Instant::now();
            let write = {
                let data = data.clone();
                async move {
                    stdin.write_all(&data).await?;
                    drop(stdin); // end of file for cat
                    io::Result::Ok(())
                }
            };
            let read = async move {
                // In chunks: `read_to_end` into a buffer this large would
                // zero its spare capacity again at every `Pending`.
                let (mut back, mut chunk) = (Vec::with_capacity(LEN), vec![0; 64 << 10]);
                loop {
                    match stdout.read(&mut chunk).await? {
                        0 => return io::Result::Ok(back),
                        n => back.extend_from_slice(&chunk[..n]),
                    }
                }
            };
            let (written, back) = zip(write, read).await;
            let took = start.elapsed();
            done.set(true);
            let (worst, ticks) = ticker.await;
            written.unwrap();
            let back = back.unwrap();
            assert!(cat.status().await.unwrap().success());
            // Checked after the ticker ended: comparing 10 MiB holds the
            // loop for a while in a debug build.
            assert_eq!(back.len(), LEN);
            if let Some(at) = back.iter().zip(data.iter()).position(|(a, b)| a != b) {
                panic!("the bytes differ first at offset {at}");
            }
            (worst, ticks, took)
        })
    });
    eprintln!(
        "10 MiB through cat in {took:?} ({:.0} MB/s each way); {ticks} ticks, the latest {worst:?} late",
        LEN as f64 / took.as_secs_f64() / 1e6
    );
    assert!(
        worst <= Duration::from_millis(50),
        "a tick came {worst:?} late"
    );
}

#[test]
fn output_reads_a_mib_of_stderr_and_a_mib_of_stdout_without_deadlock() {
    // The child fills its stderr pipe first: a reader that waited for
    // stdout's end before reading stderr would wait for ever.
    let script =
        "head -c 1048576 /dev/zero | tr '\\0' e >&2; head -c 1048576 /dev/zero | tr '\\0' o";
    let output = bounded(20, move || {
        block_on(Command::new("sh").args(["-c", script]).output())
    });
    let output = output.unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(output.stderr.len(), 1 << 20);
    assert_eq!(output.stdout.len(), 1 << 20);
    assert!(output.stderr.iter().all(|&b| b == b'e'));
    assert!(output.stdout.iter().all(|&b| b == b'o'));
}

#[test]
fn a_thousand_children_spawned_and_dropped_leave_no_zombie() {
    if std::env::var_os(CHILD).is_none() {
        // The check looks at every child of its process, so it runs in a
        // process of its own: this test binary, run again.
        let test = "a_thousand_children_spawned_and_dropped_leave_no_zombie";
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1");
        let output = output_within(60, child);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(NO_ZOMBIE),
            "the child failed ({:?}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    block_on(async {
        for _ in 0..1000 {
            drop(Command::new("true").spawn().unwrap());
        }
        // `NOWAIT`: only look. `ECHILD`: this process has no child at all
        // any more, each was reaped. Anything else: a child still runs or
        // is a zombie; let the loop run a little and look again.
        let look = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match waitid(WaitId::All, look) {
                Err(Errno::CHILD) => break,
                Ok(_) => {}
                Err(e) => panic!("waitid: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "{} zombies left after {PATIENCE:?}",
                zombies()
            );
            Timer::after(Duration::from_millis(1)).await;
        }
    });
    println!("{NO_ZOMBIE}");
}

#[test]
fn a_dropped_child_is_reaped_when_it_exits() {
    bounded(20, || {
        block_on(async {
            let child = Command::new("true").spawn().unwrap();
            let pidfd = watch(&child);
            drop(child);
            reaped(&pidfd).await;
        })
    });
}

#[test]
fn a_child_dropped_outside_any_loop_is_reaped_too() {
    bounded(20, || {
        let child = Command::new("true").spawn().unwrap();
        let pidfd = watch(&child);
        drop(child);
        // Not bureau's loop: the reactor's helper thread drives.
        future::block_on(reaped(&pidfd));
    });
}

#[test]
fn kill_ends_a_sleep_60_and_the_status_says_it_was_killed() {
    let status = bounded(20, || {
        block_on(async {
            let mut child = Command::new("sleep").arg("60").spawn().unwrap();
            child.kill().unwrap();
            child.status().await
        })
    });
    let status = status.unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert_eq!(status.code(), None);
}

#[test]
fn signal_sends_the_signal_and_does_nothing_once_the_child_is_reaped() {
    let status = bounded(20, || {
        block_on(async {
            let mut child = Command::new("sleep").arg("60").spawn().unwrap();
            child.signal(bureau::signal::Signal::Term).unwrap();
            let status = child.status().await;
            // Reaped: its process id is no longer its own to signal.
            child.signal(bureau::signal::Signal::Term).unwrap();
            status
        })
    });
    let status = status.unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

#[test]
fn kill_on_drop_kills_the_child_when_it_is_dropped_and_reaps_it() {
    bounded(20, || {
        block_on(async {
            let child = Command::new("sleep")
                .arg("60")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pidfd = watch(&child);
            drop(child);
            exited(&pidfd).await;
            reaped(&pidfd).await;
        })
    });
}

#[test]
fn without_kill_on_drop_a_dropped_child_runs_on() {
    bounded(20, || {
        block_on(async {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let (mut stdin, mut stdout) =
                (child.stdin.take().unwrap(), child.stdout.take().unwrap());
            let pidfd = watch(&child);
            drop(child);
            // Still running: it echoes what it reads.
            stdin.write_all(b"ping").await.unwrap();
            let mut echo = [0; 4];
            stdout.read_exact(&mut echo).await.unwrap();
            assert_eq!(&echo, b"ping");
            drop(stdin);
            exited(&pidfd).await;
            reaped(&pidfd).await;
        })
    });
}

#[test]
fn a_missing_program_gives_not_found() {
    bounded(20, || {
        let name = "bureau-test-no-such-program";
        let e = Command::new(name).spawn().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains(name), "{e}");
        let e = block_on(Command::new(name).output()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = block_on(Command::new(name).status()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn a_missing_current_dir_gives_an_error_that_names_it() {
    bounded(20, || {
        let dir = "/bureau-test-no-such-directory";
        let e = Command::new("true").current_dir(dir).spawn().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains(dir), "{e}");
    });
}

#[test]
fn try_status_is_none_while_the_child_runs_and_some_after_it_exits() {
    bounded(20, || {
        block_on(async {
            let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
            let pidfd = watch(&child);
            assert_eq!(child.try_status().unwrap(), None);
            drop(child.stdin.take());
            exited(&pidfd).await;
            let status = child.try_status().unwrap().expect("cat has exited");
            assert!(status.success());
            // Reaped by that call, and kept.
            reaped(&pidfd).await;
            assert_eq!(child.try_status().unwrap(), Some(status));
            assert_eq!(child.status().await.unwrap(), status);
        })
    });
}

#[test]
fn a_taken_stdout_leaves_none_and_output_reads_only_the_rest() {
    bounded(20, || {
        block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "echo out; echo err >&2"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = child.stdout.take().unwrap();
            assert!(child.stdout.is_none());
            assert!(child.stdin.is_none(), "stdin was not piped");
            let (output, taken) = zip(child.output(), async move {
                let mut text = String::new();
                stdout.read_to_string(&mut text).await.map(|_| text)
            })
            .await;
            let output = output.unwrap();
            assert!(output.stdout.is_empty());
            assert_eq!(output.stderr, b"err\n");
            assert_eq!(taken.unwrap(), "out\n");
        })
    });
}

#[test]
fn output_leaves_the_command_as_it_was() {
    bounded(20, || {
        block_on(async {
            let mut command = Command::new("sh");
            command
                .args(["-c", "printf %s \"$WORD\""])
                .env("WORD", "again");
            assert_eq!(command.output().await.unwrap().stdout, b"again");
            assert_eq!(command.output().await.unwrap().stdout, b"again");
            // `spawn` after `output`: stdout is inherited again, not piped
            // (and the child prints nothing into the test's output).
            let child = command.env("WORD", "").spawn().unwrap();
            assert!(child.stdout.is_none());
            assert!(child.output().await.unwrap().status.success());
        })
    });
}

/// Whether this process ignores `SIGCHLD` (`SIG_IGN`, under which the
/// kernel reaps children itself and `waitpid` finds none), from the
/// `SigIgn` mask of `/proc/self/status`.
fn sigchld_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .map(|mask| u64::from_str_radix(mask.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (rustix::process::Signal::CHILD.as_raw() - 1)) != 0
}

#[test]
fn a_sigchld_listener_leaves_each_exit_status_to_the_childs_owner() {
    let codes = bounded(20, || {
        block_on(async {
            let mut sigchld = Signals::new([Signal::Child]).unwrap();
            let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
            // This child's, or another test's: either way the listener
            // took a `SIGCHLD`, and the status must still be there.
            timeout(PATIENCE, sigchld.next()).await.unwrap();
            let listened = child.status().await.unwrap().code();
            drop(sigchld);
            // No listener left: `SIGCHLD` does nothing again, and still
            // leaves children to `waitpid`.
            assert!(!sigchld_ignored(), "SIGCHLD is not set to SIG_IGN");
            let after = Command::new("sh").args(["-c", "exit 4"]).status();
            (listened, after.await.unwrap().code())
        })
    });
    assert_eq!(codes, (Some(3), Some(4)));
}

#[test]
fn the_handles_are_send_and_unpin() {
    fn send_unpin<T: Send + Unpin>() {}
    send_unpin::<Child>();
    send_unpin::<ChildStdin>();
    send_unpin::<ChildStdout>();
    send_unpin::<ChildStderr>();
    send_unpin::<Command>();
}
