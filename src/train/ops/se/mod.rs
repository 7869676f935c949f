//! Squeeze-and-excitation, fast on the CPU and the GPU.
//!
//! Burn builds SE from generic tensor operations (a pooling, two small layers, a
//! broadcast product and their gradients, which add into the input's gradient): on
//! flex those run on one thread, on the GPU they are dozens of launches per block
//! (BENCHMARKS.md). Ours reads the activation once to pool and once to scale, forward
//! and backward: on flex on the threads, with the two small layers as GEMMs (`cpu`); on
//! Burn's CubeCL backend in one launch forward and two backward (`gpu`). Inference runs
//! the same forward pass (SE has no state that differs in training). Which runs where
//! is `ops::Layers`' choice.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, ExtensionType};
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::{generic, ours_on, Ours};

mod backward;
#[cfg(feature = "cpu")]
mod cpu;
#[cfg(feature = "gpu")]
mod gpu;

/// pycls's SE on `x`: `x * sigmoid(expand(relu(reduce(mean of each channel))))`, with
/// `reduce` and `expand` 1x1 convolutions (with biases, as pycls's, for the fast path).
pub fn squeeze_excite(x: Tensor<4>, reduce: &Conv2d, expand: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let biases = reduce.bias.as_ref().zip(expand.bias.as_ref());
    let ours = match ours_on(&device) {
        Ours::Flex => true,
        #[cfg(feature = "gpu")]
        Ours::Gpu => gpu::fits(x.dims()[1], reduce.weight.dims()[0]),
        _ => false,
    };
    let Some((b1, b2)) = biases.filter(|_| ours) else {
        return generic::squeeze_excite(x, reduce, expand);
    };
    let params = SeParams {
        w1: reduce.weight.val().into_dispatch(),
        b1: b1.val().into_dispatch(),
        w2: expand.weight.val().into_dispatch(),
        b2: b2.val().into_dispatch(),
    };
    let out = <Dispatch as SeOps>::se_train(x.into_dispatch(), params);
    Tensor::from_dispatch(out.y)
}

/// The two 1x1 layers: reduce (`w1` `[r, c, 1, 1]`, `b1` `[r]`) and expand (`w2`
/// `[c, r, 1, 1]`, `b2` `[c]`); also their gradients.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "gpu"))]
pub struct SeParams<B: Backend> {
    pub w1: FloatTensor<B>,
    pub b1: FloatTensor<B>,
    pub w2: FloatTensor<B>,
    pub b2: FloatTensor<B>,
}

/// What the forward pass keeps for the backward one: the pooled input `[n, c]`, and
/// the gate `[n, c]` and the hidden layer after its ReLU `[n, r]`, both row-major and
/// end to end in one tensor `[n * (c + r)]`. The GPU's backward kernel reads both, and
/// binds them as one buffer: WebGPU allows 8 storage buffers per shader by default
/// (`train::gpu::Packed` says more).
#[derive(ExtensionType, Clone, Debug)]
#[extension_type(fusion: cfg(feature = "gpu"))]
pub struct SeKept<B: Backend> {
    pub pooled: FloatTensor<B>,
    pub gate_hidden: FloatTensor<B>,
}

/// What `se_train` returns.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "gpu"))]
pub struct SeOutput<B: Backend> {
    pub y: FloatTensor<B>,
    #[extension_type]
    pub kept: SeKept<B>,
}

/// The gradients of `se_train`'s inputs.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "gpu"))]
pub struct SeGradients<B: Backend> {
    pub x: FloatTensor<B>,
    #[extension_type]
    pub params: SeParams<B>,
}

