//! `bureau::signal` as a service uses it: a signal sent to the process
//! comes out of every `Signals` that listens for it, even to a loop asleep
//! in epoll; while something listens the default action does not happen,
//! and once nothing does it is back; `ctrl_c()` completes at `SIGINT`; no
//! descriptor of the signal machinery leaks into a child.
//!
//! Signals are process-wide. The tests that signal this test process hold
//! [`SELF_SIGNALLED`], so that no other test's listener is about when they
//! signal; the cases whose signal may end the process run in a child
//! process (this test binary run again with [`CHILD`] set), so a
//! regression fails the test instead of killing the test runner.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::prelude::*;
use bureau::signal::{Signal, Signals, ctrl_c};
use futures_lite::future;
use rustix::process::{Pid, Signal as RawSignal, getpid, kill_process};

mod common;
use common::{bounded, output_within};

/// Set in the child process, to the name of the case it runs.
const CHILD: &str = "BUREAU_TEST_SIGNAL_CHILD";

/// Held by every test that signals this test process.
static SELF_SIGNALLED: Mutex<()> = Mutex::new(());

/// Takes [`SELF_SIGNALLED`] (a test that failed while holding it leaves it
/// usable).
fn self_signalled() -> MutexGuard<'static, ()> {
    SELF_SIGNALLED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Sends `signal` to this process.
fn send(signal: RawSignal) {
    kill_process(getpid(), signal).unwrap();
}

/// The case the child was started for, if this is the child.
fn child_case() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// This test binary, set up to run `test` alone as the child case `case`,
/// printing what it prints.
fn child(test: &str, case: &str) -> Command {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, case);
    child
}

#[test]
fn an_invalid_raw_number_gives_none() {
    for raw in [0, -1, 32, 65, 1000, i32::MAX, i32::MIN] {
        assert_eq!(Signal::from_raw(raw), None, "{raw}");
    }
    // SIGKILL, SIGSTOP and the fault signals (SIGILL, SIGBUS, SIGFPE,
    // SIGSEGV) cannot be listened for, so they are no `Signal`.
    for raw in [9, 19, 4, 7, 8, 11] {
        assert_eq!(Signal::from_raw(raw), None, "{raw}");
    }
    let named = [
        Signal::Int,
        Signal::Term,
        Signal::Hup,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Child,
        Signal::Pipe,
        Signal::Winch,
        Signal::Alrm,
    ];
    for signal in named {
        assert_eq!(Signal::from_raw(signal.as_raw()), Some(signal));
    }
    for raw in 1..=64 {
        if let Some(signal) = Signal::from_raw(raw) {
            assert_eq!(signal.as_raw(), raw);
        }
    }
    assert_eq!(Signal::Int.as_raw(), 2);
    assert_eq!(Signal::Term.as_raw(), 15);
}

#[test]
fn a_signal_sent_to_the_process_comes_out_of_a_signals_stream() {
    let _alone = self_signalled();
    let got = bounded(20, || {
        let mut signals = Signals::new([Signal::Usr1]).unwrap();
        send(RawSignal::USR1);
        bureau::block_on(signals.next())
    });
    assert_eq!(got, Some(Signal::Usr1));
}

#[test]
fn two_listeners_of_one_signal_each_see_every_arrival() {
    let _alone = self_signalled();
    bounded(20, || {
        let first = Signals::new([Signal::Usr1]).unwrap();
        let second = Signals::new([Signal::Usr2, Signal::Usr1]).unwrap();
        let mut other = Signals::new([Signal::Usr2]).unwrap();
        bureau::block_on(async {
            let mut listeners = vec![first, second];
            for round in 0..2 {
                // Each listener waits in a task of its own, so each must be
                // woken by the arrival itself.
                let waiting = Rc::new(Cell::new(0));
                let tasks: Vec<_> = listeners
                    .drain(..)
                    .map(|mut signals| {
                        let waiting = waiting.clone();
                        bureau::spawn(async move {
                            waiting.set(waiting.get() + 1);
                            let got = signals.next().await;
                            (signals, got)
                        })
                    })
                    .collect();
                while waiting.get() < tasks.len() {
                    bureau::yield_now().await;
                }
                send(RawSignal::USR1);
                for task in tasks {
                    let (signals, got) = task.await;
                    assert_eq!(got, Some(Signal::Usr1), "round {round}");
                    listeners.push(signals);
                }
                // Delivered by now, and not to a listener of SIGUSR2 only.
                assert_eq!(future::poll_once(other.next()).await, None);
            }
        });
    });
}

/// Names the thread that calls it: its id in `/proc/self/task`.
fn thread_id() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

/// The numbers of `epoll_wait`, `epoll_pwait` and `epoll_pwait2`, as
/// `/proc/*/syscall` shows them.
#[cfg(target_arch = "x86_64")]
const EPOLL_WAITS: &[&str] = &["232", "281", "441"];
#[cfg(target_arch = "aarch64")]
const EPOLL_WAITS: &[&str] = &["22", "441"];

/// Whether thread `tid` of this process is blocked in an epoll wait.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn asleep_in_epoll(tid: &str) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"));
    let syscall = syscall.unwrap_or_default();
    let number = syscall.split_whitespace().next().unwrap_or("");
    EPOLL_WAITS.contains(&number)
}

/// Elsewhere, whether the kernel says the thread waits in epoll.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn asleep_in_epoll(tid: &str) -> bool {
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"));
    wchan.unwrap_or_default().contains("epoll")
}

