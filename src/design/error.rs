//! Typed errors for parameter sets that pycls would reject (with an assert) or that
//! would describe an absurd network. Messages are written for the page's users.

use thiserror::Error;

/// Why a parameter set does not describe a valid RegNet.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParamError {
    #[error("depth d must be a whole number from 1 to {max} (got {got})")]
    Depth { got: u32, max: u32 },
    #[error("initial width w0 must be from 1 to {max} (got {got})")]
    W0Range { got: u32, max: u32 },
    #[error("initial width w0 = {w0} must be a multiple of the quantum q = {q}")]
    W0NotMultiple { w0: u32, q: u32 },
    #[error("slope wa must be a number from 0 to {max} (got {got})")]
    Slope { got: f64, max: f64 },
    #[error("width multiplier wm must be greater than 1 and at most {max} (got {got}); wm = 1 would put every block in one stage forever")]
    Multiplier { got: f64, max: f64 },
    #[error("quantum q must be a whole number from 1 to {max} (got {got})")]
    Quantum { got: u32, max: u32 },
    #[error("group width g must be a whole number from 1 to {max} (got {got})")]
    GroupWidth { got: u32, max: u32 },
    #[error("bottleneck ratio b must be from {min} to {max} (got {got})")]
    Bottleneck { got: f64, min: f64, max: f64 },
    #[error("bottleneck ratio b = {got} is not supported: 1/b must be a whole number or below 1 (try b = 1, 2, 4 or 0.5)")]
    BottleneckNotInverse { got: f64 },
    #[error("the network is too wide: a layer would have {width} channels (the limit is {max})")]
    TooWide { width: u64, max: u64 },
    #[error("stage {stage}: {reason}")]
    InvalidStage { stage: usize, reason: String },
    #[error("unknown preset '{0}' (try `regnetx-200mf` .. `regnety-32gf`)")]
    UnknownPreset(String),
    #[error("unknown dataset '{0}' (use imagenet or cifar10)")]
    UnknownDataset(String),
}
