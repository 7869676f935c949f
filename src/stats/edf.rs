//! Empirical distribution functions of errors, plain and complexity-normalised, and the
//! Kolmogorov-Smirnov distance between two of them.
//!
//! Convention: F(e) is the (weighted) fraction of models with error **at most** e, a
//! right-continuous step function, which at the i-th smallest of n distinct errors is
//! (i + 1) / n: the curve pycls's `plot_edf` draws. The paper writes the strict
//! F(e) = (1/n) sum 1[e_i < e], which equals ours everywhere except exactly at an
//! error, where it takes the value from the left. The KS distance is the same under
//! either convention.

use serde::Serialize;

use super::StatsError;

/// A step function over errors: each distinct error with its weight and the cumulative
/// weight up to and including it (ties merged into one step).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edf {
    /// Distinct errors, ascending.
    errors: Vec<f64>,
    /// F at each of them (the last is 1).
    cumulative: Vec<f64>,
    /// The number of models (not of distinct errors).
    n: usize,
    /// The weighted mean error.
    mean: f64,
    /// Kish's effective sample size, 1 / sum w^2: n for equal weights, fewer when a
    /// normalisation leans on a few models.
    effective_n: f64,
}

impl Edf {
    /// The EDF of `errors`, each model weighing 1/n. Errors must be finite and at least
    /// one given.
    pub fn new(errors: &[f64]) -> Result<Self, StatsError> {
        let weights = vec![1.0 / errors.len().max(1) as f64; errors.len()];
        Self::weighted(errors, &weights)
    }

    /// The EDF of `errors` with `weights` (non-negative, summing to 1 within 1e-9).
    pub fn weighted(errors: &[f64], weights: &[f64]) -> Result<Self, StatsError> {
        if errors.is_empty() {
            return Err(StatsError::Empty);
        }
        if errors.len() != weights.len() {
            return Err(StatsError::Mismatch {
                errors: errors.len(),
                weights: weights.len(),
            });
        }
        if let Some(&bad) = errors.iter().find(|e| !e.is_finite()) {
            return Err(StatsError::NotFinite(bad));
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|w| w.is_nan() || *w < 0.0) || (total - 1.0).abs() > 1e-9 {
            return Err(StatsError::Weights(total));
        }
        let mut order: Vec<usize> = (0..errors.len()).collect();
        order.sort_by(|&a, &b| errors[a].total_cmp(&errors[b]));
        let mut edf = Edf {
            errors: vec![],
            cumulative: vec![],
            n: errors.len(),
            mean: errors.iter().zip(weights).map(|(e, w)| e * w).sum(),
            effective_n: 1.0 / weights.iter().map(|w| w * w).sum::<f64>(),
        };
        let mut sum = 0.0;
        for i in order {
            sum += weights[i];
            if edf.errors.last() == Some(&errors[i]) {
                *edf.cumulative.last_mut().expect("one per error") = sum;
            } else {
                edf.errors.push(errors[i]);
                edf.cumulative.push(sum);
            }
        }
        // Rounding must not leave the top step a hair below 1.
        *edf.cumulative.last_mut().expect("not empty") = 1.0;
        Ok(edf)
    }

    /// F(e): the weight of models with error at most `e`.
    pub fn at(&self, e: f64) -> f64 {
        let steps = self.errors.partition_point(|&x| x <= e);
        if steps == 0 {
            0.0
        } else {
            self.cumulative[steps - 1]
        }
    }

    /// The steps to draw: (error, F from that error on), ascending.
    pub fn steps(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.errors
            .iter()
            .copied()
            .zip(self.cumulative.iter().copied())
    }

    /// The number of models.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Kish's effective sample size (n for an unweighted EDF).
    pub fn effective_n(&self) -> f64 {
        self.effective_n
    }

    /// The lowest error.
    pub fn min(&self) -> f64 {
        self.errors[0]
    }

