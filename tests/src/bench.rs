//! Interleaved throughput comparison for the adapters' benchmarks: two workloads run in
//! alternating batches, so load from elsewhere on the machine hits both alike, and the ratio
//! is the median of the per-round ratios.

use std::time::Instant;

/// The outcome of [`interleaved`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interleaved {
    /// Median requests per second of the baseline.
    pub baseline_per_sec: f64,
    /// Median requests per second of the candidate.
    pub candidate_per_sec: f64,
    /// Median over rounds of candidate throughput / baseline throughput.
    pub ratio: f64,
}

/// Runs `rounds` rounds of `batch` calls of `baseline` then `batch` calls of `candidate`
/// (the order alternating each round) and compares their throughput.
pub fn interleaved(
    rounds: usize,
    batch: usize,
    mut baseline: impl FnMut(),
    mut candidate: impl FnMut(),
) -> Interleaved {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        batch as f64 / start.elapsed().as_secs_f64()
    };
    let (mut base, mut cand, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (b, c) = if round % 2 == 0 {
            let b = time(&mut baseline);
            (b, time(&mut candidate))
        } else {
            let c = time(&mut candidate);
            (time(&mut baseline), c)
        };
        base.push(b);
        cand.push(c);
        ratios.push(c / b);
    }
    Interleaved {
        baseline_per_sec: median(&mut base),
        candidate_per_sec: median(&mut cand),
        ratio: median(&mut ratios),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
