//! The RegNet's training layers as Burn backend extensions, one folder per op, laid
//! out as Burn's custom-kernel example: `mod.rs` has the public function the model
//! calls and the op's traits, `backward.rs` wires it into autodiff, `cpu.rs` (and its
//! helpers) holds the kernels for the flex backend. On any other backend the public
//! functions run Burn's own operations (`generic`). A build without the `cpu` feature
//! (the WebGPU worker) has no flex, so its layers are `generic`'s alone.

#[cfg(feature = "cpu")]
use burn::backend::autodiff::grads::Gradients;
#[cfg(feature = "cpu")]
use burn::backend::autodiff::NodeId;
#[cfg(feature = "cpu")]
use burn::backend::tensor::FloatTensor;
#[cfg(feature = "cpu")]
use burn::backend::Backend;

#[cfg(feature = "cpu")]
pub mod conv;
pub mod generic;
#[cfg(feature = "cpu")]
pub mod norm;
#[cfg(feature = "cpu")]
pub mod se;

#[cfg(feature = "cpu")]
pub use conv::same_conv;
#[cfg(not(feature = "cpu"))]
pub use generic::{batch_norm, batch_norm_add_relu, same_conv, squeeze_excite};
#[cfg(feature = "cpu")]
pub use norm::{batch_norm, batch_norm_add_relu};
#[cfg(feature = "cpu")]
pub use se::squeeze_excite;

#[cfg(feature = "cpu")]
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
