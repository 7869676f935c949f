//! The statistics a design-space comparison rests on (the paper's section 2 and the NDS
//! paper): error EDFs, plain and complexity-normalised, the KS distance between them,
//! pycls's bootstrap of a parameter's good range, and the random-search efficiency
//! curve. Pure: every random draw takes its generator, so results are seeded.

pub mod bootstrap;
pub mod edf;
pub mod search;

use thiserror::Error;

pub use bootstrap::{best_of_resamples, good_range, percentile, GoodRange};
pub use edf::{ks_critical, ks_distance, normalized_weights, Edf};
pub use search::{random_search, SearchPoint};

/// Inputs a statistic cannot be computed from.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    #[error("no models to compute it from")]
    Empty,
    #[error("{errors} errors but {weights} weights")]
    Mismatch { errors: usize, weights: usize },
    #[error("an error is not a number: {0}")]
    NotFinite(f64),
    #[error("weights must be non-negative and sum to 1 (they sum to {0})")]
    Weights(f64),
    #[error("cannot bin complexity from {low} to {high} into {bins} bins")]
    Bins { bins: usize, low: f64, high: f64 },
    #[error("complexity bin {bin} of {bins} ({from} to {to}) has no model: use fewer bins or a narrower range")]
    EmptyBin {
        bin: usize,
        bins: usize,
        from: f64,
        to: f64,
    },
}
