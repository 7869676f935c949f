//! Batch norm with the ReLU that follows most of them (and, at a block's end, the
//! shortcut added before it), fast on the CPU and the GPU, in training and (on the CPU)
//! in inference.
//!
//! Burn builds a training batch norm's statistics and gradients out of generic tensor
//! operations: each reduction first copies the activation with batch and channel axes
//! swapped, and forward plus backward read it about fifteen times. Ours reads it twice
//! each way, and folds the shortcut and the ReLU into the same passes (backward
//! recomputes the ReLU's mask from the input and the shortcut, so nothing more is kept):
//! on flex over threads (`cpu`), on Burn's CubeCL backend in one launch each way
//! (`gpu`). In inference (a run's evaluation) Burn's batch norm, the sum and the ReLU
//! are separate passes on flex; ours is one. On the GPU, inference stays Burn's, whose
//! fusion already makes it one element-wise kernel. Which runs where is `ops::Layers`'
//! choice: by default ours on flex and, in training, on the GPU (measured faster on
//! Mesa's lavapipe and on an NVIDIA H200; BENCHMARKS.md).

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, ExtensionType};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::Scalar;

use super::{generic, ours_on, Ours};

mod backward;
#[cfg(feature = "cpu")]
mod cpu;
#[cfg(feature = "gpu")]
mod gpu;

/// `bn` applied to `x`, then a ReLU when `relu`: what `relu(bn.forward(x))` computes,
/// running statistics included.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    apply(bn, x, None, relu)
}

/// `relu(shortcut + bn(x))`, the end of a residual block, in the same passes as the batch
/// norm: on flex, the sum and its ReLU are never written out separately.
pub fn batch_norm_add_relu(bn: &BatchNorm, x: Tensor<4>, shortcut: Tensor<4>) -> Tensor<4> {
    apply(bn, x, Some(shortcut), true)
}

fn apply(bn: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    let device = x.device();
    // As Burn's `BatchNorm::forward` chooses.
    let training = device.is_autodiff() && bn.training.is_enabled();
    match ours_on(&device) {
        Ours::Flex if !training => return infer(bn, x, residual, relu),
        Ours::Flex => {}
        Ours::Gpu if training => {}
        Ours::Gpu | Ours::No => {
            return match residual {
                None => generic::batch_norm(bn, x, relu),
                Some(r) => generic::batch_norm_add_relu(bn, x, r),
            }
        }
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
    // As Burn's `BatchNorm::forward_train` updates them, in one operation.
    let running = |state: &burn::module::RunningState<Tensor<1>>| {
        state
            .value_sync()
            .to_device(&device)
            .detach()
            .into_dispatch()
    };
    let (running_mean, running_var) = <Dispatch as NormOps>::bn_running(
        running(&bn.running_mean),
        running(&bn.running_var),
        mean,
        variance,
        bn.momentum,
    );
    let update = |state: &burn::module::RunningState<Tensor<1>>, value| {
        state.update(Tensor::<1>::from_dispatch(value).detach());
    };
    update(&bn.running_mean, running_mean);
    update(&bn.running_var, running_var);
    Tensor::from_dispatch(y)
}

/// Inference (on flex): the running statistics, read, not updated.
fn infer(bn: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    let device = x.device();
    let params = BnRunning {
        gamma: bn.gamma.val().into_dispatch(),
        beta: bn.beta.val().into_dispatch(),
        mean: bn.running_mean.value().to_device(&device).into_dispatch(),
        variance: bn.running_var.value().to_device(&device).into_dispatch(),
    };
    let x = x.into_dispatch();
    let y = match residual {
        None => <Dispatch as NormOps>::bn_infer(x, params, bn.epsilon, relu),
        Some(r) => {
            assert!(relu, "a residual comes with its ReLU");
            <Dispatch as NormOps>::bn_add_relu_infer(x, params, r.into_dispatch(), bn.epsilon)
        }
    };
    Tensor::from_dispatch(y)
}

/// What an inference batch norm reads per channel: the scale and shift, and the
/// running mean and variance.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "gpu"))]
pub struct BnRunning<B: Backend> {
    pub gamma: FloatTensor<B>,
    pub beta: FloatTensor<B>,
    pub mean: FloatTensor<B>,
    pub variance: FloatTensor<B>,
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
#[extension_type(fusion: cfg(feature = "gpu"))]
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

/// Batch norm (+ ReLU), and batch norm + residual + ReLU, in training and in inference,
/// and the training ones' gradients, as backend operations. Autodiff calls the gradients
/// backwards (`backward`); under fusion each operation is one opaque step between the
/// fused ones. Inference is Burn's batch norm unless a backend has its own (flex), and
/// differentiable where Burn's is (under autodiff it is Burn's).
#[backend_extension(
    Flex: cfg(feature = "cpu"),
    Cube: cfg(feature = "gpu"),
    Autodiff,
    Fusion: cfg(feature = "gpu")
)]
pub trait NormOps: Backend {
    #[fusion(meta = |x, gamma, _beta, _epsilon, _relu| train_meta(x, gamma))]
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> BnOutput<Self>;

