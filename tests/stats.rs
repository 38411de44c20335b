//! `bureau::stats()` and the slow-poll report: the counters match a known
//! workload exactly, busy and idle time grow where they should, a stall
//! shows in the delay histogram, and a poll that holds the loop is named by
//! its spawn site on stderr once.
//!
//! The threshold (`BUREAU_SLOW_POLL_MS`) is read once per process, so the
//! cases that set it run in a child process (this test binary, run again
//! with variables set). The 200 ms spins are the thing under test, not a
//! way to wait for something.

use std::time::{Duration, Instant};

mod common;
use common::{bounded, output_within};

/// Set in the child process, to the name of the case it runs.
const CHILD: &str = "BUREAU_TEST_STATS_CHILD";

/// Holds the loop's thread for `d`.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A task's future that holds the loop for `ms` ms in its one poll.
async fn spinning(ms: u64) {
    spin(Duration::from_millis(ms));
}

/// What a child run of `test` printed, with `BUREAU_SLOW_POLL_MS` set to
/// `threshold`: (stdout, stderr).
fn in_child(test: &str, threshold: &str) -> (String, String) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("BUREAU_SLOW_POLL_MS", threshold);
    let output = output_within(20, child);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "the child failed: {stderr}");
    (stdout, stderr)
}

/// In the child: spawns a task that spins for 200 ms in one poll, and
/// prints the line of the `spawn` and the slow-poll count.
fn spin_in_a_task() {
    bureau::block_on(async {
        let (task, line) = (bureau::spawn(spinning(200)), line!());
        task.await;
        println!("SPAWN_LINE={line}");
        println!("SLOW_POLLS={}", bureau::stats().slow_polls);
    });
}

/// The lines of `stderr` that report a slow poll.
fn reports(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("slow poll:"))
        .collect()
}

/// The value printed as `NAME=value` on `stdout`.
fn printed<'a>(stdout: &'a str, name: &str) -> &'a str {
    // The test runner's "test NAME ... " may precede it on its line.
    let at = format!("{name}=");
    stdout
        .lines()
        .find_map(|l| Some(l.split_once(&at)?.1.trim()))
        .unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

#[test]
fn a_poll_that_spins_for_200_ms_is_reported_once_naming_its_spawn_site() {
    let test = "a_poll_that_spins_for_200_ms_is_reported_once_naming_its_spawn_site";
    if std::env::var_os(CHILD).is_some() {
        return spin_in_a_task();
    }
    let (stdout, stderr) = in_child(test, "50");
    let reports = reports(&stderr);
    assert_eq!(reports.len(), 1, "{stderr}");
    let line = printed(&stdout, "SPAWN_LINE");
    let site = format!("tests/stats.rs:{line}:");
    assert!(
        reports[0].contains(&site),
        "{} names not {site}",
        reports[0]
    );
    assert!(reports[0].contains(" ms "), "no duration: {}", reports[0]);
    assert_eq!(printed(&stdout, "SLOW_POLLS"), "1");
}

#[test]
fn a_zero_threshold_turns_the_report_off() {
    let test = "a_zero_threshold_turns_the_report_off";
    if std::env::var_os(CHILD).is_some() {
        return spin_in_a_task();
    }
    let (stdout, stderr) = in_child(test, "0");
    assert_eq!(reports(&stderr), Vec::<&str>::new());
    assert_eq!(printed(&stdout, "SLOW_POLLS"), "0");
}

#[test]
fn a_bad_threshold_is_a_clear_error_and_the_default_applies() {
    let test = "a_bad_threshold_is_a_clear_error_and_the_default_applies";
    if std::env::var_os(CHILD).is_some() {
        return spin_in_a_task();
    }
    let (stdout, stderr) = in_child(test, "abc");
    let complaint = stderr
        .lines()
        .find(|l| l.contains("BUREAU_SLOW_POLL_MS"))
        .unwrap_or_else(|| panic!("the variable is not named: {stderr}"));
    assert!(complaint.contains("abc"), "{complaint}");
    // 200 ms is above the default threshold.
    assert_eq!(reports(&stderr).len(), 1, "{stderr}");
    assert_eq!(printed(&stdout, "SLOW_POLLS"), "1");
}

