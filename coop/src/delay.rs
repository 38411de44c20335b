//! [`Delay`]: the loop's delay histogram, and the thread-local copy of it
//! that the executor (at its batch boundaries) and the reactor (at each turn
//! that fires timers) record into, neither knowing of the other.
//!
//! Log-linear buckets of microseconds: exact below 32 µs, then 32 linear
//! buckets for every doubling, so a percentile (a bucket's midpoint) is
//! within 1/64 (1.6 %) of the true value, or 1 µs below 32 µs. Samples of
//! 2^26 µs (67 s) or more share the last bucket; `max` stays exact. Fixed
//! size, so recording never allocates. This file must never read a clock:
//! its callers measure, it only counts.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

/// Linear buckets per doubling (and the exact buckets below them).
const SUB: usize = 32;
/// log2 of [`SUB`].
const SUB_BITS: u32 = 5;
/// The highest doubling with buckets of its own: 2^25..2^26 µs.
const TOP: u32 = 25;
/// How many buckets.
const BUCKETS: usize = SUB + (TOP - SUB_BITS + 1) as usize * SUB;

/// A histogram of how late the loop came back to work that was ready: a
/// task woken while the loop ran others, a timer whose deadline passed.
///
/// # Examples
///
/// ```
/// use bureau_coop::Delay;
/// use std::time::Duration;
///
/// let mut d = Delay::new();
/// for ms in 1..=100 {
///     d.record(Duration::from_millis(ms));
/// }
/// assert_eq!(d.count(), 100);
/// assert_eq!(d.max(), Duration::from_millis(100));
/// let p50 = d.percentile(0.5).as_secs_f64();
/// assert!((p50 - 0.050).abs() < 0.050 * 0.02, "{p50}");
/// ```
#[derive(Clone)]
pub struct Delay {
    counts: [u32; BUCKETS],
    count: u64,
    max: Duration,
}

impl Delay {
    /// An empty histogram.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bureau_coop::Delay::new().count(), 0);
    /// ```
    pub const fn new() -> Delay {
        Delay {
            counts: [0; BUCKETS],
            count: 0,
            max: Duration::ZERO,
        }
    }

    /// Adds one sample.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut d = bureau_coop::Delay::new();
    /// d.record(std::time::Duration::from_micros(250));
    /// assert_eq!(d.count(), 1);
    /// ```
    #[inline]
    pub fn record(&mut self, delay: Duration) {
        let micros = delay
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(delay.subsec_micros()));
        let slot = &mut self.counts[bucket(micros)];
        *slot = slot.saturating_add(1);
        self.count += 1;
        self.max = self.max.max(delay);
    }

    /// How many samples were recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bureau_coop::Delay::new().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest sample, exactly; zero if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut d = bureau_coop::Delay::new();
    /// d.record(Duration::from_millis(3));
    /// assert_eq!(d.max(), Duration::from_millis(3));
    /// ```
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The sample below which a fraction `q` of them lie (`0.5` the median,
    /// `0.99` p99), within 1.6 %; zero if there is none. `q` is clamped to
    /// `0.0..=1.0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut d = bureau_coop::Delay::new();
    /// d.record(Duration::from_millis(1));
    /// d.record(Duration::from_millis(9));
    /// assert!(d.percentile(0.5) < Duration::from_millis(2));
    /// assert!(d.percentile(1.0) > Duration::from_millis(8));
    /// ```
    pub fn percentile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                if i == BUCKETS - 1 {
                    return self.max;
                }
                return midpoint(i).min(self.max);
            }
        }
        self.max
    }
}

impl Default for Delay {
    fn default() -> Self {
        Delay::new()
    }
}

impl fmt::Debug for Delay {
    /// One line: `n=120 p50=1.2ms p99=40.1ms max=52ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} p50={:.1?} p99={:.1?} max={:.1?}",
            self.count,
            self.percentile(0.5),
            self.percentile(0.99),
            self.max
        )
    }
}

/// The bucket of a sample of `micros` µs.
#[inline]
fn bucket(micros: u64) -> usize {
    if micros < SUB as u64 {
        return micros as usize;
    }
    let doubling = (u64::BITS - 1 - micros.leading_zeros()).min(TOP + 1);
    if doubling > TOP {
        return BUCKETS - 1;
    }
    let shift = doubling - SUB_BITS;
    let linear = (micros >> shift) as usize - SUB;
    SUB + (doubling - SUB_BITS) as usize * SUB + linear
}

/// The middle of bucket `i`'s range.
fn midpoint(i: usize) -> Duration {
    if i < SUB {
        return Duration::from_nanos(i as u64 * 1000 + 500);
    }
    let doubling = (i - SUB) / SUB + SUB_BITS as usize;
    let linear = ((i - SUB) % SUB + SUB) as u64;
    let shift = doubling as u32 - SUB_BITS;
    let low = linear << shift;
    let width = 1u64 << shift;
    Duration::from_nanos((low * 1000).saturating_add(width * 500))
}

thread_local! {
    /// This thread's loop's histogram.
    static LOOP: RefCell<Delay> = const { RefCell::new(Delay::new()) };
}

/// Records how late this thread's loop came back to work that was ready.
///
/// # Examples
///
/// ```
/// let before = bureau_coop::loop_delay().count();
/// bureau_coop::record_delay(std::time::Duration::from_micros(10));
/// assert_eq!(bureau_coop::loop_delay().count(), before + 1);
/// ```
#[inline]
pub fn record_delay(delay: Duration) {
    LOOP.with(|d| {
        if let Ok(mut d) = d.try_borrow_mut() {
            d.record(delay);
        }
    });
}

/// A copy of this thread's loop's histogram (see [`record_delay`]).
///
/// # Examples
///
/// ```
/// assert_eq!(bureau_coop::loop_delay().count(), 0);
/// ```
pub fn loop_delay() -> Delay {
    LOOP.with(|d| d.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_holds_its_own_midpoint_within_the_promised_error() {
        for i in 0..BUCKETS {
            let mid = midpoint(i);
            let micros = mid.as_micros() as u64;
            assert_eq!(bucket(micros), i, "bucket {i}");
        }
        for micros in [32u64, 33, 100, 1000, 12_345, 999_999, 60_000_000] {
            let mid = midpoint(bucket(micros)).as_nanos() as f64 / 1000.0;
            let err = (mid - micros as f64).abs() / micros as f64;
            assert!(err <= 1.0 / 64.0 + 1e-9, "{micros} µs -> {mid} µs");
        }
    }

    #[test]
    fn huge_samples_land_in_the_last_bucket_and_keep_an_exact_max() {
        let mut d = Delay::new();
        d.record(Duration::from_secs(3600));
        assert_eq!(d.max(), Duration::from_secs(3600));
        assert_eq!(d.percentile(0.5), Duration::from_secs(3600));
    }

    #[test]
    fn the_debug_form_is_one_line() {
        let mut d = Delay::new();
        d.record(Duration::from_millis(5));
        let s = format!("{d:?}");
        assert!(s.starts_with("n=1 p50=") && !s.contains('\n'), "{s}");
    }
}
