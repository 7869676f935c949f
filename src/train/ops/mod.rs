//! The RegNet's training layers as Burn backend extensions, one folder per op, laid
//! out as Burn's custom-kernel example: `mod.rs` has the public function the model
//! calls and the op's traits, `backward.rs` wires it into autodiff, `cpu.rs` (and its
//! helpers) holds the kernels for the flex backend. On any other backend the public
//! functions run Burn's own operations (`generic`). A build without the `cpu` feature
//! (the WebGPU worker) has no flex, so its layers are `generic`'s alone.

use std::sync::atomic::{AtomicBool, Ordering};

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

/// Set when every layer is to run Burn's own operations (`generic`) instead of ours.
static BURN_LAYERS: AtomicBool = AtomicBool::new(false);

/// Makes every layer of this process run Burn's own operations instead of our kernels
/// (`on`), or ours again: the peer our kernels are benchmarked against in the same run
/// (`regnet bench --burn-layers`).
pub fn use_burn_layers(on: bool) {
    BURN_LAYERS.store(on, Ordering::Relaxed);
}

/// Whether our kernels may run (`use_burn_layers` has not switched them off).
fn ours() -> bool {
    !BURN_LAYERS.load(Ordering::Relaxed)
}
