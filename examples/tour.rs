//! The tour: everything bureau does, at once, in one process, with figures.
//!
//! ```text
//! cargo run --release --example tour            # 5,000 connections
//! cargo run --release --example tour -- --quick # a smaller run, for tests
//! ```
//!
//! One thread, the loop, runs a TCP echo server and thousands of clients of
//! it and a thousand timers. Meanwhile the blocking pool writes and reads
//! files and computes a deliberately slow hash: were that hash computed on
//! the loop, every connection would wait for it.
//!
//! It never touches a file on the loop thread, and hashes there only once,
//! on purpose, for a moment at the end: the loop reports that task on
//! stderr as a slow poll, naming the line that spawned it, while the same
//! work through `unblock` goes unreported. The `loop:` line is
//! `bureau::stats()`: how late the loop came back to ready work, and how
//! busy it was.

use std::cell::Cell;
use std::io;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::net::{TcpListener, TcpStream};
use bureau::prelude::*;
use sha2::{Digest, Sha256};

const USAGE: &str = "usage: tour [--quick]   (--quick: a smaller run, for tests)";
/// How long the hash on the loop holds it: above the slow-poll threshold
/// (50 ms unless `BUREAU_SLOW_POLL_MS` says otherwise).
const STALL: Duration = Duration::from_millis(100);
/// Connections that are still connecting at once: fewer than the kernel
/// queues for a listener (see `echo_traffic`).
const CONNECT_WAVE: usize = 100;
/// Descriptors the process needs besides two per connection.
const SPARE_FDS: u64 = 200;

/// How big a run is.
struct Sizes {
    connections: usize,
    messages: usize,
    timers: usize,
    files: usize,
    hash_rounds: u32,
}

const FULL: Sizes = Sizes {
    connections: 5_000,
    messages: 10,
    timers: 1_000,
    files: 100,
    hash_rounds: 3_000_000,
};

const QUICK: Sizes = Sizes {
    connections: 200,
    messages: 5,
    timers: 100,
    files: 10,
    hash_rounds: 20_000,
};

/// What the loop-side tasks count, shared with an `Rc`: they all run on
/// the loop thread.
#[derive(Default)]
struct Counters {
    /// Client connections opened so far.
    connected: Cell<u64>,
    /// Messages echoed back to a client so far.
    echoed: Cell<u64>,
}

