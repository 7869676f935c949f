//! The RegNet's training layers as Burn backend extensions, one folder per op, laid
//! out as Burn's custom-kernel example: `mod.rs` has the public function the model
//! calls and the op's traits, `backward.rs` wires it into autodiff, `cpu.rs` (and its
//! helpers) holds the kernels for the flex backend, and `gpu.rs` those for Burn's
//! CubeCL backend (wgpu, natively and in the WebGPU worker). Where an op has no kernel
//! of ours, or `Layers` says not to run it, the public functions run Burn's own
//! operations (`generic`).

use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::Backend;

pub use crate::run::Layers;

pub mod conv;
pub mod generic;
pub mod norm;
pub mod se;

pub use conv::same_conv;
pub use norm::{batch_norm, batch_norm_add_relu};
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

/// Where a layer on some device may run our kernels, as `use_layers` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ours {
    /// On flex (by default).
    #[cfg_attr(not(feature = "cpu"), allow(dead_code))]
    Flex,
    /// On Burn's CubeCL backend.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Gpu,
    /// Nowhere: Burn's own operations.
    No,
}

/// Where a layer on `device` runs our kernels, as `use_layers` allows: on flex and on
/// the GPU unless `Layers::Burn`. `Layers::Measured` and `Layers::Ours` choose the same:
/// every kernel of ours was measured faster than Burn's but the GPU's 1x1 layers on
/// narrow models, a few milliseconds a step slower there once Burn has autotuned its
/// products, which makes the first step several times longer (BENCHMARKS.md).
fn ours_on(device: &burn::prelude::Device) -> Ours {
    let layers = layers();
    #[cfg(feature = "cpu")]
    if layers != Layers::Burn && crate::train::cpu::on_flex(device) {
        return Ours::Flex;
    }
    #[cfg(feature = "gpu")]
    if layers != Layers::Burn && crate::train::gpu::on_cube(device) {
        return Ours::Gpu;
    }
    let _ = (device, layers);
    Ours::No
}
