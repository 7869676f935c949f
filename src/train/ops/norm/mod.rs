//! Batch norm in training mode, with the ReLU that follows most of them (and, at a
//! block's end, the shortcut added before it), fast on the CPU.
//!
//! Burn builds a training batch norm's statistics and gradients out of generic tensor
//! operations: each reduction first copies the activation with batch and channel axes
//! swapped, and forward plus backward read it about fifteen times. On flex, this one
//! reads it twice each way, and folds the shortcut and the ReLU into the same passes
//! (backward recomputes the ReLU's mask from the input and the shortcut, so nothing more
//! is kept). Every other backend, and inference, run Burn's own `BatchNorm` and `relu`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, ExtensionType};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation;

use crate::train::cpu::on_flex;

mod backward;
mod cpu;

/// `bn` applied to `x`, then a ReLU when `relu`: what `relu(bn.forward(x))` computes,
/// running statistics included.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    train(bn, x, None, relu)
}

/// `relu(shortcut + bn(x))`, the end of a residual block, in the same passes as the batch
/// norm: on flex, the sum and its ReLU are never written out separately.
pub fn batch_norm_add_relu(bn: &BatchNorm, x: Tensor<4>, shortcut: Tensor<4>) -> Tensor<4> {
    train(bn, x, Some(shortcut), true)
}

fn train(bn: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    let device = x.device();
    if !(device.is_autodiff() && bn.training.is_enabled() && on_flex(&device)) {
        let y = bn.forward(x);
        let y = match residual {
            Some(r) => y + r,
            None => y,
        };
        return if relu { activation::relu(y) } else { y };
    }
    let (x, gamma, beta) = (
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
    );
    let BnOutput {
        y, mean, variance, ..
    } = match residual {
        None => <Dispatch as NormOps>::bn_train(x, gamma, beta, bn.epsilon, relu),
        Some(r) => {
            assert!(relu, "a residual comes with its ReLU");
            <Dispatch as NormOps>::bn_add_relu_train(x, gamma, beta, r.into_dispatch(), bn.epsilon)
        }
    };
    // As Burn's `BatchNorm::forward_train` updates them.
    let m = bn.momentum;
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let running = state.value_sync().to_device(&device);
        state.update(
            running
                .mul_scalar(1.0 - m)
                .add(batch.detach().mul_scalar(m))
                .detach(),
        );
    };
    update(&bn.running_mean, Tensor::from_dispatch(mean));
    update(&bn.running_var, Tensor::from_dispatch(variance));
    Tensor::from_dispatch(y)
}

/// A training batch norm's inputs, or their gradients: the activation, the scale and
/// shift per channel, and the shortcut added before the ReLU at a block's end.
pub struct BnInputs<B: Backend> {
    pub x: FloatTensor<B>,
    pub gamma: FloatTensor<B>,
    pub beta: FloatTensor<B>,
    pub residual: Option<FloatTensor<B>>,
}

/// What a training batch norm returns: the output, the batch's mean and biased variance
/// per channel, and the mean's offset from the channel's first value (`x[0, c, 0, 0]`):
/// in f32 the mean itself is too coarse far from zero for the backward pass.
#[derive(ExtensionType)]
pub struct BnOutput<B: Backend> {
    pub y: FloatTensor<B>,
    pub mean: FloatTensor<B>,
    pub variance: FloatTensor<B>,
    pub offset: FloatTensor<B>,
}

/// What the backward pass keeps of the forward one besides the inputs.
#[derive(Clone, Debug)]
pub struct BnStats<B: Backend> {
    pub offset: FloatTensor<B>,
    pub variance: FloatTensor<B>,
}

/// The constants of one `bn_train` call.
#[derive(Clone, Copy, Debug)]
pub struct NormShape {
    pub epsilon: f64,
    /// A ReLU follows (always, when there is a residual).
    pub relu: bool,
}

/// Training batch norm (+ ReLU), and batch norm + residual + ReLU, as backend
/// operations. Their gradients are `NormGrads`.
#[backend_extension(Flex, Autodiff)]
pub trait NormOps: Backend {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> BnOutput<Self>;

    fn bn_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOutput<Self>;
}

