//! The RegNet's convolutions, fast on the CPU and on the GPU.
//!
//! Burn's `flex` backend runs a RegNet's convolutions several times slower than
//! PyTorch, mostly in the backward pass (it runs the 1x1 weight gradient as a
//! convolution, and a grouped 3x3 one group and image at a time through strided
//! copies). So the 1x1 and 3x3 convolutions (grouped or dense, stride 1 or 2, "same"
//! padding) are a Burn backend extension: on flex, 3x3 layers with narrow groups run
//! the direct kernels of `direct`; the rest (1x1 layers, wider groups) are one GEMM
//! per image and group over an im2col buffer (none for a plain 1x1), for the forward
//! pass and both gradients, the images spread over threads, the weight gradient
//! accumulated in place (`cpu`).
//!
//! On Burn's CubeCL backend (wgpu) the 3x3 layers run our kernels (`gpu`), by
//! default: Burn's differentiate a grouped layer's weights one group at a time, a
//! convolution and three copies per group, and its direct and transposed kernels for
//! the forward pass and the input gradient are slower than ours. The 1x1 layers run
//! our tiled matrix products (`gemm`): on an H200 faster than Burn's autotuned ones on
//! wide layers and slower on narrow ones, and with no autotuning, which made Burn's
//! first step several times longer. The measurements behind these choices are in
//! BENCHMARKS.md.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch};
use burn::prelude::*;
use burn::tensor::Shape;

use super::generic;

mod backward;
#[cfg(feature = "cpu")]
mod cpu;
#[cfg(feature = "cpu")]
mod direct;
#[cfg(feature = "gpu")]
mod gemm;
#[cfg(feature = "cpu")]
mod geometry;
#[cfg(feature = "gpu")]
mod gpu;

/// A k x k convolution without bias and with padding k / 2 (k odd, read from the
/// weight, `[c_out, c_in / groups, k, k]`): the RegNet's 1x1 and 3x3 layers.
pub fn same_conv(x: Tensor<4>, weight: Tensor<4>, stride: usize, groups: usize) -> Tensor<4> {
    if runs_ours(&x.device()) {
        let y = <Dispatch as ConvOps>::same_conv(
            x.into_dispatch(),
            weight.into_dispatch(),
            stride,
            groups,
        );
        Tensor::from_dispatch(y)
    } else {
        generic::same_conv(x, weight, stride, groups)
    }
}

/// Whether a convolution on `device` runs our kernels, as `use_layers` allows: on flex
/// and on the GPU, a 1x1 layer `gemm`'s (a grouped one the 3x3 kernels'), unless
/// `Layers::Burn`.
fn runs_ours(device: &Device) -> bool {
    !matches!(super::ours_on(device), super::Ours::No)
}

/// The convolution and its two gradients as backend operations. Autodiff calls the
/// gradients backwards (`backward`); under fusion each is one opaque operation between
/// the fused ones.
#[backend_extension(
    Flex: cfg(feature = "cpu"),
    Cube: cfg(feature = "gpu"),
    Autodiff,
    Fusion: cfg(feature = "gpu")
)]
pub trait ConvOps: Backend {
    #[fusion(dtype = x, shape = output_shape(x, weight, stride))]
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        groups: usize,
    ) -> FloatTensor<Self>;

    /// The input gradient, `[batch, c_in, h, w]`, from the output gradient.
    #[fusion(dtype = grad, shape = Shape::new(conv.x))]
    fn same_conv_grad_x(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        conv: ConvShape,
    ) -> FloatTensor<Self>;

    /// The weight gradient, summed over the batch.
    #[fusion(dtype = x, shape = Shape::new(conv.weight))]
    fn same_conv_grad_w(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        conv: ConvShape,
    ) -> FloatTensor<Self>;
}

