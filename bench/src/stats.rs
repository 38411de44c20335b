//! Medians and percentiles of measured samples, and the lateness of timer
//! ticks summed up.
//!
//! Pure arithmetic on numbers already taken: this file must never measure
//! anything itself.

/// The median of `values` (the mean of the two middle ones for an even
/// count); NaN for an empty slice.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Each figure's median over `runs` (lists of one length, one figure per
/// metric), taken figure by figure, so that one list of medians may mix
/// runs; `None` if there are no runs.
pub fn medians(runs: &[Vec<f64>]) -> Option<Vec<f64>> {
    let count = runs.first()?.len();
    let figure = |i: usize| median(&runs.iter().map(|run| run[i]).collect::<Vec<_>>());
    Some((0..count).map(figure).collect())
}

/// The `p`-th percentile (0..=100, nearest rank) of an ascending slice; zero
/// (`T::default()`) for an empty slice.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How late a run's ticks fired, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lateness {
    /// The median tick's.
    pub p50_ms: f64,
    /// The 99th percentile's (nearest rank).
    pub p99_ms: f64,
    /// The latest tick's.
    pub max_ms: f64,
}

impl Lateness {
    /// The summary of each tick's lateness in nanoseconds (negative for an
    /// early tick); `None` when no tick fired.
    pub fn of(mut nanos: Vec<i64>) -> Option<Lateness> {
        nanos.sort_unstable();
        let ms = |p: f64| percentile(&nanos, p) as f64 / 1e6;
        Some(Lateness {
            p50_ms: ms(50.0),
            p99_ms: ms(99.0),
            max_ms: *nanos.last()? as f64 / 1e6,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn medians_are_taken_figure_by_figure() {
        let runs = vec![vec![1.0, 30.0], vec![3.0, 10.0], vec![2.0, 20.0]];
        assert_eq!(medians(&runs), Some(vec![2.0, 20.0]));
        assert_eq!(medians(&[]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile::<u64>(&[], 50.0), 0);
        assert_eq!(percentile(&[-3_i64, 5], 50.0), -3);
    }

    #[test]
    fn lateness_is_summed_up_in_milliseconds() {
        let nanos: Vec<i64> = (1..=100).rev().map(|i| i * 1_000_000).collect();
        let expected = Lateness {
            p50_ms: 50.0,
            p99_ms: 99.0,
            max_ms: 100.0,
        };
        assert_eq!(Lateness::of(nanos), Some(expected));
        assert_eq!(Lateness::of(vec![-2_000_000]).map(|l| l.max_ms), Some(-2.0));
        assert_eq!(Lateness::of(Vec::new()), None);
    }
}
