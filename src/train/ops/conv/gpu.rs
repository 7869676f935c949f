//! The convolution on Burn's CubeCL backend (wgpu), when `ops::Layers::Ours` asks for
//! it: the forward pass and the input gradient are Burn's own (for a grouped layer each
//! is already one launch over every group: a direct kernel and a transposed one), the
//! weight gradient is ours, one launch where Burn's launches one convolution per group
//! (burn-cubecl 0.22, `conv_weight_grad_groups`) and copies around each.
//!
//! The weight gradient gives each cube one (output channel, input channel) pair: its
//! units split the batch's pixels between them, neighbouring units on neighbouring
//! pixels of row-major NCHW activations, each keeps the k x k sums in registers, and the
//! cube adds them up in shared memory. On lavapipe it is slower than Burn's per-group
//! convolutions, whose direct kernel reads four channels at a time (BENCHMARKS.md).

use burn::backend::ops::ModuleOps;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Shape;
use burn_cubecl::kernel::conv::conv_data_backward;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;
use cubecl::std::FastDivmod;

use super::{ConvOps, ConvShape};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, MAX_CUBES};

/// The units of one weight-gradient cube: a power of two (its shared-memory sum halves
/// the count each round), and at most 256, WebGPU's default limit on a workgroup.
const GRAD_W_UNITS: usize = 256;

/// The layer's sizes, as launch arguments (so one compiled kernel serves every layer of
/// a kernel size and stride).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Dims {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    ho: usize,
    wo: usize,
    /// Input and output channels per group.
    cg: usize,
    og: usize,
}

fn dims(s: &ConvShape) -> DimsLaunch {
    let [batch, c_in, h, w] = s.x;
    let [_, c_out, ho, wo] = s.output();
    DimsLaunch::new(
        batch,
        c_in,
        h,
        w,
        c_out,
        ho,
        wo,
        c_in / s.groups,
        c_out / s.groups,
    )
}

/// `dw[co, ci, kh, kw]` = the sum over images `n` and output pixels (oh, ow) of
/// `dy[n, co, oh, ow] * x[n, ci of co's group, oh * stride + kh - pad, ...]`. Cube
/// `co * cg + ci` computes the k x k taps of that pair, with `units` units.
/// `image_pixels` and `row_pixels` divide by `ho * wo` and `wo`.
#[cube(launch_unchecked)]
fn grad_w_kernel<F: Float>(
    x: &Tensor<F>,
    dy: &Tensor<F>,
    dw: &mut Tensor<F>,
    image_pixels: FastDivmod<usize>,
    row_pixels: FastDivmod<usize>,
    d: Dims,
    #[comptime] k: usize,
    #[comptime] stride: usize,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let pair = CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize;
    // Whole cubes leave (the last row of cubes overhangs), so the barriers below stay
    // in uniform control flow.
    if pair >= d.c_out * d.cg {
        terminate!();
    }
    let unit = UNIT_POS_X as usize;
    let taps = comptime![k * k];
    let pad = k / 2;
    let co = pair / d.cg;
    let ci = pair % d.cg;
    let group = co / d.og;
    let plane_in = d.h * d.w;
    let plane_out = d.ho * d.wo;
    let pixels = d.batch * plane_out;

    let mut acc = Array::<F>::new(taps);
    let mut p = unit;
    while p < pixels {
        let (n, r) = image_pixels.div_mod(p);
        let (oh, ow) = row_pixels.div_mod(r);
        let g = dy[(n * d.c_out + co) * plane_out + r];
        let x_channel = (n * d.c_in + group * d.cg + ci) * plane_in;
        let (top, left) = (oh * stride, ow * stride);
        #[unroll]
        for kh in 0..k {
            let ih = top + kh;
            if ih >= pad && ih < d.h + pad {
                let x_row = x_channel + (ih - pad) * d.w;
                #[unroll]
                for kw in 0..k {
                    let iw = left + kw;
                    if iw >= pad && iw < d.w + pad {
                        acc[kh * k + kw] += g * x[x_row + iw - pad];
                    }
                }
            }
        }
        p += units;
    }

    // Tap t's partial sums at `sums[t * units ..]`, halved each round.
    let mut sums = Shared::new_slice(comptime![taps * units]);
    #[unroll]
    for t in 0..taps {
        sums[t * units + unit] = acc[t];
    }
    sync_cube();
    let mut half = comptime![units / 2].runtime();
    while half > 0 {
        if unit < half {
            #[unroll]
            for t in 0..taps {
                let at = t * units + unit;
                sums[at] = sums[at] + sums[at + half];
            }
        }
        sync_cube();
        half /= 2;
    }
    if unit < taps {
        dw[pair * taps + unit] = sums[unit * units];
    }
}

/// Burn's description of the layer `shape` describes.
fn options(shape: &ConvShape) -> ConvOptions<2> {
    let pad = shape.weight[2] / 2;
    ConvOptions::new([shape.stride; 2], [pad; 2], [1, 1], shape.groups)
}

/// The cubes of the weight gradient, one per (output channel, input channel) pair,
/// laid out over two axes: one axis allows 65,535 cubes, and a dense layer of 400
/// channels has 160,000 pairs.
fn pair_cubes(pairs: usize) -> CubeCount {
    let x = pairs.min(MAX_CUBES);
    CubeCount::Static(x as u32, pairs.div_ceil(x) as u32, 1)
}

impl ConvOps for CubeBackend {
    /// Burn's own convolution: for a grouped layer already one launch (its direct
    /// kernel, which is faster than a plain one of ours on lavapipe; BENCHMARKS.md).
    fn same_conv(x: CubeTensor, weight: CubeTensor, stride: usize, groups: usize) -> CubeTensor {
        let shape = ConvShape::new(x.meta.shape(), weight.meta.shape(), stride, groups);
        <CubeBackend as ModuleOps<CubeBackend>>::conv2d(x, weight, None, options(&shape))
    }

    /// Burn's own input gradient: one launch for a grouped layer too (a transposed
    /// convolution), as fast as a plain kernel of ours on lavapipe.
    fn same_conv_grad_x(grad: CubeTensor, weight: CubeTensor, shape: ConvShape) -> CubeTensor {
        conv_data_backward(
            grad,
            weight,
            Shape::new(shape.x),
            options(&shape),
            Default::default(),
        )
        .expect(
            "Burn's transposed convolution takes every layer (its direct kernel is the fallback)",
        )
    }

    fn same_conv_grad_w(x: CubeTensor, grad: CubeTensor, shape: ConvShape) -> CubeTensor {
        let [_, _, ho, wo] = shape.output();
        let (x, dy) = (contiguous(x), contiguous(grad));
        let dw = empty(&x, shape.weight);
        let pairs = shape.weight[0] * shape.weight[1];
        // SAFETY: every index the kernel forms is inside its tensor: its bounds are
        // `d`, which `dims` derives from the same shapes, and the tensors are row-major.
        unsafe {
            grad_w_kernel::launch_unchecked(
                &dw.client,
                pair_cubes(pairs),
                CubeDim::new_1d(GRAD_W_UNITS as u32),
                x.into_tensor_arg(),
                dy.into_tensor_arg(),
                dw.clone().into_tensor_arg(),
                ho * wo,
                wo,
                dims(&shape),
                shape.weight[2],
                shape.stride,
                GRAD_W_UNITS,
                f32_type(),
            )
        };
        dw
    }
}