    #[fusion(meta = |x, gamma, _beta, _residual, _epsilon| train_meta(x, gamma))]
    fn bn_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOutput<Self>;

    /// The gradients of `bn_train` for x, gamma and beta, from the output's gradient
    /// and the statistics `bn_train` returned.
    #[fusion(meta = |x, gamma, _beta, _offset, _variance, _grad, _epsilon, _relu| {
        (x.clone(), gamma.clone(), gamma.clone())
    })]
    #[allow(clippy::too_many_arguments)]
    fn bn_train_grads(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        offset: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of `bn_add_relu_train` for x, gamma, beta and the residual (the
    /// gradient the ReLU passes).
    #[fusion(meta = |x, gamma, _beta, _residual, _offset, _variance, _grad, _epsilon| {
        (x.clone(), gamma.clone(), gamma.clone(), x.clone())
    })]
    #[allow(clippy::too_many_arguments)]
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
    );

    /// The running mean and variance after a training step, each `running * (1 -
    /// momentum) + batch * momentum` (the batch's `bn_train` returned): one operation,
    /// so that a backend can make it one launch. Under Burn's fusion the eight
    /// element-wise operations this is made of are sometimes left unfused, eight
    /// launches per layer (BENCHMARKS.md).
    #[fusion(meta = |mean, variance, _batch_mean, _batch_variance, _momentum| {
        (mean.clone(), variance.clone())
    })]
    fn bn_running(
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        batch_mean: FloatTensor<Self>,
        batch_variance: FloatTensor<Self>,
        momentum: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let blend = |running, batch| {
            let kept = Self::float_mul_scalar(running, Scalar::Float(1.0 - momentum));
            Self::float_add(kept, Self::float_mul_scalar(batch, Scalar::Float(momentum)))
        };
        (blend(mean, batch_mean), blend(variance, batch_variance))
    }

    /// Batch norm in inference (`(x - mean) / sqrt(variance + epsilon) * gamma + beta`
    /// on the running statistics), then a ReLU when `relu`.
    #[fusion(default)]
    fn bn_infer(
        x: FloatTensor<Self>,
        #[extension_type] params: BnRunning<Self>,
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

    /// `relu(residual + bn(x))` in inference.
    #[fusion(default)]
    fn bn_add_relu_infer(
        x: FloatTensor<Self>,
        #[extension_type] params: BnRunning<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let y = by_parts::<Self>(x, params, epsilon);
        Self::relu(Self::float_add(y, residual))
    }
}

/// Inference batch norm from Burn's own operation (and tracked as Burn tracks it: a
/// frozen batch norm on a training device still passes gradients to its input).
fn by_parts<B: Backend>(x: FloatTensor<B>, p: BnRunning<B>, epsilon: f64) -> FloatTensor<B> {
    B::batch_norm(x, p.gamma, p.beta, p.mean, p.variance, epsilon)
}

/// What a training batch norm's output looks like to Burn's fusion: `y` like `x`, the
/// statistics like `gamma`.
#[cfg(feature = "gpu")]
fn train_meta(
    x: &burn::backend::fusion::custom::TensorSpec,
    gamma: &burn::backend::fusion::custom::TensorSpec,
) -> BnOutputMetadata {
    BnOutputMetadata {
        y: x.clone(),
        mean: gamma.clone(),
        variance: gamma.clone(),
        offset: gamma.clone(),
    }
}

