//! The reactor's cost model, through its counters: an idle timer wait wakes
//! the thread only a handful of times, a busy loop's non-blocking turns cost
//! no poller wait when nothing is ready, `bureau::block_on` never starts the
//! helper thread, and echoing on a registered socket never touches
//! `epoll_ctl`. One test, so no other test in this process moves the
//! counters meanwhile.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;

mod common;
use common::bounded;

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn the_reactor_costs_what_the_cost_model_says() {
    bounded(60, || {
        // An idle two-second timer: a handful of waits, not a poll loop.
        let before = bureau_reactor::stats();
        let start = Instant::now();
        bureau::block_on(Timer::after(Duration::from_secs(2)));
        assert!(start.elapsed() >= Duration::from_secs(2));
        let waits = bureau_reactor::stats().waits - before.waits;
        eprintln!("Timer::after(2 s): {waits} poller waits");
        assert!(waits <= 5, "{waits} wakeups for one idle timer");

        // Idle with no timers: one wait for the whole idle stretch.
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let before = bureau_reactor::stats();
        let idle = std::thread::spawn(move || {
            bureau::block_on(async move {
                let a = bureau::Async::new(a).unwrap();
                ready_tx.send(()).unwrap();
                a.read_with(|mut s| std::io::Read::read(&mut s, &mut [0; 1]))
                    .await
                    .unwrap();
            })
        });
        ready_rx.recv().unwrap();
        // The idle stretch being measured (not a synchronisation).
        std::thread::sleep(Duration::from_millis(300));
        std::io::Write::write_all(&mut b, b"x").unwrap();
        idle.join().unwrap();
        let waits = bureau_reactor::stats().waits - before.waits;
        eprintln!("300 ms idle: {waits} poller waits");
        assert!(waits <= 4, "an idle loop woke {waits} times");

        // A busy loop gives the reactor a non-blocking turn every 64 polls;
        // with nothing ready, a turn is one zero-timeout epoll_pwait, which
        // is not counted as a wait.
        let before = bureau_reactor::stats();
        bureau::block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    bureau::spawn(async {
                        for _ in 0..1_000 {
                            bureau::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        });
        let waits = bureau_reactor::stats().waits - before.waits;
        eprintln!("100,000 polls: {waits} poller waits");
        assert!(
            waits <= 5,
            "{waits} poller waits for a loop with nothing ready"
        );

        // One deregistration per dropped Async and per into_inner.
        let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
        let before = bureau_reactor::stats();
        let x = bureau::Async::new(x).unwrap().into_inner().unwrap();
        let mid = bureau_reactor::stats();
        assert_eq!(mid.registrations - before.registrations, 1);
        assert_eq!(
            mid.deregistrations - before.deregistrations,
            1,
            "into_inner"
        );
        drop(bureau::Async::new(x).unwrap());
        let after = bureau_reactor::stats();
        assert_eq!(after.deregistrations - mid.deregistrations, 1, "drop");

        // No hidden thread: bureau::block_on drove the reactor itself.
        let names = thread_names();
        assert!(
            !names.iter().any(|n| n == "bureau-reactor"),
            "a helper thread started: {names:?}"
        );

        // 10,000 echoes on one connection: no epoll_ctl after registration.
        bureau::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            let mut c = TcpStream::connect(l.local_addr()?).await?;
            let (s, _) = l.accept().await?;
            bureau::spawn(async move {
                let mut w = s.clone();
                bureau::io::copy(&s, &mut w).await
            })
            .detach();
            let before = bureau_reactor::stats();
            let msg = [42u8; 64];
            let mut back = [0u8; 64];
            for i in 0..10_000u32 {
                c.write_all(&msg).await?;
                c.read_exact(&mut back).await?;
                assert_eq!(back, msg, "echo {i}");
            }
            let after = bureau_reactor::stats();
            eprintln!(
                "10,000 echoes: {} poller waits, {} registrations, {} modifies",
                after.waits - before.waits,
                after.registrations - before.registrations,
                after.modifies - before.modifies
            );
            assert_eq!(after.modifies, before.modifies, "Poller::modify was called");
            assert_eq!(
                after.registrations, before.registrations,
                "a socket was re-registered"
            );
            assert_eq!(after.deregistrations, before.deregistrations);
            io::Result::Ok(())
        })
        .unwrap();
    });
}