#[test]
fn a_hook_takes_the_report_instead_of_stderr() {
    use std::sync::Mutex;
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    fn hook(report: &bureau::SlowPoll<'_>) {
        SEEN.lock().unwrap().push(report.to_string());
    }
    let test = "a_hook_takes_the_report_instead_of_stderr";
    if std::env::var_os(CHILD).is_some() {
        bureau::on_slow_poll(Some(hook));
        spin_in_a_task();
        println!("HOOKED={}", SEEN.lock().unwrap().len());
        return;
    }
    let (stdout, stderr) = in_child(test, "50");
    assert_eq!(reports(&stderr), Vec::<&str>::new());
    assert_eq!(printed(&stdout, "HOOKED"), "1");
}

#[test]
fn the_counters_match_a_known_workload_exactly() {
    // A thread of its own: its executor starts from zero.
    bounded(10, || {
        bureau::block_on(async {
            let tasks: Vec<_> = (0..10)
                .map(|_| bureau::spawn(async { bureau::yield_now().await }))
                .collect();
            let now = bureau::stats();
            assert_eq!(
                (now.tasks_spawned, now.tasks_alive, now.queued),
                (10, 10, 10)
            );
            for task in tasks {
                task.await;
            }
        });
        let s = bureau::stats();
        assert_eq!((s.tasks_spawned, s.tasks_alive, s.queued), (10, 0, 0));
        // Each task twice (before and after its yield), and the future
        // above twice: once to spawn them, once when they are all done.
        assert_eq!(s.polls, 22);
        assert_eq!(s.slow_polls, 0);
    });
}

#[test]
fn busy_time_grows_while_tasks_compute_and_idle_time_while_the_loop_waits() {
    bounded(10, || {
        bureau::block_on(async {
            let before = bureau::stats();
            bureau::spawn(async { spin(Duration::from_millis(30)) }).await;
            // The loop sleeps until the timer fires.
            bureau::Timer::after(Duration::from_millis(20)).await;
            let after = bureau::stats();
            let busy = after.busy - before.busy;
            let idle = after.idle - before.idle;
            assert!(busy >= Duration::from_millis(30), "busy {busy:?}");
            assert!(idle >= Duration::from_millis(10), "idle {idle:?}");
            assert!((0.0..=1.0).contains(&after.utilization()));
        });
    });
}

#[test]
fn a_stall_shows_in_the_delay_histograms_max_and_not_in_its_median() {
    bounded(10, || {
        bureau::block_on(async {
            for _ in 0..20 {
                bureau::Timer::after(Duration::from_millis(1)).await;
            }
            bureau::spawn(async { spin(Duration::from_millis(100)) }).await;
            // A turn of the parker ends the batch that held the stall.
            bureau::Timer::after(Duration::from_millis(1)).await;
            let delay = bureau::stats().delay;
            assert!(delay.max() >= Duration::from_millis(100), "{delay:?}");
            assert!(
                delay.percentile(0.5) < Duration::from_millis(10),
                "{delay:?}"
            );
            assert!(delay.count() >= 20, "{delay:?}");
        });
    });
}

#[test]
fn the_debug_form_of_stats_is_one_readable_block() {
    let text = bounded(10, || {
        bureau::block_on(async {
            bureau::spawn(async {}).await;
            bureau::Timer::after(Duration::from_millis(1)).await;
        });
        format!("{:?}", bureau::stats())
    });
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for (line, label) in lines
        .iter()
        .zip(["tasks:", "time:", "delay:", "reactor:", "pool:"])
    {
        assert!(line.starts_with(label), "{line:?} in {text}");
    }
    assert!(text.contains("1 spawned"), "{text}");
}
