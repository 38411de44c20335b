//! Slow-poll reports: the threshold (`BUREAU_SLOW_POLL_MS`), the report
//! ([`SlowPoll`]), where it goes (stderr, or the hook of
//! [`on_slow_poll`]), and the rate limit of one report per spawn site per
//! second.
//!
//! The run loop decides what was slow (`watch.rs`); this file only says so.
//! It must never be on the path of a poll that was not slow: everything
//! here runs once per report, and may take a lock and allocate.

use std::fmt;
use std::panic::Location;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The threshold when `BUREAU_SLOW_POLL_MS` is not set.
pub const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(50);

/// The environment variable that sets the threshold, in milliseconds.
const VAR: &str = "BUREAU_SLOW_POLL_MS";

/// Where a task was spawned; `None` for the future passed to `block_on`.
pub type Site = Option<&'static Location<'static>>;

/// A poll that held the loop longer than the threshold, as given to the
/// hook of [`on_slow_poll`]. Its `Display` is the line printed on stderr
/// when there is no hook.
///
/// # Examples
///
/// ```
/// use bureau_executor::SlowPoll;
/// use std::panic::Location;
/// use std::time::Duration;
///
/// let here = Location::caller();
/// let sites = [Some(here)];
/// let report = SlowPoll { duration: Duration::from_millis(212), polls: 1, sites: &sites };
/// let line = report.to_string();
/// assert!(line.contains("slow poll: 212 ms in a task spawned at"));
/// assert!(line.contains(file!()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SlowPoll<'a> {
    /// How long the loop was held.
    pub duration: Duration,
    /// How many polls that time covers: `1` when the loop timed the poll
    /// alone. More when it was timing batches of polls (its polls had been
    /// too short to time one by one): then it cannot tell which one was
    /// slow, and `sites` lists where each of them was spawned.
    pub polls: usize,
    /// Where the polled tasks were spawned, each place once.
    pub sites: &'a [Site],
}

impl fmt::Display for SlowPoll<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.duration.as_millis();
        match self.sites {
            [site] if self.polls == 1 => {
                write!(f, "bureau: slow poll: {ms} ms in ")?;
                write_site(f, *site)
            }
            sites => {
                write!(
                    f,
                    "bureau: slow poll: {ms} ms in one of {} polls, of ",
                    self.polls
                )?;
                for (i, site) in sites.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_site(f, *site)?;
                }
                f.write_str(" (timed as a batch; the next 10 s are timed poll by poll)")
            }
        }
    }
}

fn write_site(f: &mut fmt::Formatter<'_>, site: Site) -> fmt::Result {
    match site {
        Some(at) => write!(f, "a task spawned at {at}"),
        None => f.write_str("the future passed to block_on"),
    }
}

/// Routes slow-poll reports to `hook` instead of stderr (`None`: back to
/// stderr), for every loop of the process. The rate limit applies before
/// the hook: it sees at most one report per spawn site per second.
///
/// # Examples
///
/// ```
/// use bureau_executor::{SlowPoll, on_slow_poll};
///
/// fn log(report: &SlowPoll<'_>) {
///     // Send it to the service's own log instead.
///     let _ = report.to_string();
/// }
/// on_slow_poll(Some(log));
/// on_slow_poll(None);
/// ```
pub fn on_slow_poll(hook: Option<fn(&SlowPoll<'_>)>) {
    *HOOK.lock().unwrap_or_else(PoisonError::into_inner) = hook;
}

static HOOK: Mutex<Option<fn(&SlowPoll<'_>)>> = Mutex::new(None);

/// The threshold above which a poll is reported, from `BUREAU_SLOW_POLL_MS`
/// (read once per process); `None` when reporting is off (`0`). A value
/// that is not a whole number is reported once on stderr and the default
/// applies: a typo in a diagnostic knob must not stop a service.
pub(crate) fn threshold() -> Option<Duration> {
    static THRESHOLD: OnceLock<Option<Duration>> = OnceLock::new();
    *THRESHOLD.get_or_init(|| {
        let Some(value) = std::env::var_os(VAR) else {
            return Some(DEFAULT_SLOW_POLL);
        };
        match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => {
                eprintln!(
                    "bureau: {VAR}={value:?} is not a whole number of milliseconds; \
                     polls are reported above the default {} ms (0 turns the report off)",
                    DEFAULT_SLOW_POLL.as_millis()
                );
                Some(DEFAULT_SLOW_POLL)
            }
        }
    })
}

/// How many spawn sites the rate limit remembers; the one reported longest
/// ago makes room for a new one.
const REMEMBERED: usize = 16;

/// When each recently reported spawn site was last reported.
static RECENT: Mutex<[(usize, Option<Instant>); REMEMBERED]> = Mutex::new([(0, None); REMEMBERED]);

/// Reports `report` (to the hook, or stderr), unless its first site was
/// reported less than a second ago.
pub(crate) fn report(report: &SlowPoll<'_>, now: Instant) {
    let key = report
        .sites
        .first()
        .copied()
        .flatten()
        .map_or(0, |at| std::ptr::from_ref(at) as usize);
    {
        let mut recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match recent.iter().position(|(k, t)| *k == key && t.is_some()) {
            Some(i) => i,
            None => (0..REMEMBERED)
                .min_by_key(|&i| recent[i].1)
                .unwrap_or_default(),
        };
        let (k, last) = &mut recent[slot];
        if *k == key
            && last.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        *k = key;
        *last = Some(now);
    }
    let hook = *HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    match hook {
        // A panicking hook is printed by the panic hook, and the loop goes on.
        Some(hook) => {
            let _ = std::panic::catch_unwind(|| hook(report));
        }
        None => eprintln!("{report}"),
    }
}
