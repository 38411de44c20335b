//! An interval timer's ticks: how late each one fires, and the line an
//! echo server logs for each tick of its ticker (`--lateness`, for
//! `timer-under-load`).
//!
//! A tick's lateness always counts from the deadline the interval yielded
//! for it, never from the tick before: after a stall, every tick of the
//! burst that catches up counts its own delay. This file must use std
//! alone and stay small: the echo servers include it by its path, so their
//! footprint builds (`footprint/`) link no other crate and barely grow.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// The period of the ticker an echo server runs with `--lateness`.
pub const SERVER_PERIOD: Duration = Duration::from_millis(5);

/// `fired_at - deadline` in nanoseconds: negative when a tick came early,
/// which no runtime's timer should allow.
pub fn late_by(fired_at: Instant, deadline: Instant) -> i64 {
    match fired_at.checked_duration_since(deadline) {
        Some(after) => after.as_nanos() as i64,
        None => -((deadline - fired_at).as_nanos() as i64),
    }
}

/// Writes the line of a tick due at `deadline` that fires now to stderr
/// (the server's log file), in one write so that a reader of the file
/// never sees half a line followed by the rest of another.
pub fn log_tick(deadline: Instant) {
    let line = tick_line(deadline, Instant::now(), SystemTime::now());
    // A log that cannot be written loses a tick: the harness then finds
    // fewer ticks, which the server has no better way to report.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// `tick DEADLINE LATE\n`: the deadline in nanoseconds since the Unix epoch
/// on the wall clock (`fired_at` read as `wall`; the one clock that std
/// lets two processes compare), then the lateness in nanoseconds.
pub fn tick_line(deadline: Instant, fired_at: Instant, wall: SystemTime) -> String {
    let late = late_by(fired_at, deadline);
    let wall = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    format!("tick {} {late}\n", wall - late)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_signed() {
        let deadline = Instant::now();
        let later = deadline + Duration::from_micros(3);
        assert_eq!(late_by(later, deadline), 3_000);
        assert_eq!(late_by(deadline, later), -3_000);
    }

    #[test]
    fn a_tick_line_gives_the_deadline_on_the_wall_clock() {
        let deadline = Instant::now();
        let fired_at = deadline + Duration::from_millis(2);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(
            tick_line(deadline, fired_at, wall),
            "tick 9998000000 2000000\n"
        );
    }
}