/// `[batch, c_out, ho, wo]` for input `x` and weight `weight` at `stride`.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
fn output_shape(x: &Shape, weight: &Shape, stride: &usize) -> Shape {
    let conv = ConvShape::new(x, weight, *stride, 1);
    Shape::new(conv.output())
}

/// What the gradients of one `same_conv` call need to know besides tensors.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    pub x: [usize; 4],
    pub weight: [usize; 4],
    pub stride: usize,
    pub groups: usize,
}

impl ConvShape {
    pub(super) fn new(x: &Shape, weight: &Shape, stride: usize, groups: usize) -> Self {
        ConvShape {
            x: [x[0], x[1], x[2], x[3]],
            weight: [weight[0], weight[1], weight[2], weight[3]],
            stride,
            groups,
        }
    }

    /// The output's shape, `[batch, c_out, ho, wo]`: with "same" padding (k / 2, k odd)
    /// a row of `n` pixels gives `(n - 1) / stride + 1`.
    pub fn output(&self) -> [usize; 4] {
        let [batch, _, h, w] = self.x;
        let out = |n: usize| (n - 1) / self.stride + 1;
        [batch, self.weight[0], out(h), out(w)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::Distribution;

    /// Our kernels against Burn's conv2d on `device`: output and both gradients, for a
    /// `k` x `k` kernel over `[batch, c_in, h, w]`.
    fn check(
        device: &Device,
        k: usize,
        [batch, c_in, h, w]: [usize; 4],
        c_out: usize,
        stride: usize,
        groups: usize,
    ) {
        let device = device.clone().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random([batch, c_in, h, w], normal, &device);
        let weight = Tensor::<4>::random([c_out, c_in / groups, k, k], normal, &device);
        let out = [batch, c_out, (h - 1) / stride + 1, (w - 1) / stride + 1];
        let upstream = Tensor::<4>::random(out, normal, &device);
        let run = |ours: bool| {
            let (x, weight) = (x.clone().require_grad(), weight.clone().require_grad());
            let y = if ours {
                same_conv(x.clone(), weight.clone(), stride, groups)
            } else {
                let pad = [k / 2; 2];
                let options = ConvOptions::new([stride; 2], pad, [1, 1], groups);
                conv2d(x.clone(), weight.clone(), None, options)
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            let dx = x.grad(&grads).unwrap();
            let dw = weight.grad(&grads).unwrap();
            [y.inner().into_data(), dx.into_data(), dw.into_data()]
        };
        let (ours, burn) = (run(true), run(false));
        let names = ["output", "input gradient", "weight gradient"];
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
            let worst = crate::train::worst_relative_error(a, b);
            assert!(
                worst < 1e-4,
                "{what}: relative error {worst} for {k}x{k}, {c_in} -> {c_out}, \
                 {h}x{w}, stride {stride}, groups {groups}"
            );
        }
    }

    /// 3x3 layers: dense, grouped, strided, and a 1x1 image.
    fn conv3x3_dense_grouped_strided(device: &Device) {
        check(device, 3, [2, 3, 6, 6], 8, 1, 1);
        check(device, 3, [3, 12, 5, 7], 12, 1, 3);
        check(device, 3, [2, 16, 8, 8], 16, 2, 4);
        check(device, 3, [2, 6, 7, 5], 6, 2, 2);
        check(device, 3, [1, 4, 1, 1], 8, 1, 1);
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn conv3x3_matches_burn_dense_grouped_strided() {
        conv3x3_dense_grouped_strided(&Device::flex());
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn conv3x3_direct_blocks_strides_and_wide_groups() {
        let flex = &Device::flex();
        // Narrow groups (the direct kernels): outputs filling one block, two blocks
        // with a partial one, a 1-pixel-wide image.
        check(flex, 3, [2, 16, 4, 9], 16, 1, 2);
        check(flex, 3, [2, 12, 5, 3], 20, 1, 1);
        check(flex, 3, [2, 6, 9, 1], 6, 1, 3);
        // At stride 2 (phase planes), with a partial block, odd and even sizes.
        check(flex, 3, [2, 24, 7, 6], 24, 2, 2);
        check(flex, 3, [2, 8, 6, 9], 16, 2, 1);
        // Rows of whole vector runs, read and written in place: 8 and 16 wide at
        // stride 1, 8 wide out of 16 and 15 at stride 2, with partial blocks.
        check(flex, 3, [2, 16, 8, 8], 16, 1, 2);
        check(flex, 3, [2, 12, 3, 16], 20, 1, 1);
        check(flex, 3, [2, 24, 6, 16], 24, 2, 2);
        check(flex, 3, [2, 12, 5, 15], 12, 2, 1);
        // Groups wider than the direct kernels take (im2col and GEMM).
        check(flex, 3, [2, 70, 3, 4], 70, 1, 1);
        check(flex, 3, [1, 70, 5, 5], 70, 2, 1);
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn conv1x1_matches_burn_plain_and_strided() {
        let flex = &Device::flex();
        check(flex, 1, [2, 6, 5, 5], 4, 1, 1);
        check(flex, 1, [2, 6, 5, 4], 10, 2, 1);
        check(flex, 1, [3, 8, 3, 3], 4, 1, 2);
    }

    /// On Burn's wgpu backend (Mesa's lavapipe here, `--features gpu`), with the
    /// default layers, which run ours there, the 1x1 layers included.
    #[cfg(feature = "gpu")]
    #[test]
    fn conv3x3_on_the_gpu_matches_burn() {
        crate::train::ops::use_layers(crate::train::ops::Layers::Measured);
        let gpu = &Device::wgpu(Default::default());
        assert!(runs_ours(&gpu.clone().autodiff()));
        conv3x3_dense_grouped_strided(gpu);
        // A weight gradient longer than one cube's units (2 * 16 * 16 = 512 pixels
        // against 256), odd sizes at stride 2, and RegNet's group of 8 over 48
        // channels.
        check(gpu, 3, [2, 16, 16, 16], 16, 1, 2);
        check(gpu, 3, [3, 24, 9, 11], 24, 2, 3);
        check(gpu, 3, [4, 48, 8, 8], 48, 1, 6);
        // Weight-gradient blocks of 2 and 1 output channels (6 and 3 per group), and
        // a layer wide enough to take the whole batch in one chunk (no second launch).
        check(gpu, 3, [2, 12, 6, 6], 12, 1, 2);
        check(gpu, 3, [2, 9, 5, 5], 9, 2, 3);
        check(gpu, 3, [1, 256, 3, 3], 256, 1, 1);
        // Dense 1x1 layers (`gemm`'s matrix products): tiles of 32 and 64 columns,
        // partly filled; strided as a RegNet's shortcut, with odd sizes; a weight
        // gradient over several chunks of pixels (4 * 16 * 16 = 1024).
        check(gpu, 1, [2, 16, 8, 8], 24, 1, 1);
        check(gpu, 1, [3, 12, 9, 7], 20, 2, 1);
        check(gpu, 1, [2, 70, 5, 6], 100, 1, 1);
        check(gpu, 1, [3, 40, 7, 9], 72, 2, 1);
        check(gpu, 1, [4, 24, 16, 16], 48, 1, 1);
        check(gpu, 1, [1, 3, 1, 1], 5, 1, 1);
        // A grouped 1x1 layer (the 3x3 layers' kernels at k = 1).
        check(gpu, 1, [2, 8, 5, 5], 12, 1, 2);
        // On a device with WebGPU's default limits: every kernel binds at most 8
        // storage buffers and fits its shared memory in 16 KiB.
        let limited = &crate::train::gpu::webgpu_default_limits();
        check(limited, 3, [2, 16, 16, 16], 16, 1, 2);
        check(limited, 1, [2, 16, 8, 8], 24, 1, 1);
        check(limited, 1, [2, 40, 8, 8], 72, 2, 1);
    }
}
