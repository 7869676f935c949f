//! The layers from Burn's own operations: what every backend but flex runs (wgpu), and
//! what a build without the `cpu` feature (the WebGPU worker) has in place of `ops`'
//! extensions. The extensions' tests check them against these.

use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// A k x k convolution without bias and with padding k / 2 (k odd, read from the
/// weight, `[c_out, c_in / groups, k, k]`).
pub fn same_conv(x: Tensor<4>, weight: Tensor<4>, stride: usize, groups: usize) -> Tensor<4> {
    let pad = weight.dims()[2] / 2;
    let options = ConvOptions::new([stride, stride], [pad, pad], [1, 1], groups);
    conv2d(x, weight, None, options)
}

/// `bn` applied to `x`, then a ReLU when `then_relu`.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, then_relu: bool) -> Tensor<4> {
    let y = bn.forward(x);
    if then_relu {
        relu(y)
    } else {
        y
    }
}

/// `relu(shortcut + bn(x))`, the end of a residual block.
pub fn batch_norm_add_relu(bn: &BatchNorm, x: Tensor<4>, shortcut: Tensor<4>) -> Tensor<4> {
    relu(bn.forward(x) + shortcut)
}

/// `x * sigmoid(expand(relu(reduce(mean of each channel))))`.
pub fn squeeze_excite(x: Tensor<4>, reduce: &Conv2d, expand: &Conv2d) -> Tensor<4> {
    let s = x.clone().mean_dim(2).mean_dim(3);
    let s = sigmoid(expand.forward(relu(reduce.forward(s))));
    x * s
}
