//! `bn_train` under autodiff: checkpoints its inputs, keeps the statistics the
//! gradients need, and calls `NormGrads` backwards. The mean and variance leave the
//! graph untracked (they only update the running statistics). `bn_infer` under
//! autodiff is Burn's own batch norm.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend};

use super::{BnInputs, BnOutput, BnRunning, BnStats, NormGrads, NormOps, NormShape};
use crate::train::ops::register;

impl<B: NormOps + NormGrads, C: CheckpointStrategy> NormOps for Autodiff<B, C> {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> BnOutput<Self> {
        tracked::<B, C, 3>([x, gamma, beta], NormShape { epsilon, relu })
    }

    fn bn_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOutput<Self> {
        let shape = NormShape {
            epsilon,
            relu: true,
        };
        tracked::<B, C, 4>([x, gamma, beta, residual], shape)
    }

    fn bn_infer(
        x: FloatTensor<Self>,
        params: BnRunning<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let y = by_parts::<Self>(x, params, epsilon);
        if relu {
            Self::relu(y)
        } else {
            y
        }
    }

    fn bn_add_relu_infer(
        x: FloatTensor<Self>,
        params: BnRunning<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let y = by_parts::<Self>(x, params, epsilon);
        Self::relu(Self::float_add(y, residual))
    }
}

/// Inference batch norm from Burn's own operation, tracked as Burn tracks it (a frozen
/// batch norm on a training device still passes gradients to its input).
fn by_parts<B: Backend>(x: FloatTensor<B>, p: BnRunning<B>, epsilon: f64) -> FloatTensor<B> {
    B::batch_norm(x, p.gamma, p.beta, p.mean, p.variance, epsilon)
}

/// The backward pass of a `bn_train` call with `N` inputs: x, gamma, beta [, residual].
#[derive(Debug)]
struct NormBackward<const N: usize>;

/// `[x, gamma, beta, residual?]` as named inputs.
fn named<B: Backend, const N: usize>(inputs: [FloatTensor<B>; N]) -> BnInputs<B> {
    let mut inputs = inputs.into_iter();
    let mut next = || inputs.next().expect("x, gamma and beta");
    let (x, gamma, beta) = (next(), next(), next());
    BnInputs {
        x,
        gamma,
        beta,
        residual: inputs.next(),
    }
}

impl<B: NormOps + NormGrads, const N: usize> Backward<B, N> for NormBackward<N> {
    /// The inputs (checkpointed) and the statistics.
    type State = ([NodeId; N], BnStats<B>, NormShape);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (inputs, stats, shape) = ops.state;
        let inputs = named(inputs.map(|n| checkpointer.retrieve_node_output(n)));
        let d = B::bn_train_grads(inputs, stats, grad, shape);
        let mut values = [Some(d.x), Some(d.gamma), Some(d.beta), d.residual].into_iter();
        let values = std::array::from_fn(|_| values.next().flatten());
        register::<B, N>(grads, ops.parents.map(|p| p.map(|n| n.id)), values);
    }
}

/// `bn_train` on `inputs` (x, gamma, beta [, residual]), recorded for autodiff.
fn tracked<B: NormOps + NormGrads, C: CheckpointStrategy, const N: usize>(
    inputs: [FloatTensor<Autodiff<B, C>>; N],
    shape: NormShape,
) -> BnOutput<Autodiff<B, C>> {
    let prepared = NormBackward::<N>
        .prepare::<C>(inputs.each_ref().map(|t| t.node()))
        .compute_bound()
        .stateful();
    let run = |inputs: [FloatTensor<Autodiff<B, C>>; N]| {
        let BnInputs {
            x,
            gamma,
            beta,
            residual,
        } = named::<B, N>(inputs.map(|t| t.into_primitive()));
        match residual {
            None => B::bn_train(x, gamma, beta, shape.epsilon, shape.relu),
            Some(r) => B::bn_add_relu_train(x, gamma, beta, r, shape.epsilon),
        }
    };
    let (y, out) = match prepared {
        OpsKind::Tracked(mut prep) => {
            let kept = inputs.each_ref().map(|t| prep.checkpoint(t));
            let BnOutput {
                y,
                mean,
                variance,
                offset,
            } = run(inputs);
            let stats = BnStats {
                offset: offset.clone(),
                variance: variance.clone(),
            };
            (
                prep.finish((kept, stats, shape), y),
                [mean, variance, offset],
            )
        }
        OpsKind::UnTracked(prep) => {
            let BnOutput {
                y,
                mean,
                variance,
                offset,
            } = run(inputs);
            (prep.finish(y), [mean, variance, offset])
        }
    };
    let [mean, variance, offset] = out.map(FloatTensor::<Autodiff<B, C>>::new);
    BnOutput {
        y,
        mean,
        variance,
        offset,
    }
}