/// The gradients of a training batch norm, from whichever of its two operations ran.
fn train_grads<B: NormOps>(
    inputs: BnInputs<B>,
    stats: BnStats<B>,
    grad: FloatTensor<B>,
    shape: NormShape,
) -> BnInputs<B> {
    let BnInputs {
        x,
        gamma,
        beta,
        residual,
    } = inputs;
    let BnStats { offset, variance } = stats;
    let e = shape.epsilon;
    match residual {
        None => {
            let (x, gamma, beta) =
                B::bn_train_grads(x, gamma, beta, offset, variance, grad, e, shape.relu);
            BnInputs {
                x,
                gamma,
                beta,
                residual: None,
            }
        }
        Some(r) => {
            let (x, gamma, beta, r) =
                B::bn_add_relu_train_grads(x, gamma, beta, r, offset, variance, grad, e);
            BnInputs {
                x,
                gamma,
                beta,
                residual: Some(r),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::activation;
    use burn::tensor::Distribution;

    /// What follows the batch norm.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Tail {
        Nothing,
        Relu,
        /// A residual added, then the ReLU.
        AddRelu,
    }

    /// Ours against Burn's `BatchNorm` (+ residual) (+ `relu`) on `device`: output, the
    /// gradients (the residual's too) and the running statistics after one step, on an
    /// input drawn around `mean`. Burn gets the input minus `mean` (batch norm does not
    /// see the shift, but for the running mean): in f32 its own results lose too much
    /// far from zero to be the reference. The input is on a grid of 1/64, so adding
    /// `mean` (an integer) is exact. With `channels_last`, the input and the shortcut
    /// lie in memory as NHWC (as Burn's convolutions leave their outputs), the upstream
    /// gradient as NCHW.
    fn check(device: &Device, shape: [usize; 4], mean: f64, tail: Tail, channels_last: bool) {
        let device = &device.clone().autodiff();
        let normal = Distribution::Normal(0.5, 2.0);
        let activation = |distribution| match channels_last {
            false => Tensor::<4>::random(shape, distribution, device),
            true => {
                let [n, c, h, w] = shape;
                Tensor::<4>::random([n, h, w, c], distribution, device).permute([0, 3, 1, 2])
            }
        };
        let centred = activation(Distribution::Normal(0.0, 2.0));
        let centred = centred.mul_scalar(64.0).round().div_scalar(64.0);
        let shortcut = activation(normal);
        let upstream = Tensor::<4>::random(shape, normal, device);
        let gamma = Tensor::<1>::random([shape[1]], normal, device);
        let beta = Tensor::<1>::random([shape[1]], normal, device);
        let run = |ours: bool| {
            // A fresh layer per run: clones share their running statistics.
            let mut bn = BatchNormConfig::new(shape[1]).init(device);
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
                "{what}: relative error {worst} for {shape:?}, {tail:?}, channels last \
                 {channels_last}"
            );
        }
    }

    /// The shapes, means and tails both backends are checked on, laid out as NCHW and,
    /// with `channels_last`, as NHWC.
    fn batch_norm_cases(device: &Device, channels_last: bool) {
        use Tail::*;
        let check = |shape, mean, tail| check(device, shape, mean, tail, channels_last);
        check([4, 3, 5, 5], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, Relu);
        check([3, 5, 6, 7], 0.5, Relu);
        check([2, 4, 1, 1], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, AddRelu);
        check([2, 4, 1, 1], 0.5, AddRelu);
        // Several blocks of images, rows longer than the lanes (on flex) and channels
        // longer than a cube's units (on the GPU), a mean far from zero (the sums must
        // not cancel).
        check([19, 6, 4, 5], 1000.0, Relu);
        check([17, 3, 6, 6], -1000.0, Nothing);
        check([18, 5, 7, 5], 0.5, AddRelu);
    }

    #[test]
    fn batch_norm_matches_burn_with_and_without_relu_and_residual() {
        batch_norm_cases(&Device::flex(), false);
    }

    /// On Burn's wgpu backend (Mesa's lavapipe here, `--features gpu`), with our GPU
    /// layers asked for.
    #[cfg(feature = "gpu")]
    #[test]
    fn batch_norm_on_the_gpu_matches_burn() {
        crate::train::ops::use_layers(crate::train::ops::Layers::Ours);
        let gpu = &Device::wgpu(Default::default());
        assert_eq!(super::ours_on(&gpu.clone().autodiff()), Ours::Gpu);
        for channels_last in [false, true] {
            batch_norm_cases(gpu, channels_last);
            // A channel over many cubes' worth of units, with a residual.
            check(gpu, [32, 4, 16, 16], 3.0, Tail::AddRelu, channels_last);
            // Channels-last tiles of 16, 4 and 2 channels, each last tile part empty.
            check(gpu, [8, 200, 3, 3], 0.5, Tail::AddRelu, channels_last);
            check(gpu, [5, 30, 4, 4], 0.5, Tail::Relu, channels_last);
            check(gpu, [6, 15, 3, 5], -1000.0, Tail::Nothing, channels_last);
            // Channels split over several cubes (see `gpu::splits`): in 2 and in 5
            // shares, the last one shorter, a mean far from zero, and tiles of 8
            // channels split in 2.
            check(gpu, [40, 3, 20, 20], 1000.0, Tail::Relu, channels_last);
            check(gpu, [64, 2, 24, 24], 0.5, Tail::AddRelu, channels_last);
            check(gpu, [32, 64, 8, 8], 0.5, Tail::AddRelu, channels_last);
            check(gpu, [33, 3, 16, 16], -3.0, Tail::Nothing, channels_last);
        }
        // Each kernel, with a residual, whole and split, on a device with WebGPU's
        // default limits: every kernel binds at most 8 storage buffers.
        let limited = &crate::train::gpu::webgpu_default_limits();
        check(limited, [4, 3, 5, 5], 0.5, Tail::AddRelu, false);
        check(limited, [64, 2, 24, 24], 0.5, Tail::AddRelu, true);
    }

    /// Inference (the running statistics) against Burn's `BatchNorm` in inference, with
    /// and without the ReLU and the residual; under autodiff with the layer frozen, the
    /// input still gets Burn's gradient.
    #[test]
    fn inference_matches_burn() {
        use burn::module::RunningState;
        let normal = Distribution::Normal(0.5, 2.0);
        for autodiff in [false, true] {
            let device = match autodiff {
                false => Device::flex(),
                true => Device::flex().autodiff(),
            };
            for shape in [[4, 3, 5, 5], [19, 6, 4, 5], [2, 4, 1, 1]] {
                let c = shape[1];
                let mut bn = BatchNormConfig::new(c).init(&device);
                bn.gamma = bn.gamma.map(|_| Tensor::random([c], normal, &device));
                bn.beta = bn.beta.map(|_| Tensor::random([c], normal, &device));
                bn.running_mean = RunningState::new(Tensor::random([c], normal, &device));
                let variance = Tensor::<1>::random([c], Distribution::Uniform(0.1, 3.0), &device);
                bn.running_var = RunningState::new(variance);
                if autodiff {
                    bn = bn.freeze();
                }
                let x = Tensor::<4>::random(shape, normal, &device);
                let x = if autodiff { x.require_grad() } else { x };
                let shortcut = Tensor::<4>::random(shape, normal, &device);
                for tail in [Tail::Nothing, Tail::Relu, Tail::AddRelu] {
                    let (ours, burn) = match tail {
                        Tail::AddRelu => (
                            batch_norm_add_relu(&bn, x.clone(), shortcut.clone()),
                            activation::relu(bn.forward(x.clone()) + shortcut.clone()),
                        ),
                        _ => {
                            let relu = tail == Tail::Relu;
                            let burn = bn.forward(x.clone());
                            let burn = if relu { activation::relu(burn) } else { burn };
                            (batch_norm(&bn, x.clone(), relu), burn)
                        }
                    };
                    let mut pairs = vec![(ours.clone().into_data(), burn.clone().into_data())];
                    if autodiff {
                        let grad = |y: Tensor<4>| x.grad(&y.sum().backward()).unwrap().into_data();
                        pairs.push((grad(ours), grad(burn)));
                    }
                    for (a, b) in &pairs {
                        let worst = crate::train::worst_relative_error(a, b);
                        assert!(
                            worst < 1e-5,
                            "{worst} for {shape:?}, {tail:?}, autodiff {autodiff}"
                        );
                    }
                }
            }
        }
    }
}
