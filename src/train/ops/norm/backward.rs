//! `bn_train` under autodiff: checkpoints its inputs, keeps the statistics the
//! gradients need, and calls the gradients' operations backwards. The mean and
//! variance leave the graph untracked (they only update the running statistics).
//! `bn_infer` under autodiff is Burn's own batch norm (the trait's default).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend};

use super::{train_grads, BnInputs, BnOutput, BnStats, NormOps, NormShape};
use crate::train::ops::register;

impl<B: NormOps, C: CheckpointStrategy> NormOps for Autodiff<B, C> {
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

    /// Not differentiated again: the gradients are constants to autodiff (nothing here
    /// takes a second derivative).
    fn bn_train_grads(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        offset: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [x, gamma, beta, offset, variance, grad] =
            [x, gamma, beta, offset, variance, grad].map(Self::inner);
        let (dx, dgamma, dbeta) =
            B::bn_train_grads(x, gamma, beta, offset, variance, grad, epsilon, relu);
        (
            Self::from_inner(dx),
            Self::from_inner(dgamma),
            Self::from_inner(dbeta),
        )
    }

    fn bn_add_relu_train_grads(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        offset: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [x, gamma, beta, residual, offset, variance, grad] =
            [x, gamma, beta, residual, offset, variance, grad].map(Self::inner);
        let (dx, dgamma, dbeta, dr) =
            B::bn_add_relu_train_grads(x, gamma, beta, residual, offset, variance, grad, epsilon);
        (
            Self::from_inner(dx),
            Self::from_inner(dgamma),
            Self::from_inner(dbeta),
            Self::from_inner(dr),
        )
    }

    /// The inner backend's (the statistics are constants to autodiff).
    fn bn_running(
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        batch_mean: FloatTensor<Self>,
        batch_variance: FloatTensor<Self>,
        momentum: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [mean, variance, batch_mean, batch_variance] =
            [mean, variance, batch_mean, batch_variance].map(Self::inner);
        let (mean, variance) = B::bn_running(mean, variance, batch_mean, batch_variance, momentum);
        (Self::from_inner(mean), Self::from_inner(variance))
    }
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

impl<B: NormOps, const N: usize> Backward<B, N> for NormBackward<N> {
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
        let d = train_grads::<B>(inputs, stats, grad, shape);
        let mut values = [Some(d.x), Some(d.gamma), Some(d.beta), d.residual].into_iter();
        let values = std::array::from_fn(|_| values.next().flatten());
        register::<B, N>(grads, ops.parents.map(|p| p.map(|n| n.id)), values);
    }
}

/// `bn_train` on `inputs` (x, gamma, beta [, residual]), recorded for autodiff.
fn tracked<B: NormOps, C: CheckpointStrategy, const N: usize>(
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
