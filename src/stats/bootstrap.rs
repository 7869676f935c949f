//! pycls's empirical bootstrap of the good region (`analysis.get_filters`): draw
//! `resamples` samples of max(1, int(fraction x n)) models with replacement, keep the
//! lowest-error model of each (the first drawn on a tie, as `np.argmin`), and report,
//! per parameter, the 2.5th, 50th and 97.5th percentiles of the kept models' values
//! (NumPy's default linear interpolation). pycls draws 2,500 samples of 25% unseeded;
//! the paper 10^4; we take the generator as an argument so the result is reproducible.

use rand::Rng;
use serde::Serialize;

use super::StatsError;

/// Where the best models of a parameter lie: the 95% interval and its median.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GoodRange {
    pub low: f64,
    pub median: f64,
    pub high: f64,
}

/// The index of the lowest-error model in each of `resamples` bootstrap samples of
/// max(1, int(fraction x n)) models drawn with replacement.
pub fn best_of_resamples(
    errors: &[f64],
    resamples: usize,
    fraction: f64,
    rng: &mut impl Rng,
) -> Result<Vec<usize>, StatsError> {
    if errors.is_empty() || resamples == 0 {
        return Err(StatsError::Empty);
    }
    if let Some(&bad) = errors.iter().find(|e| !e.is_finite()) {
        return Err(StatsError::NotFinite(bad));
    }
    let size = ((fraction * errors.len() as f64) as usize).max(1);
    Ok((0..resamples)
        .map(|_| {
            (0..size)
                .map(|_| rng.random_range(0..errors.len()))
                .reduce(|best, i| if errors[i] < errors[best] { i } else { best })
                .expect("at least one draw")
        })
        .collect())
}

/// The good range of a parameter: percentiles 2.5, 50 and 97.5 of `values` at the
/// bootstrap winners `best` (from `best_of_resamples`).
pub fn good_range(values: &[f64], best: &[usize]) -> Result<GoodRange, StatsError> {
    let mut kept: Vec<f64> = best.iter().map(|&i| values[i]).collect();
    if kept.is_empty() {
        return Err(StatsError::Empty);
    }
    kept.sort_by(f64::total_cmp);
    Ok(GoodRange {
        low: percentile(&kept, 2.5),
        median: percentile(&kept, 50.0),
        high: percentile(&kept, 97.5),
    })
}

/// `np.percentile(sorted, p)` with NumPy's default linear interpolation; `sorted` must
/// be ascending and non-empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, frac) = (rank.floor() as usize, rank.fract());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0];
        // np.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) == [1.075, 2.5, 3.925]
        assert!((percentile(&x, 2.5) - 1.075).abs() < 1e-12);
        assert_eq!(percentile(&x, 50.0), 2.5);
        assert!((percentile(&x, 97.5) - 3.925).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 50.0), 7.0);
    }

    #[test]
    fn the_good_range_finds_the_parameter_of_the_best_models() {
        // Error falls as the value approaches 10: the winners' values cluster there.
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 20)).collect();
        let errors: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v - 10.0).abs() + i as f64 * 1e-4)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let best = best_of_resamples(&errors, 2_500, 0.25, &mut rng).unwrap();
        assert_eq!(best.len(), 2_500);
        let range = good_range(&values, &best).unwrap();
        assert_eq!(range.median, 10.0);
        assert!(range.low >= 9.0 && range.high <= 11.0, "{range:?}");
        // Seeded: the same generator state gives the same winners.
        let again =
            best_of_resamples(&errors, 2_500, 0.25, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(best, again);
    }

    #[test]
    fn one_model_wins_every_resample() {
        let best = best_of_resamples(&[3.0], 10, 0.25, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(best, vec![0; 10]);
        assert_eq!(
            best_of_resamples(&[], 10, 0.25, &mut ChaCha8Rng::seed_from_u64(1)),
            Err(StatsError::Empty)
        );
    }
}
