//! Training RegNets with Burn: the model, the recipe, and a step-at-a-time
//! trainer the caller drives (so a browser can yield between steps). The recipe and
//! the memory estimate are plain data and arithmetic, also used by the page, which
//! builds without Burn (feature `training`).

#[cfg(feature = "training")]
pub mod conv;
pub mod memory;
#[cfg(feature = "training")]
pub mod model;
#[cfg(feature = "training")]
pub mod norm;
pub mod recipe;
#[cfg(feature = "training")]
pub mod se;
#[cfg(feature = "training")]
pub mod trainer;

#[cfg(feature = "training")]
pub use model::RegNet;
pub use recipe::Recipe;
#[cfg(feature = "training")]
pub use trainer::{Trainer, TrainerError};

/// The largest `|a - b| / (1 + |b|)` between two f32 tensors of one shape: how our
/// kernels' tests compare them with Burn's.
#[cfg(all(test, feature = "training"))]
fn worst_relative_error(a: &burn::tensor::TensorData, b: &burn::tensor::TensorData) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f32::max)
}
