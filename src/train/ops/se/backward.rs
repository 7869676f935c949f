//! `se_train` under autodiff: checkpoints the input and the two weights, keeps what
//! the forward pass computed for the backward one, and calls `se_train_grads` backwards.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend};

use super::{SeGradients, SeKept, SeOps, SeOutput, SeParams};
use crate::train::ops::register;

#[derive(Debug)]
struct SeBackward;

impl<B: SeOps> Backward<B, 5> for SeBackward {
    /// x, w1 and w2 (checkpointed), and what the forward pass kept.
    type State = ([NodeId; 3], SeKept<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let ([x, w1, w2], kept) = ops.state;
        let [x, w1, w2] = [x, w1, w2].map(|n| checkpointer.retrieve_node_output(n));
        let d = B::se_train_grads(x, w1, w2, kept, grad);
        let p = d.params;
        let values = [d.x, p.w1, p.b1, p.w2, p.b2].map(Some);
        register::<B, 5>(grads, ops.parents.map(|p| p.map(|n| n.id)), values);
    }
}

impl<B: SeOps, C: CheckpointStrategy> SeOps for Autodiff<B, C> {
    fn se_train(x: FloatTensor<Self>, params: SeParams<Self>) -> SeOutput<Self> {
        let SeParams { w1, b1, w2, b2 } = params;
        let inputs = [x, w1, b1, w2, b2];
        let prepared = SeBackward
            .prepare::<C>(inputs.each_ref().map(|t| t.node()))
            .compute_bound()
            .stateful();
        let run = |[x, w1, b1, w2, b2]: [FloatTensor<Self>; 5]| {
            let params = SeParams {
                w1: w1.into_primitive(),
                b1: b1.into_primitive(),
                w2: w2.into_primitive(),
                b2: b2.into_primitive(),
            };
            B::se_train(x.into_primitive(), params)
        };
        let (y, kept) = match prepared {
            OpsKind::Tracked(mut prep) => {
                let checkpointed = [&inputs[0], &inputs[1], &inputs[3]].map(|t| prep.checkpoint(t));
                let SeOutput { y, kept } = run(inputs);
                (prep.finish((checkpointed, kept.clone()), y), kept)
            }
            OpsKind::UnTracked(prep) => {
                let SeOutput { y, kept } = run(inputs);
                (prep.finish(y), kept)
            }
        };
        let kept = SeKept {
            pooled: FloatTensor::<Self>::new(kept.pooled),
            gate_hidden: FloatTensor::<Self>::new(kept.gate_hidden),
        };
        SeOutput { y, kept }
    }

    /// Not differentiated again: the gradients are constants to autodiff (nothing here
    /// takes a second derivative).
    fn se_train_grads(
        x: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        kept: SeKept<Self>,
        grad: FloatTensor<Self>,
    ) -> SeGradients<Self> {
        let [x, w1, w2, grad] = [x, w1, w2, grad].map(Self::inner);
        let SeKept {
            pooled,
            gate_hidden,
        } = kept;
        let [pooled, gate_hidden] = [pooled, gate_hidden].map(Self::inner);
        let kept = SeKept {
            pooled,
            gate_hidden,
        };
        let SeGradients { x, params } = B::se_train_grads(x, w1, w2, kept, grad);
        let SeParams { w1, b1, w2, b2 } = params;
        SeGradients {
            x: Self::from_inner(x),
            params: SeParams {
                w1: Self::from_inner(w1),
                b1: Self::from_inner(b1),
                w2: Self::from_inner(w2),
                b2: Self::from_inner(b2),
            },
        }
    }
}
