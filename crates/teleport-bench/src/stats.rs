//! Latency summaries: nearest-rank percentiles over a set of samples.

use std::time::Duration;

/// p50 / p99 / max / mean of a set of durations, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub(crate) struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest sample.
    pub max_us: u64,
    /// Mean.
    pub mean_us: u64,
}

impl Summary {
    /// Summarises `samples` (in any order); all zero when empty.
    pub(crate) fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted: Vec<u64> = samples.iter().map(|d| micros(*d)).collect();
        sorted.sort_unstable();
        let total: u128 = sorted.iter().map(|&s| u128::from(s)).sum();
        Self {
            count: sorted.len(),
            p50_us: nearest_rank(&sorted, 50.0),
            p90_us: nearest_rank(&sorted, 90.0),
            p99_us: nearest_rank(&sorted, 99.0),
            max_us: sorted[sorted.len() - 1],
            mean_us: u64::try_from(total / sorted.len() as u128).unwrap_or(u64::MAX),
        }
    }
}

/// The smallest sample with at least `percent` % of the samples at or below it.
fn nearest_rank(sorted: &[u64], percent: f64) -> u64 {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The median of `values` (the lower middle one for an even count); 0 when empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_us, 50);
        assert_eq!(s.p90_us, 90);
        assert_eq!(s.p99_us, 99);
        assert_eq!(s.max_us, 100);
        assert_eq!(s.mean_us, 50);
    }

    #[test]
    fn small_and_empty_sets() {
        let one = Summary::of(&[Duration::from_millis(2)]);
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (2000, 2000, 2000));
        assert_eq!(Summary::of(&[]), Summary::default());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }
}
