//! An interval timer's ticks: how late each one fires.
//!
//! A tick's lateness always counts from the deadline the interval yielded
//! for it, never from the tick before: after a stall, every tick of the
//! burst that catches up counts its own delay.

use std::time::Instant;

/// `fired_at - deadline` in nanoseconds: negative when a tick came early,
/// which no runtime's timer should allow.
pub fn late_by(fired_at: Instant, deadline: Instant) -> i64 {
    match fired_at.checked_duration_since(deadline) {
        Some(after) => after.as_nanos() as i64,
        None => -((deadline - fired_at).as_nanos() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lateness_is_signed() {
        let deadline = Instant::now();
        let later = deadline + Duration::from_micros(3);
        assert_eq!(late_by(later, deadline), 3_000);
        assert_eq!(late_by(deadline, later), -3_000);
    }
}
