//! The promises of API.md's "Blocking work" section through the facade:
//! `unblock` and `Unblock<T>` awaited inside `bureau::block_on`, and a
//! process that exits although jobs are still queued on the pool (checked in
//! a child process, which runs the one ignored test here).

use std::sync::mpsc;
use std::time::Duration;

use bureau::prelude::*;
use bureau::{Unblock, block_on, spawn, unblock};

mod common;
use common::bounded;

#[test]
fn unblock_returns_the_closures_value_from_another_thread() {
    bounded(10, || {
        let here = std::thread::current().id();
        let (value, there) = block_on(unblock(|| (6 * 7, std::thread::current().id())));
        assert_eq!(value, 42);
        assert_ne!(here, there);
    });
}

#[test]
fn a_thousand_concurrent_unblock_calls_complete() {
    bounded(30, || {
        let sum: u64 = block_on(async {
            let tasks: Vec<_> = (0..1000u64)
                .map(|i| spawn(async move { unblock(move || i).await }))
                .collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await;
            }
            sum
        });
        assert_eq!(sum, 999 * 1000 / 2);
    });
}

#[test]
fn a_panic_in_the_closure_resurfaces_at_the_await() {
    bounded(10, || {
        let caught = std::panic::catch_unwind(|| {
            block_on(async { unblock(|| -> u8 { panic!("blocking job failed") }).await })
        });
        let payload = caught.expect_err("the panic must resurface");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"blocking job failed"));
        // The loop and the pool both go on working.
        assert_eq!(block_on(unblock(|| 3)), 3);
    });
}

#[test]
fn the_loop_runs_other_tasks_while_a_job_blocks() {
    bounded(10, || {
        // The job waits for a message that only a task on the loop sends:
        // if awaiting the job blocked the loop, neither would finish.
        let (send, receive) = mpsc::channel::<&str>();
        let got = block_on(async {
            let job = unblock(move || receive.recv().unwrap());
            spawn(async move { send.send("from the loop").unwrap() }).detach();
            job.await
        });
        assert_eq!(got, "from the loop");
    });
}

#[test]
fn unblock_reads_and_writes_a_file() {
    bounded(10, || {
        let path = std::env::temp_dir().join(format!("bureau-blocking-{}", std::process::id()));
        let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 256) as u8).collect();
        let read_back = block_on(async {
            let mut file = Unblock::new(std::fs::File::create(&path).unwrap());
            file.write_all(&bytes).await.unwrap();
            file.flush().await.unwrap();
            let mut file = Unblock::new(std::fs::File::open(&path).unwrap());
            let mut read_back = Vec::new();
            file.read_to_end(&mut read_back).await.unwrap();
            read_back
        });
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_back, bytes);
    });
}

#[test]
fn unblock_turns_an_iterator_into_a_stream() {
    bounded(10, || {
        let lines = "a\nb\nc"
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter();
        let got: Vec<String> = block_on(Unblock::new(lines).collect());
        assert_eq!(got, ["a", "b", "c"]);
    });
}

#[test]
fn a_process_with_jobs_still_queued_exits() {
    bounded(30, || {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_leaves_jobs_queued",
                "--test-threads=1",
            ])
            .env("BUREAU_MAX_THREADS", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (done, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait_with_output());
        });
        match exited.recv_timeout(Duration::from_secs(20)) {
            Ok(output) => {
                let output = output.unwrap();
                assert!(output.status.success(), "child failed: {output:?}");
                assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
            }
            Err(_) => {
                let _ = std::process::Command::new("kill")
                    .arg("-9")
                    .arg(pid.to_string())
                    .status();
                panic!("a process with jobs still queued on the pool did not exit");
            }
        }
    });
}

/// Run only by `a_process_with_jobs_still_queued_exits`, in a child process
/// with one pool thread: one job blocks for ever and two wait behind it.
#[test]
#[ignore = "run in a child process by a_process_with_jobs_still_queued_exits"]
fn child_leaves_jobs_queued() {
    let (started, running) = mpsc::channel();
    let forever = || loop {
        std::thread::park();
    };
    let tasks = [
        unblock(move || {
            started.send(()).unwrap();
            forever()
        }),
        unblock(forever),
        unblock(forever),
    ];
    running.recv().unwrap();
    for task in tasks {
        task.detach();
    }
}