    /// The (weighted) mean error.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The smallest error e with F(e) >= 1/2 (the lower median for an even count).
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// The smallest error e with F(e) >= p, for p in (0, 1].
    pub fn quantile(&self, p: f64) -> f64 {
        let i = self.cumulative.partition_point(|&c| c < p - 1e-12);
        self.errors[i.min(self.errors.len() - 1)]
    }

    /// pycls's legend entry, "n|min|mean": `"{:3d}|{:.1f}|{:.1f}"`.
    pub fn legend(&self) -> String {
        format!("{:3}|{:.1}|{:.1}", self.n, self.min(), self.mean)
    }
}

/// The Kolmogorov-Smirnov distance sup_e |F_a(e) - F_b(e)| (scipy's `ks_2samp`
/// statistic for unweighted EDFs), in [0, 1].
pub fn ks_distance(a: &Edf, b: &Edf) -> f64 {
    a.errors
        .iter()
        .chain(&b.errors)
        .map(|&e| (a.at(e) - b.at(e)).abs())
        .fold(0.0, f64::max)
}

/// The KS distance two samples of these sizes exceed with probability `alpha` when
/// both come from one distribution: the asymptotic two-sample bound
/// c(alpha) sqrt((n + m) / (n m)), c(alpha) = sqrt(-ln(alpha / 2) / 2) (1.358 at 5%).
/// A distance below it is within what sampling alone produces. The sizes may be
/// effective sizes (`Edf::effective_n`) for normalised EDFs. Asymptotic: for a few
/// dozen models it is slightly conservative next to scipy's exact `ks_2samp` p-value.
pub fn ks_critical(n: f64, m: f64, alpha: f64) -> f64 {
    (-(alpha / 2.0).ln() / 2.0).sqrt() * ((n + m) / (n * m)).sqrt()
}

