//! The seed-noise reference: how far apart the error EDFs of the *same* models lie when
//! they are trained again with other seeds. A KS distance between two design spaces
//! that is no larger than this says nothing about the spaces, only about training
//! noise. (The other noise, which models were drawn, is `KsPair::critical`.)

use serde::Serialize;

use super::{Sweep, SweepModel};
use crate::stats::{ks_distance, Edf};

/// The noise of training the same models with different seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedNoise {
    /// Models trained with every seed, the ones the reference is measured on.
    pub models: usize,
    /// How many times each of them was trained.
    pub seeds: usize,
    /// The pooled standard deviation of one model's error across seeds, in points
    /// (the square root of the mean within-model variance, n - 1 in each).
    pub sd: f64,
    /// The mean and the largest KS distance between the EDFs of two seeds.
    pub ks_mean: f64,
    pub ks_max: f64,
}

/// Why no reference could be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoiseError {
    #[error("the seed-noise reference needs the same models trained at least twice; got {0} sweep(s) holding them")]
    TooFewSeeds(usize),
    #[error("the seed-noise sweeps share {0} model(s); it takes at least 2")]
    TooFewModels(usize),
}

/// The noise reference from `replicas`: sweeps that trained the same models with
/// different seeds (`regnet sweep --first K --seed S`). The models are those of the
/// first replica found in every other one; a model is identified by its parameters and
/// complexity, as its run records give them.
pub fn seed_noise(replicas: &[&Sweep]) -> Result<SeedNoise, NoiseError> {
    if replicas.len() < 2 {
        return Err(NoiseError::TooFewSeeds(replicas.len()));
    }
    let find = |sweep: &Sweep, model: &SweepModel| {
        sweep
            .models
            .iter()
            .find(|m| same_model(m, model))
            .map(|m| m.error)
    };
    // errors[k][r]: model k's error in replica r.
    let errors: Vec<Vec<f64>> = replicas[0]
        .models
        .iter()
        .filter_map(|model| replicas.iter().map(|r| find(r, model)).collect())
        .collect();
    if errors.len() < 2 {
        return Err(NoiseError::TooFewModels(errors.len()));
    }
    let seeds = replicas.len();
    let variance: f64 = errors
        .iter()
        .map(|e| {
            let mean = e.iter().sum::<f64>() / seeds as f64;
            e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64
        })
        .sum::<f64>()
        / errors.len() as f64;
    let edfs: Vec<Edf> = (0..seeds)
        .map(|r| {
            let column: Vec<f64> = errors.iter().map(|e| e[r]).collect();
            Edf::new(&column).expect("at least 2 finished models")
        })
        .collect();
    let mut distances = vec![];
    for a in 0..seeds {
        for b in a + 1..seeds {
            distances.push(ks_distance(&edfs[a], &edfs[b]));
        }
    }
    Ok(SeedNoise {
        models: errors.len(),
        seeds,
        sd: variance.sqrt(),
        ks_mean: distances.iter().sum::<f64>() / distances.len() as f64,
        ks_max: distances.iter().copied().fold(0.0, f64::max),
    })
}

/// Whether `sweep` holds every model of `replica` (so it can serve as one more seed).
pub fn holds_all(sweep: &Sweep, replica: &Sweep) -> bool {
    replica
        .models
        .iter()
        .all(|m| sweep.models.iter().any(|s| same_model(s, m)))
}

fn same_model(a: &SweepModel, b: &SweepModel) -> bool {
    a.values == b.values && (a.flops, a.params, a.acts) == (b.flops, b.params, b.acts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(errors: &[(f64, u64)]) -> Sweep {
        Sweep {
            name: "s".into(),
            models: errors
                .iter()
                .map(|&(error, flops)| SweepModel {
                    error,
                    flops,
                    values: vec![("d".into(), flops as f64)],
                    ..SweepModel::default()
                })
                .collect(),
            unfinished: 0,
        }
    }

    #[test]
    fn noise_pools_each_models_spread_and_compares_the_seeds_edfs() {
        // Models 1..3 trained with three seeds; replica b also holds another model,
        // which is ignored; replica c lists them in another order.
        let a = sweep(&[(10.0, 1), (20.0, 2), (30.0, 3)]);
        let b = sweep(&[(12.0, 1), (99.0, 9), (20.0, 2), (28.0, 3)]);
        let c = sweep(&[(29.0, 3), (11.0, 1), (23.0, 2)]);
        let got = seed_noise(&[&a, &b, &c]).unwrap();
        assert_eq!((got.models, got.seeds), (3, 3));
        // Within-model variances (n - 1): 1, 3, 1; pooled sd sqrt(5/3).
        assert!((got.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // a vs b and a vs c: F_a(10) = 1/3 against 0; b vs c: F_c(11) = 1/3 against 0.
        assert!((got.ks_max - 1.0 / 3.0).abs() < 1e-12);
        assert!(holds_all(&b, &a));
        assert!(!holds_all(&a, &b));
    }

    #[test]
    fn one_seed_or_disjoint_models_are_named() {
        let a = sweep(&[(10.0, 1), (20.0, 2)]);
        let b = sweep(&[(10.0, 3), (20.0, 4)]);
        assert_eq!(seed_noise(&[&a]), Err(NoiseError::TooFewSeeds(1)));
        assert_eq!(seed_noise(&[&a, &b]), Err(NoiseError::TooFewModels(0)));
    }
}