/// The gradients of a training batch norm for each of its inputs (for the residual:
/// the gradient the ReLU passes).
pub trait NormGrads: Backend {
    fn bn_train_grads(
        inputs: BnInputs<Self>,
        stats: BnStats<Self>,
        grad: FloatTensor<Self>,
        shape: NormShape,
    ) -> BnInputs<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    /// What follows the batch norm.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Tail {
        Nothing,
        Relu,
        /// A residual added, then the ReLU.
        AddRelu,
    }

    /// Ours against Burn's `BatchNorm` (+ residual) (+ `relu`) on flex: output, the
    /// gradients (the residual's too) and the running statistics after one step, on an
    /// input drawn around `mean`. Burn gets the input minus `mean` (batch norm does not
    /// see the shift, but for the running mean): in f32 its own results lose too much
    /// far from zero to be the reference. The input is on a grid of 1/64, so adding
    /// `mean` (an integer) is exact.
    fn check(shape: [usize; 4], mean: f64, tail: Tail) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.5, 2.0);
        let centred = Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), &device);
        let centred = centred.mul_scalar(64.0).round().div_scalar(64.0);
        let shortcut = Tensor::<4>::random(shape, normal, &device);
        let upstream = Tensor::<4>::random(shape, normal, &device);
        let gamma = Tensor::<1>::random([shape[1]], normal, &device);
        let beta = Tensor::<1>::random([shape[1]], normal, &device);
        let run = |ours: bool| {
            // A fresh layer per run: clones share their running statistics.
            let mut bn = BatchNormConfig::new(shape[1]).init(&device);
            bn.gamma = bn.gamma.map(|_| gamma.clone().require_grad());
            bn.beta = bn.beta.map(|_| beta.clone().require_grad());
            let x = if ours {
                centred.clone().add_scalar(mean)
            } else {
                centred.clone()
            };
            let (x, shortcut) = (x.require_grad(), shortcut.clone().require_grad());
            let y = match (ours, tail) {
                (true, Tail::AddRelu) => batch_norm_add_relu(&bn, x.clone(), shortcut.clone()),
                (true, _) => batch_norm(&bn, x.clone(), tail == Tail::Relu),
                (false, Tail::Nothing) => bn.forward(x.clone()),
                (false, Tail::Relu) => activation::relu(bn.forward(x.clone())),
                (false, Tail::AddRelu) => {
                    activation::relu(bn.forward(x.clone()) + shortcut.clone())
                }
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            let flat = |t: Tensor<1>| t.into_data();
            let shortcut_grad = match tail {
                Tail::AddRelu => shortcut.grad(&grads).unwrap().into_data(),
                _ => TensorData::from([0.0f32]),
            };
            [
                y.inner().into_data(),
                x.grad(&grads).unwrap().into_data(),
                flat(bn.gamma.grad(&grads).unwrap()),
                flat(bn.beta.grad(&grads).unwrap()),
                // Ours saw the input shifted by `mean`.
                flat(bn.running_mean.value_sync().inner().sub_scalar(match ours {
                    true => bn.momentum * mean,
                    false => 0.0,
                })),
                flat(bn.running_var.value_sync().inner()),
                shortcut_grad,
            ]
        };
        let (ours, burn) = (run(true), run(false));
        let names = [
            "output",
            "input gradient",
            "gamma gradient",
            "beta gradient",
            "running mean",
            "running var",
            "residual gradient",
        ];
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
            let worst = crate::train::worst_relative_error(a, b);
            assert!(
                worst < 1e-3,
                "{what}: relative error {worst} for {shape:?}, {tail:?}"
            );
        }
    }

    #[test]
    fn batch_norm_matches_burn_with_and_without_relu_and_residual() {
        use Tail::*;
        check([4, 3, 5, 5], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, Relu);
        check([3, 5, 6, 7], 0.5, Relu);
        check([2, 4, 1, 1], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, AddRelu);
        check([2, 4, 1, 1], 0.5, AddRelu);
        // Several blocks of images, rows longer than the lanes, a mean far from zero
        // (the sums must not cancel).
        check([19, 6, 4, 5], 1000.0, Relu);
        check([17, 3, 6, 6], -1000.0, Nothing);
        check([18, 5, 7, 5], 0.5, AddRelu);
    }
}
