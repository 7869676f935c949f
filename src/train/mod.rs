//! Training RegNets with Burn: the model (`model`), its layers as backend extensions
//! with our own CPU and GPU kernels (`ops`, over the shared helpers of `cpu` and `gpu`), and a
//! step-at-a-time trainer the caller drives (so a browser can yield between steps). What a run is
//! (its spec, recipe, progress and record) lives in `run`, without Burn.

#[cfg(feature = "cpu")]
pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod model;
pub mod ops;
pub mod trainer;

pub use model::RegNet;
pub use trainer::{Trainer, TrainerError};

/// The largest `|a - b| / (1 + |b|)` between two f32 tensors of one shape: how our
/// kernels' tests compare them with Burn's.
#[cfg(test)]
fn worst_relative_error(a: &burn::tensor::TensorData, b: &burn::tensor::TensorData) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f32::max)
}
