//! The RegNet's training layers as Burn backend extensions, one folder per op, laid
//! out as Burn's custom-kernel example: `mod.rs` has the public function the model
//! calls and the op's traits, `backward.rs` wires it into autodiff, `cpu.rs` (and its
//! helpers) holds the kernels for the flex backend. On any other backend the public
//! functions run Burn's own operations.

use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::Backend;

pub mod conv;
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