fn main() -> ExitCode {
    let mut sizes = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => FULL,
        [flag] if flag == "--quick" => QUICK,
        [other, ..] => {
            eprintln!("tour: unknown argument {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let fds = raise_fd_limit();
    let affordable = usize::try_from(fds.saturating_sub(SPARE_FDS) / 2).unwrap_or(usize::MAX);
    if affordable < sizes.connections {
        println!(
            "note: this process may open only {fds} descriptors (RLIMIT_NOFILE), \
             so the tour uses {affordable} connections instead of {}",
            sizes.connections
        );
        sizes.connections = affordable;
    }
    match bureau::block_on(tour(sizes)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tour: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn tour(sizes: Sizes) -> io::Result<()> {
    let start = Instant::now();
    let counters = Rc::new(Counters::default());
    println!("bureau tour: one loop thread, plus the blocking pool");

    let hash = bureau::spawn(slow_hash(sizes.hash_rounds, counters.clone()));
    let timers = bureau::spawn(many_timers(sizes.timers));
    let files = bureau::spawn(files_through_the_pool(sizes.files));

    let echo = echo_traffic(sizes.connections, sizes.messages, counters.clone()).await?;
    println!(
        "echo:   {} connections open at once, connected in {:.2} s",
        echo.connections,
        echo.connecting.as_secs_f64(),
    );
    println!(
        "echo:   {} messages echoed in {:.2} s = {:.0} messages/s",
        echo.messages,
        echo.talking.as_secs_f64(),
        echo.messages as f64 / echo.talking.as_secs_f64(),
    );

    let (latest, early) = timers.await;
    println!(
        "timers: {} timers over 500 ms fired at most {:.1} ms late, {early} early",
        sizes.timers,
        ms(latest),
    );

    let (count, bytes, took) = files.await?;
    println!(
        "files:  {count} files ({:.1} MiB) written, read back and checked on the pool in {:.0} ms",
        bytes as f64 / (1024.0 * 1024.0),
        ms(took),
    );

    let (digest, took, meanwhile) = hash.await;
    println!(
        "hash:   {} rounds of SHA-256 ({}...) took {:.2} s on a pool thread, while the loop \
         opened {} connections and echoed {} messages",
        sizes.hash_rounds,
        &digest[..12],
        took.as_secs_f64(),
        meanwhile.connected,
        meanwhile.echoed,
    );

    // The same work on the loop, for a moment: the loop names this task
    // on stderr, as a slow poll, by the line that spawns it here.
    let (rounds, on_loop) = bureau::spawn(hash_on_the_loop(STALL)).await;
    let (_, on_pool) = bureau::unblock(move || sha_rounds(rounds)).await;
    println!(
        "stall:  {rounds} rounds of SHA-256 held the loop {:.0} ms: reported on stderr as a \
         slow poll; the same rounds through unblock took {:.0} ms on the pool, unreported",
        ms(on_loop),
        ms(on_pool),
    );
    let stats = bureau::stats();
    println!(
        "loop:   came back to ready work within {:.2} ms (median), {:.1} ms (p99), {:.1} ms \
         (max); busy {:.0} % of the time; {} slow poll(s); the hash, run on the loop, would \
         have blocked it {:.0} ms",
        ms(stats.delay.percentile(0.5)),
        ms(stats.delay.percentile(0.99)),
        ms(stats.delay.max()),
        stats.utilization() * 100.0,
        stats.slow_polls,
        ms(took),
    );
    println!("done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Hashes on the loop thread, in one poll, until `stall` has passed: what
/// a task must never do. Returns the rounds and the time taken.
async fn hash_on_the_loop(stall: Duration) -> (u32, Duration) {
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < stall {
        sha_rounds(100);
        rounds += 100;
    }
    (rounds, start.elapsed())
}

/// `rounds` rounds of SHA-256 over a seed; the digest and the time taken.
fn sha_rounds(rounds: u32) -> (String, Duration) {
    let start = Instant::now();
    let mut digest = Sha256::digest(b"bureau");
    for _ in 1..rounds {
        digest = Sha256::digest(digest);
    }
    (format!("{digest:x}"), start.elapsed())
}

/// Hashes a seed `rounds` times over, the way a password hash is made slow
/// on purpose, on the pool. Returns the digest, the time it took and what
/// the loop did for the clients in that time.
async fn slow_hash(rounds: u32, counters: Rc<Counters>) -> (String, Duration, Meanwhile) {
    let (connected, echoed) = (counters.connected.get(), counters.echoed.get());
    // `unblock` runs the closure on a pool thread; this task just waits,
    // and the loop goes on with the others.
    let (digest, took) = bureau::unblock(move || sha_rounds(rounds)).await;
    let meanwhile = Meanwhile {
        connected: counters.connected.get() - connected,
        echoed: counters.echoed.get() - echoed,
    };
    (digest, took, meanwhile)
}

/// What the loop did for the clients while the hash ran on the pool. With
/// an optimized build the hash may end before the messages begin, so the
/// connections count too.
struct Meanwhile {
    connected: u64,
    echoed: u64,
}

/// Starts `count` timers at scattered deadlines over 500 ms, all at once.
/// Returns the most any fired after its deadline, and how many fired early
/// (a timer must never).
async fn many_timers(count: usize) -> (Duration, usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            // Scatter the deadlines: i * 7919 mod 1000 visits every
            // half-millisecond slot of the 500 ms once (for up to 1,000).
            let deadline = start + Duration::from_micros((i * 7919 % 1000) as u64 * 500);
            bureau::spawn(async move {
                Timer::at(deadline).await;
                Instant::now().checked_duration_since(deadline)
            })
        })
        .collect();
    let (mut latest, mut early) = (Duration::ZERO, 0);
    for task in tasks {
        match task.await {
            Some(late) => latest = latest.max(late),
            None => early += 1,
        }
    }
    (latest, early)
}

/// Writes `count` files of 64 KiB to a scratch folder, reads them back and
/// checks them, all through `bureau::fs` (the pool), all at once. Returns
/// the count, the bytes written and the time taken.
async fn files_through_the_pool(count: usize) -> io::Result<(usize, u64, Duration)> {
    let dir = std::env::temp_dir().join(format!("bureau-tour-{}", std::process::id()));
    bureau::fs::create_dir_all(&dir).await?;
    let start = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let path = dir.join(format!("file-{i}.bin"));
            bureau::spawn(async move {
                let contents = vec![i as u8; 64 * 1024];
                bureau::fs::write(&path, &contents).await?;
                if bureau::fs::read(&path).await? != contents {
                    return Err(io::Error::other(format!("{} changed", path.display())));
                }
                io::Result::Ok(contents.len() as u64)
            })
        })
        .collect();
    let mut result = Ok(0);
    for task in tasks {
        result = match (result, task.await) {
            (Ok(total), Ok(len)) => Ok(total + len),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    // Clean up whether or not it worked.
    bureau::fs::remove_dir_all(&dir).await?;
    Ok((count, result?, start.elapsed()))
}

/// The echo part's figures.
struct Echo {
    connections: usize,
    connecting: Duration,
    messages: u64,
    talking: Duration,
}

/// Opens `connections` clients to an echo server in this same process, all
/// of them open at once, then has each echo `messages` messages.
async fn echo_traffic(
    connections: usize,
    messages: usize,
    counters: Rc<Counters>,
) -> io::Result<Echo> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // The server is a task like any other; dropping it at the end stops it.
    let _server = bureau::spawn(echo_server(listener));

    // Connect in waves. The listener's queue of connections not yet accepted
    // holds at most `net.core.somaxconn` (4,096 on recent Linux, 128 before
    // 5.4), and the server gets its turn to accept only after every connect
    // spawned before it has run: were all 5,000 spawned at once, the ones
    // past the cap would have their SYN dropped and sent again by the kernel
    // a second later (with a cap of 4,096: 903 of them, and connecting took
    // 1.3 s instead of 0.6 s). A wave of 100 fits under either cap.
    let start = Instant::now();
    let mut clients = Vec::with_capacity(connections);
    for wave in (0..connections).collect::<Vec<_>>().chunks(CONNECT_WAVE) {
        let connecting: Vec<_> = wave
            .iter()
            .map(|_| bureau::spawn(TcpStream::connect(addr)))
            .collect();
        for client in connecting {
            clients.push(client.await?);
            counters.connected.set(counters.connected.get() + 1);
        }
    }
    let connecting = start.elapsed();

    let start = Instant::now();
    let talking: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| bureau::spawn(talk(client, i, messages, counters.clone())))
        .collect();
    for client in talking {
        client.await?;
    }
    Ok(Echo {
        connections,
        connecting,
        messages: counters.echoed.get(),
        talking: start.elapsed(),
    })
}

async fn echo_server(listener: TcpListener) {
    loop {
        // One failed accept must not end the server: the clients it has not
        // accepted yet would then wait for their echo forever.
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("tour: accept failed: {e}");
                continue;
            }
        };
        bureau::spawn(async move {
            let mut writer = stream.clone();
            bureau::io::copy(&stream, &mut writer).await?;
            writer.close().await
        })
        .detach();
    }
}

/// Sends `messages` messages of 64 bytes, checking each one's echo.
async fn talk(
    mut client: TcpStream,
    id: usize,
    messages: usize,
    counters: Rc<Counters>,
) -> io::Result<()> {
    let mut echo = [0; 64];
    for n in 0..messages {
        let mut message = [b'.'; 64];
        let text = format!("client {id} message {n}");
        message[..text.len()].copy_from_slice(text.as_bytes());
        client.write_all(&message).await?;
        client.read_exact(&mut echo).await?;
        if echo != message {
            return Err(io::Error::other(format!("client {id} got a wrong echo")));
        }
        counters.echoed.set(counters.echoed.get() + 1);
    }
    client.close().await
}

/// Raises this process's soft limit on open descriptors to the hard limit,
/// and returns the limit now in force.
fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    // If raising fails, the old limit stands; the tour then sizes itself to it.
    setrlimit(Resource::Nofile, limit).ok();
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
