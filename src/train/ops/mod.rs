//! The RegNet's training layers as Burn backend extensions, one folder per op, laid
//! out as Burn's custom-kernel example: `mod.rs` has the public function the model
//! calls and the op's traits, `backward.rs` wires it into autodiff, `cpu.rs` (and its
//! helpers) holds the kernels for the flex backend, and `gpu.rs` those for Burn's
//! CubeCL backend (wgpu; so far the convolution's). Where an op has no kernel of ours,
//! or `Layers` says not to run it, the public functions run Burn's own operations
//! (`generic`). A build without the `cpu` feature (the WebGPU worker) has no flex, so
//! its batch norm and squeeze-excitation are `generic`'s alone.

use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::Backend;

pub mod conv;
pub mod generic;
#[cfg(feature = "cpu")]
pub mod norm;
#[cfg(feature = "cpu")]
pub mod se;

pub use conv::same_conv;
#[cfg(not(feature = "cpu"))]
pub use generic::{batch_norm, batch_norm_add_relu, squeeze_excite};
#[cfg(feature = "cpu")]
pub use norm::{batch_norm, batch_norm_add_relu};
#[cfg(feature = "cpu")]
pub use se::squeeze_excite;

/// Hands input `i` its gradient `values[i]`, for every input autodiff tracks
/// (`parents[i]` is `None` for one it does not) and every gradient computed.
fn register<B: Backend, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    values: [Option<FloatTensor<B>>; N],
) {
    for (node, value) in parents.into_iter().zip(values) {
        if let (Some(node), Some(value)) = (node, value) {
            grads.register::<B>(node, value);
        }
    }
}

/// Which implementation of the layers a process runs, where there is a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layers {
    /// Ours where they are measured faster than Burn's: on flex (BENCHMARKS.md). On
    /// the GPU, Burn's: our GPU kernels are slower than Burn's on Mesa's lavapipe and
    /// not yet measured on a real GPU (issue 16).
    Measured,
    /// Ours wherever we have them (on flex and, for 3x3 convolutions, on the GPU).
    Ours,
    /// Burn's own operations everywhere (`generic`): the peer ours are benchmarked
    /// against in the same run.
    Burn,
}

/// `Layers` as a number, for the process-wide setting.
static LAYERS: AtomicU8 = AtomicU8::new(Layers::Measured as u8);

/// Makes every layer of this process run `layers` (`regnet bench --layers`); the
/// default is `Layers::Measured`.
pub fn use_layers(layers: Layers) {
    LAYERS.store(layers as u8, Ordering::Relaxed);
}

/// The setting `use_layers` made.
fn layers() -> Layers {
    match LAYERS.load(Ordering::Relaxed) {
        x if x == Layers::Ours as u8 => Layers::Ours,
        x if x == Layers::Burn as u8 => Layers::Burn,
        _ => Layers::Measured,
    }
}

/// Whether our kernels may run on flex.
#[cfg(feature = "cpu")]
fn ours_on_flex() -> bool {
    layers() != Layers::Burn
}

/// Whether our kernels may run on the GPU.
#[cfg(feature = "gpu")]
fn ours_on_gpu() -> bool {
    layers() == Layers::Ours
}
