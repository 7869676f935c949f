//! What can go wrong on the command line, each with the one line the user sees.

use std::path::PathBuf;

use regnet_playground::data::cifar::DataError;
use regnet_playground::design::{FitError, ParamError};
use regnet_playground::space::{SampleError, SpaceError};
use regnet_playground::sweep::SweepError;
use regnet_playground::train::TrainerError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// A flag that does not fit the others (named in the message).
    #[error("{0}")]
    Flag(String),
    #[error("training runs on CIFAR-10: use --dataset cifar10 (the default here)")]
    NotCifar,
    #[error("{}: {source}", path.display())]
    Data { path: PathBuf, source: DataError },
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    #[cfg(not(feature = "gpu"))]
    #[error("this regnet was built without the GPU backend: build it with `cargo build --release --features gpu`")]
    NoGpuBackend,
    #[error("the loss became {loss} at step {step}: try a smaller --lr")]
    Diverged { loss: f32, step: usize },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
