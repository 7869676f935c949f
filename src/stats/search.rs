//! The NDS paper's random-search efficiency: how good is the best of k models drawn at
//! random from a space? For each experiment size k, `trials` times draw k models (with
//! replacement, each by its weight: 1/n, or the complexity-normalised weights) and take
//! the lowest error; report the mean and standard deviation over trials. A space whose
//! curve falls faster finds good models with fewer trained models.

use rand::Rng;
use serde::Serialize;

use super::StatsError;

/// The best error of k random models: mean and standard deviation over the trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchPoint {
    pub k: usize,
    pub mean: f64,
    pub sd: f64,
}

/// The curve at each experiment size in `sizes` (the NDS plots use k = 1, 2, 4, ...).
pub fn random_search(
    errors: &[f64],
    weights: &[f64],
    sizes: &[usize],
    trials: usize,
    rng: &mut impl Rng,
) -> Result<Vec<SearchPoint>, StatsError> {
    if errors.is_empty() || trials == 0 {
        return Err(StatsError::Empty);
    }
    if errors.len() != weights.len() {
        return Err(StatsError::Mismatch {
            errors: errors.len(),
            weights: weights.len(),
        });
    }
    let total: f64 = weights.iter().sum();
    if weights.iter().any(|w| w.is_nan() || *w < 0.0) || (total - 1.0).abs() > 1e-9 {
        return Err(StatsError::Weights(total));
    }
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect();
    let last = errors.len() - 1;
    // The model whose cumulative weight first exceeds u (zero weights are never drawn).
    let pick = |u: f64| errors[cumulative.partition_point(|&c| c <= u).min(last)];
    Ok(sizes
        .iter()
        .map(|&k| {
            let bests: Vec<f64> = (0..trials)
                .map(|_| {
                    (0..k.max(1))
                        .map(|_| pick(rng.random::<f64>() * total))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            let mean = bests.iter().sum::<f64>() / trials as f64;
            let var = bests.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / trials as f64;
            SearchPoint {
                k,
                mean,
                sd: var.sqrt(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn the_best_of_k_matches_its_closed_form() {
        // Errors 1..=4, equal weights: the best of k is above e with probability
        // ((4 - e) / 4)^k, so E[best of 2] = sum over e of P(best >= e) = 1 + (3/4)^2
        // + (2/4)^2 + (1/4)^2 = 1.875.
        let errors = [1.0, 2.0, 3.0, 4.0];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let curve = random_search(&errors, &[0.25; 4], &[1, 2, 64], 20_000, &mut rng).unwrap();
        assert!((curve[0].mean - 2.5).abs() < 0.03, "{curve:?}");
        assert!((curve[1].mean - 1.875).abs() < 0.03, "{curve:?}");
        assert!(
            (curve[2].mean - 1.0).abs() < 1e-3 && curve[2].sd < 0.05,
            "{curve:?}"
        );
        // Weight on one model only: every draw is that model.
        let only = random_search(&errors, &[0.0, 0.0, 1.0, 0.0], &[3], 100, &mut rng).unwrap();
        assert_eq!((only[0].mean, only[0].sd), (3.0, 0.0));
    }
}