/// SE in training (and inference) as a backend operation, and its gradients, which
/// autodiff calls backwards (`backward`); under fusion each is one opaque step between
/// the fused ones.
#[backend_extension(
    Flex: cfg(feature = "cpu"),
    Cube: cfg(feature = "gpu"),
    Autodiff,
    Fusion: cfg(feature = "gpu")
)]
pub trait SeOps: Backend {
    #[fusion(meta = |x, params| train_meta(x, params))]
    fn se_train(x: FloatTensor<Self>, #[extension_type] params: SeParams<Self>) -> SeOutput<Self>;

    /// The gradients of `se_train`, from its input, the two weights (the biases are
    /// not needed) and what the forward pass kept.
    #[fusion(meta = |x, w1, w2, _kept, _grad| grads_meta(x, w1, w2))]
    fn se_train_grads(
        x: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        #[extension_type] kept: SeKept<Self>,
        grad: FloatTensor<Self>,
    ) -> SeGradients<Self>;
}

#[cfg(feature = "gpu")]
use burn::backend::fusion::custom::TensorSpec;

/// A spec like `like`'s with `shape`.
#[cfg(feature = "gpu")]
fn spec(like: &TensorSpec, shape: impl Into<burn::tensor::Shape>) -> TensorSpec {
    TensorSpec::new(shape.into(), like.dtype)
}

/// What `se_train`'s outputs look like to Burn's fusion: `y` like `x`, the pooled
/// input `[n, c]`, the gate and the hidden layer `[n * (c + r)]`.
#[cfg(feature = "gpu")]
fn train_meta(x: &TensorSpec, params: &SeParamsMetadata) -> SeOutputMetadata {
    let (n, c, r) = (x.shape[0], x.shape[1], params.w1.shape[0]);
    SeOutputMetadata {
        y: x.clone(),
        kept: SeKeptMetadata {
            pooled: spec(x, [n, c]),
            gate_hidden: spec(x, [n * (c + r)]),
        },
    }
}

/// What `se_train_grads`' outputs look like to Burn's fusion: each like its input.
#[cfg(feature = "gpu")]
fn grads_meta(x: &TensorSpec, w1: &TensorSpec, w2: &TensorSpec) -> SeGradientsMetadata {
    SeGradientsMetadata {
        x: x.clone(),
        params: SeParamsMetadata {
            w1: w1.clone(),
            b1: spec(w1, [w1.shape[0]]),
            w2: w2.clone(),
            b2: spec(w2, [w2.shape[0]]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::{relu, sigmoid};
    use burn::tensor::Distribution;

    /// The same layer on `device`: its weights and biases copied.
    fn moved(layer: &Conv2d, device: &Device) -> Conv2d {
        use burn::module::Param;
        let mut out = layer.clone();
        let copy = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), device);
        out.weight = Param::from_tensor(copy(layer.weight.val()));
        let bias = layer.bias.as_ref().map(|b| b.val().into_data());
        out.bias = bias.map(|b| Param::from_tensor(Tensor::<1>::from_data(b, device)));
        out
    }

    /// Ours on `device` against Burn's operations on `reference` (the same data):
    /// output and every gradient; in inference (no autodiff), the output. With
    /// `channels_last`, the input lies in memory as NHWC (as Burn's convolutions leave
    /// their outputs).
    fn check(device: &Device, reference: &Device, shapes: &[[usize; 5]], channels_last: bool) {
        let (device, reference) = (&device.clone().autodiff(), &reference.clone().autodiff());
        for &[n, c, h, w, r] in shapes {
            let normal = Distribution::Normal(0.0, 1.0);
            let nhwc = Tensor::<4>::random([n, h, w, c], normal, reference).into_data();
            let upstream = Tensor::<4>::random([n, c, h, w], normal, reference).into_data();
            let reduce = Conv2dConfig::new([c, r], [1, 1]).init(reference);
            let expand = Conv2dConfig::new([r, c], [1, 1]).init(reference);
            // The input on `device` (in either layout) and on `reference`.
            let input = |ours: bool| {
                let on = if ours { device } else { reference };
                let x = Tensor::<4>::from_data(nhwc.clone(), on).permute([0, 3, 1, 2]);
                match channels_last && ours {
                    true => x,
                    false => Tensor::from_data(x.into_data(), on),
                }
            };
            let layers = |ours: bool| match ours {
                true => (moved(&reduce, device), moved(&expand, device)),
                false => (reduce.clone(), expand.clone()),
            };
            let burn = |x: Tensor<4>, reduce: &Conv2d, expand: &Conv2d| {
                let s = x.clone().mean_dim(2).mean_dim(3);
                x * sigmoid(expand.forward(relu(reduce.forward(s))))
            };
            let run = |ours: bool| {
                let x = input(ours).require_grad();
                let (reduce, expand) = layers(ours);
                let y = match ours {
                    true => squeeze_excite(x.clone(), &reduce, &expand),
                    false => burn(x.clone(), &reduce, &expand),
                };
                let upstream = Tensor::from_data(upstream.clone(), &x.device());
                let grads = (y.clone() * upstream).sum().backward();
                let flat = |t: Tensor<4>| t.into_data();
                let bias = |t: Tensor<1>| t.into_data();
                [
                    y.inner().into_data(),
                    x.grad(&grads).unwrap().into_data(),
                    flat(reduce.weight.grad(&grads).unwrap()),
                    bias(reduce.bias.as_ref().unwrap().grad(&grads).unwrap()),
                    flat(expand.weight.grad(&grads).unwrap()),
                    bias(expand.bias.as_ref().unwrap().grad(&grads).unwrap()),
                ]
            };
            let infer = |ours: bool| {
                let (x, (reduce, expand)) = (input(ours).inner(), layers(ours));
                let (reduce, expand) = (reduce.valid(), expand.valid());
                match ours {
                    true => squeeze_excite(x, &reduce, &expand).into_data(),
                    false => {
                        let s = x.clone().mean_dim(2).mean_dim(3);
                        (x * sigmoid(expand.forward(relu(reduce.forward(s))))).into_data()
                    }
                }
            };
            let worst = crate::train::worst_relative_error(&infer(true), &infer(false));
            assert!(
                worst < 1e-4,
                "inference: relative error {worst} for {n}x{c}x{h}x{w}"
            );
            let (ours, burn) = (run(true), run(false));
            let names = [
                "output",
                "x",
                "reduce weight",
                "reduce bias",
                "expand weight",
                "expand bias",
            ];
            for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
                let worst = crate::train::worst_relative_error(a, b);
                assert!(
                    worst < 1e-4,
                    "{what}: relative error {worst} for {n}x{c}x{h}x{w}, r {r}, channels \
                     last {channels_last}"
                );
            }
        }
    }

    /// Batch, channels, height, width and hidden units of the layers checked.
    const SHAPES: [[usize; 5]; 3] = [[3, 6, 5, 4, 2], [2, 16, 8, 8, 4], [4, 10, 3, 3, 3]];

    #[cfg(feature = "cpu")]
    #[test]
    fn squeeze_excite_matches_burn() {
        let flex = &Device::flex();
        check(flex, flex, &SHAPES, false);
    }

    /// On Burn's wgpu backend (Mesa's lavapipe here, `--features gpu`), with our GPU
    /// layers asked for, in both layouts, against Burn's operations on flex (on lavapipe,
    /// Burn's fused kernels compile anew for each shape, for many seconds); with more
    /// channels and hidden units than a cube has units too.
    #[cfg(feature = "gpu")]
    #[test]
    fn squeeze_excite_on_the_gpu_matches_burn() {
        crate::train::ops::use_layers(crate::train::ops::Layers::Ours);
        let gpu = &Device::wgpu(Default::default());
        assert_eq!(ours_on(&gpu.clone().autodiff()), Ours::Gpu);
        assert!(gpu::fits(3000, 750) && !gpu::fits(3712, 928));
        for channels_last in [false, true] {
            check(gpu, &Device::flex(), &SHAPES, channels_last);
            check(gpu, &Device::flex(), &[[3, 300, 4, 3, 270]], channels_last);
        }
        // On a device with WebGPU's default limits: every kernel binds at most 8
        // storage buffers.
        let limited = &crate::train::gpu::webgpu_default_limits();
        check(limited, &Device::flex(), &SHAPES[..1], true);
    }
}
