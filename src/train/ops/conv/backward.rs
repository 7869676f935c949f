//! `same_conv` under autodiff: keeps the input when the weight needs a gradient and
//! the weight when the input does, and calls the gradients' operations backwards.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, TensorMetadata};

use super::{ConvOps, ConvShape};
use crate::train::ops::register;

impl<B: ConvOps, C: CheckpointStrategy> ConvOps for Autodiff<B, C> {
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        groups: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvBackward;

        impl<B: ConvOps> Backward<B, 2> for ConvBackward {
            /// The input (kept when the weight needs a gradient), the weight (kept when
            /// the input does), and the shapes.
            type State = (Option<NodeId>, Option<NodeId>, ConvShape);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, shape) = ops.state;
                let dw = x.map(|x| {
                    let x = checkpointer.retrieve_node_output(x);
                    B::same_conv_grad_w(x, grad.clone(), shape)
                });
                let dx = weight.map(|weight| {
                    let weight = checkpointer.retrieve_node_output(weight);
                    B::same_conv_grad_x(grad, weight, shape)
                });
                register::<B, 2>(grads, ops.parents.map(|p| p.map(|n| n.id)), [dx, dw]);
            }
        }

        let shape = ConvShape::new(
            &x.primitive().shape(),
            &weight.primitive().shape(),
            stride,
            groups,
        );
        let (x_tracked, w_tracked) = (x.is_tracked(), weight.is_tracked());
        match ConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = w_tracked.then(|| prep.checkpoint(&x));
                let w_state = x_tracked.then(|| prep.checkpoint(&weight));
                let y = B::same_conv(x.into_primitive(), weight.into_primitive(), stride, groups);
                prep.finish((x_state, w_state, shape), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::same_conv(
                x.into_primitive(),
                weight.into_primitive(),
                stride,
                groups,
            )),
        }
    }

    /// Not differentiated again: the gradients are constants to autodiff (nothing here
    /// takes a second derivative).
    fn same_conv_grad_x(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        conv: ConvShape,
    ) -> FloatTensor<Self> {
        let dx = B::same_conv_grad_x(Self::inner(grad), Self::inner(weight), conv);
        Self::from_inner(dx)
    }

    fn same_conv_grad_w(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        conv: ConvShape,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::same_conv_grad_w(Self::inner(x), Self::inner(grad), conv))
    }
}