#[test]
fn a_signal_wakes_a_loop_asleep_in_epoll_with_no_timers() {
    let _alone = self_signalled();
    let got = bounded(20, || {
        let (tid_tx, tid_rx) = mpsc::channel();
        let looping = std::thread::spawn(move || {
            let mut signals = Signals::new([Signal::Usr1]).unwrap();
            tid_tx.send(thread_id()).unwrap();
            bureau::block_on(signals.next())
        });
        let tid = tid_rx.recv().unwrap();
        // No timer is pending, so the loop waits in epoll with no timeout
        // until something wakes it. (`bounded` ends a wait that never
        // comes.)
        while !asleep_in_epoll(&tid) {
            std::thread::yield_now();
        }
        send(RawSignal::USR1);
        looping.join().unwrap()
    });
    assert_eq!(got, Some(Signal::Usr1));
}

#[test]
fn the_default_action_is_back_once_every_listener_is_dropped() {
    let test = "the_default_action_is_back_once_every_listener_is_dropped";
    match child_case().as_deref() {
        None => {
            let output = output_within(30, child(test, "term after listeners"));
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stdout.contains("both saw SIGTERM"), "{stdout}\n{stderr}");
            assert_eq!(
                output.status.signal(),
                Some(Signal::Term.as_raw()),
                "the child did not die of SIGTERM ({:?}): {stdout}\n{stderr}",
                output.status
            );
        }
        Some(_) => {
            bureau::block_on(async {
                let mut first = Signals::new([Signal::Term]).unwrap();
                let mut second = Signals::new([Signal::Term]).unwrap();
                send(RawSignal::TERM);
                assert_eq!(first.next().await, Some(Signal::Term));
                assert_eq!(second.next().await, Some(Signal::Term));
                println!("both saw SIGTERM");
                drop((first, second));
                send(RawSignal::TERM);
                // The signal ends the process, on whichever thread it is
                // handled; this deadline only ends a child that survives.
                Timer::after(Duration::from_secs(10)).await;
                println!("survived SIGTERM");
            });
        }
    }
}

/// What a child prints once it listens.
const READY: &str = "the child listens";

/// Runs `command` (this test binary as a child); once it prints
/// [`READY`], sends it `signal`, and returns its exit status and what it
/// printed. Fails the test if it takes more than `secs` seconds.
fn signal_child_when_ready(
    mut command: Command,
    signal: RawSignal,
    secs: u64,
) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = Pid::from_child(&child);
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines_tx.send(line);
        }
    });
    let (status_tx, status) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    let fail = |why: &str| -> ! {
        let _ = kill_process(pid, RawSignal::KILL);
        panic!("{why}");
    };
    let mut printed = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
                // libtest's "test ... " starts the line.
                if line.ends_with(READY) {
                    break;
                }
            }
            Err(_) => fail(&format!("the child never got ready: {printed}")),
        }
    }
    kill_process(pid, signal).unwrap();
    let left = deadline.saturating_duration_since(Instant::now());
    let Ok(status) = status.recv_timeout(left) else {
        fail(&format!("the child did not end within {secs} s: {printed}"));
    };
    reader.join().unwrap();
    printed.extend(lines.try_iter().map(|l| l + "\n"));
    (status.unwrap(), printed)
}

#[test]
fn a_process_that_listens_for_sigterm_handles_it_and_exits_0() {
    let test = "a_process_that_listens_for_sigterm_handles_it_and_exits_0";
    match child_case().as_deref() {
        None => {
            let command = child(test, "listen for term");
            let (status, stdout) = signal_child_when_ready(command, RawSignal::TERM, 30);
            assert!(status.success(), "{status:?}: {stdout}");
            assert!(stdout.contains("handled SIGTERM"), "{stdout}");
        }
        Some(_) => {
            bureau::block_on(async {
                let mut signals = Signals::new([Signal::Term]).unwrap();
                println!("{READY}");
                // Asleep in the loop until the parent's SIGTERM comes.
                let signal = signals.next().await.unwrap();
                println!("handled {signal}");
            });
        }
    }
}

#[test]
fn ctrl_c_completes_at_sigint() {
    let test = "ctrl_c_completes_at_sigint";
    match child_case().as_deref() {
        None => {
            let output = output_within(30, child(test, "ctrl_c"));
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{:?}: {stdout}\n{stderr}",
                output.status
            );
            assert!(stdout.contains("ctrl_c completed"), "{stdout}\n{stderr}");
        }
        Some(_) => {
            // Listening from the call on: the SIGINT sent before the first
            // poll completes it (and does not end the process).
            let ctrl_c = ctrl_c();
            send(RawSignal::INT);
            bureau::block_on(ctrl_c).unwrap();
            println!("ctrl_c completed");
        }
    }
}

#[test]
fn no_descriptor_of_the_signal_machinery_leaks_into_a_child() {
    // The eventfd exists once something listens (nothing is sent here).
    let _signals = Signals::new([Signal::Winch]).unwrap();
    let mut sh = Command::new("sh");
    // The descriptor the glob read the directory through is gone by the
    // time `readlink` runs: its failure is no error.
    let list = "for f in /proc/$$/fd/*; do readlink \"$f\"; done; true";
    sh.args(["-c", list]);
    let output = output_within(20, sh);
    assert!(output.status.success(), "{:?}", output.status);
    let fds = String::from_utf8_lossy(&output.stdout);
    assert!(
        !fds.contains("eventfd") && !fds.contains("eventpoll"),
        "an eventfd or epoll descriptor leaked: {fds}"
    );
}
