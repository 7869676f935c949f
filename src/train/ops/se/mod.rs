//! Squeeze-and-excitation, fast on the CPU.
//!
//! Burn builds SE from generic tensor operations (a pooling, a broadcast product and
//! their gradients, which add into the input's gradient), and on flex those run on one
//! thread (a profile's share is in BENCHMARKS.md). On flex, this op reads the
//! activation once to pool and once to scale, forward and backward, on the threads, and
//! runs the two small layers in between as GEMMs (`cpu`); inference on flex runs the
//! same forward pass (SE has no state that differs in training). Every other backend
//! runs Burn's operations.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, ExtensionType};
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::generic;

mod backward;
mod cpu;

/// pycls's SE on `x`: `x * sigmoid(expand(relu(reduce(mean of each channel))))`, with
/// `reduce` and `expand` 1x1 convolutions (with biases, as pycls's, for the fast path).
pub fn squeeze_excite(x: Tensor<4>, reduce: &Conv2d, expand: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let biases = reduce.bias.as_ref().zip(expand.bias.as_ref());
    let Some((b1, b2)) = biases.filter(|_| super::ours_on(&device, false) == super::Ours::Flex)
    else {
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
pub struct SeParams<B: Backend> {
    pub w1: FloatTensor<B>,
    pub b1: FloatTensor<B>,
    pub w2: FloatTensor<B>,
    pub b2: FloatTensor<B>,
}

/// What the forward pass keeps for the backward one: the pooled input `[n, c]`, the
/// hidden layer after its ReLU `[n, r]` and the gate `[n, c]`.
#[derive(ExtensionType, Clone, Debug)]
pub struct SeKept<B: Backend> {
    pub pooled: FloatTensor<B>,
    pub hidden: FloatTensor<B>,
    pub gate: FloatTensor<B>,
}

/// What `se_train` returns.
#[derive(ExtensionType)]
pub struct SeOutput<B: Backend> {
    pub y: FloatTensor<B>,
    #[extension_type]
    pub kept: SeKept<B>,
}

/// The gradients of `se_train`'s inputs.
pub struct SeGradients<B: Backend> {
    pub x: FloatTensor<B>,
    pub params: SeParams<B>,
}

/// SE in training as a backend operation. Its gradients are `SeGrads`.
#[backend_extension(Flex, Autodiff)]
pub trait SeOps: Backend {
    fn se_train(x: FloatTensor<Self>, #[extension_type] params: SeParams<Self>) -> SeOutput<Self>;
}

/// The gradients of `se_train`, from its input, the two weights (the biases are not
/// needed) and what the forward pass kept.
pub trait SeGrads: Backend {
    fn se_train_grads(
        x: FloatTensor<Self>,
        weights: [FloatTensor<Self>; 2],
        kept: SeKept<Self>,
        grad: FloatTensor<Self>,
    ) -> SeGradients<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::{relu, sigmoid};
    use burn::tensor::Distribution;

    /// Ours against Burn's operations on flex: output and every gradient; in inference
    /// (no autodiff), the output.
    #[test]
    fn squeeze_excite_matches_burn() {
        let device = Device::flex().autodiff();
        for [n, c, h, w, r] in [[3, 6, 5, 4, 2], [2, 16, 8, 8, 4], [4, 10, 3, 3, 3]] {
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([n, c, h, w], normal, &device);
            let upstream = Tensor::<4>::random([n, c, h, w], normal, &device);
            let reduce = Conv2dConfig::new([c, r], [1, 1]).init(&device);
            let expand = Conv2dConfig::new([r, c], [1, 1]).init(&device);
            let run = |ours: bool| {
                let x = x.clone().require_grad();
                let y = if ours {
                    squeeze_excite(x.clone(), &reduce, &expand)
                } else {
                    let s = x.clone().mean_dim(2).mean_dim(3);
                    x.clone() * sigmoid(expand.forward(relu(reduce.forward(s))))
                };
                let grads = (y.clone() * upstream.clone()).sum().backward();
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
            let (x0, r0, e0) = (x.clone().inner(), reduce.valid(), expand.valid());
            let s = x0.clone().mean_dim(2).mean_dim(3);
            let burn = x0.clone() * sigmoid(e0.forward(relu(r0.forward(s))));
            let ours = squeeze_excite(x0, &r0, &e0).into_data();
            let worst = crate::train::worst_relative_error(&ours, &burn.into_data());
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
                    "{what}: relative error {worst} for {n}x{c}x{h}x{w}, r {r}"
                );
            }
        }
    }
}
