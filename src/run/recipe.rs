//! A training run, fully described: with the model config and the seed in it, a
//! recipe reproduces a run. Pure data plus the learning-rate schedule.

use serde::{Deserialize, Serialize};

/// pycls's warm-up starts at this fraction of the base learning rate.
pub const WARMUP_FACTOR: f64 = 0.1;

/// How to train: optimiser, schedule, data sizes and the seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub epochs: u32,
    /// Class-balanced subset of the training set.
    pub train_images: usize,
    /// Class-balanced subset of the test set.
    pub test_images: usize,
    pub batch: usize,
    /// Base learning rate (half-cosine decay over all steps).
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    /// L2 penalty on conv and linear weights; none on BN parameters and biases.
    pub weight_decay: f64,
    /// Linear warm-up from `WARMUP_FACTOR * lr`, in epochs (may be fractional).
    pub warmup_epochs: f64,
    pub label_smoothing: f64,
    /// Zero-initialise the last BN scale of each residual branch (pycls's
    /// `BN.ZERO_INIT_FINAL_GAMMA`, off by default there too: it slows very short runs).
    pub zero_final_gamma: bool,
    /// Seeds the subsets, the initial weights, the batch order and the augmentation.
    pub seed: u64,
}

impl Default for Recipe {
    /// Small enough to finish in about a minute on a laptop GPU.
    fn default() -> Self {
        Recipe {
            epochs: 5,
            train_images: 10_000,
            test_images: 2_000,
            batch: 128,
            lr: 0.2,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            warmup_epochs: 1.0,
            label_smoothing: 0.0,
            zero_final_gamma: false,
            seed: 0,
        }
    }
}

impl Recipe {
    /// Steps per epoch (the last partial batch is dropped, as pycls's loader does).
    pub fn steps_per_epoch(&self) -> usize {
        (self.train_images / self.batch.max(1)).max(1)
    }

    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.epochs as usize
    }

    /// Learning rate at `step` (0-based): half-cosine over the run, times a linear
    /// warm-up factor from `WARMUP_FACTOR` to 1 during the first `warmup_epochs`.
    pub fn lr_at(&self, step: usize) -> f64 {
        let total = self.total_steps().max(1) as f64;
        let t = step as f64 / total;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        let warmup = self.warmup_epochs * self.steps_per_epoch() as f64;
        let factor = if (step as f64) < warmup {
            let alpha = step as f64 / warmup;
            WARMUP_FACTOR * (1.0 - alpha) + alpha
        } else {
            1.0
        };
        self.lr * cosine * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let r = Recipe {
            epochs: 10,
            train_images: 1000,
            batch: 100,
            lr: 1.0,
            warmup_epochs: 2.0,
            ..Recipe::default()
        };
        assert_eq!(r.total_steps(), 100);
        assert!(
            (r.lr_at(0) - 0.1).abs() < 1e-12,
            "warm-up starts at 0.1 * lr"
        );
        assert!(r.lr_at(10) > r.lr_at(5), "rising during warm-up");
        assert!(
            (r.lr_at(50) - 0.5).abs() < 1e-12,
            "half-way down the cosine"
        );
        assert!(r.lr_at(99) < 0.001);
        assert!(r.lr_at(30) > r.lr_at(60));
    }

    #[test]
    fn round_trips_as_json() {
        let r = Recipe {
            seed: 42,
            ..Recipe::default()
        };
        let back: Recipe = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