/// The NDS complexity normalisation (`compute_norm_ws`): the models whose complexity
/// lies strictly inside (low, high), binned into `bins` equal-width bins over that
/// range, each weighted 1 / (bins x its bin's count), so every bin carries 1/bins of
/// the mass whatever the space's complexity distribution. Returns the kept models'
/// indices and weights; a bin with no model is an error naming it.
pub fn normalized_weights(
    complexity: &[f64],
    low: f64,
    high: f64,
    bins: usize,
) -> Result<(Vec<usize>, Vec<f64>), StatsError> {
    if bins == 0 || low.is_nan() || high.is_nan() || low >= high {
        return Err(StatsError::Bins { bins, low, high });
    }
    let width = (high - low) / bins as f64;
    let kept: Vec<usize> = (0..complexity.len())
        .filter(|&i| low < complexity[i] && complexity[i] < high)
        .collect();
    let bin_of = |c: f64| (((c - low) / width) as usize).min(bins - 1);
    let mut counts = vec![0usize; bins];
    for &i in &kept {
        counts[bin_of(complexity[i])] += 1;
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        return Err(StatsError::EmptyBin {
            bin: empty + 1,
            bins,
            from: low + width * empty as f64,
            to: low + width * (empty + 1) as f64,
        });
    }
    let weights = kept
        .iter()
        .map(|&i| 1.0 / (bins * counts[bin_of(complexity[i])]) as f64)
        .collect();
    Ok((kept, weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_at_most_and_ties_merge() {
        let edf = Edf::new(&[3.0, 1.0, 2.0, 2.0]).unwrap();
        assert_eq!(edf.at(0.5), 0.0);
        assert_eq!(edf.at(1.0), 0.25);
        assert_eq!(edf.at(1.5), 0.25);
        assert_eq!(edf.at(2.0), 0.75);
        assert_eq!(edf.at(3.0), 1.0);
        assert_eq!(edf.at(99.0), 1.0);
        assert_eq!(
            edf.steps().collect::<Vec<_>>(),
            [(1.0, 0.25), (2.0, 0.75), (3.0, 1.0)]
        );
        assert_eq!(
            (edf.n(), edf.min(), edf.mean(), edf.median()),
            (4, 1.0, 2.0, 2.0)
        );
        assert_eq!(edf.legend(), "  4|1.0|2.0");
    }

    #[test]
    fn medians_and_quantiles_take_the_lower_value() {
        let edf = Edf::new(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(edf.median(), 2.0);
        assert_eq!(edf.quantile(0.75), 3.0);
        assert_eq!(edf.quantile(1.0), 4.0);
        assert_eq!(Edf::new(&[5.0, 1.0, 3.0]).unwrap().median(), 3.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(Edf::new(&[]), Err(StatsError::Empty));
        assert_eq!(
            Edf::new(&[1.0, f64::NAN]).unwrap_err().to_string(),
            "an error is not a number: NaN"
        );
        assert!(Edf::weighted(&[1.0, 2.0], &[0.5, 0.6]).is_err());
    }

    #[test]
    fn ks_matches_hand_computed_distances() {
        let a = Edf::new(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Edf::new(&[3.0, 4.0, 5.0, 6.0]).unwrap();
        // At e = 2, F_a = 0.5 and F_b = 0.
        assert_eq!(ks_distance(&a, &b), 0.5);
        assert_eq!(ks_distance(&a, &a), 0.0);
        let far = Edf::new(&[10.0, 11.0]).unwrap();
        assert_eq!(ks_distance(&a, &far), 1.0);
        // scipy.stats.ks_2samp([1, 2, 2, 3], [2, 3, 3, 4]).statistic == 0.5
        let c = Edf::new(&[1.0, 2.0, 2.0, 3.0]).unwrap();
        let d = Edf::new(&[2.0, 3.0, 3.0, 4.0]).unwrap();
        assert_eq!(ks_distance(&c, &d), 0.5);
    }

    #[test]
    fn normalized_weights_give_each_bin_equal_mass() {
        // Three models in the low bin, one in the high bin; 0 and 10 sit on the open
        // ends and are dropped.
        let flops = [0.0, 1.0, 2.0, 3.0, 7.0, 10.0];
        let (kept, weights) = normalized_weights(&flops, 0.0, 10.0, 2).unwrap();
        assert_eq!(kept, [1, 2, 3, 4]);
        assert_eq!(weights, [1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 0.5]);
        let errors: Vec<f64> = kept
            .iter()
            .map(|&i| [9.0, 4.0, 5.0, 6.0, 1.0, 9.0][i])
            .collect();
        let edf = Edf::weighted(&errors, &weights).unwrap();
        assert_eq!(edf.at(1.0), 0.5);
        let err = normalized_weights(&flops, 0.0, 10.0, 5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "complexity bin 3 of 5 (4 to 6) has no model: use fewer bins or a narrower range"
        );
    }

    #[test]
    fn ks_critical_values_follow_the_asymptotic_bound() {
        // c(0.05) = sqrt(-ln(0.025) / 2) = 1.35810 (2 against 2 models: sqrt(4 / 4) = 1);
        // 48 against 48 models: 1.35810 / sqrt(24).
        assert!((ks_critical(2.0, 2.0, 0.05) - 1.358_102).abs() < 1e-6);
        assert!((ks_critical(48.0, 48.0, 0.05) - 0.277_221).abs() < 1e-6);
        // A stricter level needs a larger distance; more models, a smaller one.
        assert!(ks_critical(48.0, 48.0, 0.01) > ks_critical(48.0, 48.0, 0.05));
        assert!(ks_critical(96.0, 96.0, 0.05) < ks_critical(48.0, 48.0, 0.05));
    }

    #[test]
    fn effective_size_is_n_unweighted_and_smaller_when_weights_lean() {
        assert_eq!(Edf::new(&[1.0, 2.0, 3.0, 4.0]).unwrap().effective_n(), 4.0);
        let lean = Edf::weighted(&[1.0, 2.0], &[0.75, 0.25]).unwrap();
        assert!((lean.effective_n() - 1.6).abs() < 1e-12);
    }
}
