//! The convolution's kernels on Burn's CubeCL backend (wgpu): the forward pass and both
//! gradients, each one launch over every group and image.
//!
//! Burn's own GPU convolution has fast paths (implicit GEMM) only for ungrouped layers;
//! a grouped one, which every RegNet 3x3 layer is, runs a direct kernel forwards, and
//! its weight gradient launches one convolution per group (burn-cubecl 0.22,
//! `conv_weight_grad_groups`). These kernels index NCHW activations and
//! `[c_out, c_in / groups, k, k]` weights in row-major order:
//! - the forward pass and the input gradient give each unit one element of their
//!   output, a sum over one group's channels and the k x k taps, so neighbouring units
//!   read neighbouring pixels;
//! - the weight gradient gives each cube one (output channel, input channel) pair: its
//!   units split the batch's pixels between them, each keeps the k x k sums in
//!   registers, and the cube adds them up in shared memory.

use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

use super::{ConvOps, ConvShape};
use crate::train::gpu::{contiguous, elementwise, empty, CubeTensor};

/// The units of one weight-gradient cube: a power of two (its shared-memory sum halves
/// the count each round), and at most 256, WebGPU's default limit on a workgroup.
const GRAD_W_UNITS: usize = 256;

/// The sizes every kernel is given, as launch arguments (so one compiled kernel serves
/// every layer of a kernel size).
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
    stride: usize,
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
        s.stride,
    )
}

/// `y[n, co, oh, ow]` = the sum over channel `ci` of `co`'s group and taps (kh, kw) of
/// `x[n, ci, oh * stride + kh - pad, ow * stride + kw - pad] * weight[co, ci, kh, kw]`,
/// outside the image counting as zero. One unit per element of `y`.
#[cube(launch)]
fn forward_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    y: &mut Tensor<F>,
    d: Dims,
    #[comptime] k: usize,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= y.len() {
        terminate!();
    }
    let pad = k / 2;
    let ow = ABSOLUTE_POS % d.wo;
    let rest = ABSOLUTE_POS / d.wo;
    let oh = rest % d.ho;
    let rest = rest / d.ho;
    let co = rest % d.c_out;
    let n = rest / d.c_out;
    let group = co / d.og;
    let plane = d.h * d.w;
    let x_group = (n * d.c_in + group * d.cg) * plane;
    let w_row = co * d.cg * k * k;
    // The taps' rows and columns, shifted by `pad` so they stay unsigned.
    let (top, left) = (oh * d.stride, ow * d.stride);
    let mut sum = F::new(0.0);
    for ci in 0..d.cg {
        let x_channel = x_group + ci * plane;
        let w_channel = w_row + ci * k * k;
        #[unroll]
        for kh in 0..k {
            let ih = top + kh;
            if ih >= pad && ih < d.h + pad {
                let x_row = x_channel + (ih - pad) * d.w;
                #[unroll]
                for kw in 0..k {
                    let iw = left + kw;
                    if iw >= pad && iw < d.w + pad {
                        sum += x[x_row + iw - pad] * weight[w_channel + kh * k + kw];
                    }
                }
            }
        }
    }
    y[ABSOLUTE_POS] = sum;
}

/// `dx[n, ci, ih, iw]` = the sum over output channel `co` of `ci`'s group and taps
/// (kh, kw) with `ih = oh * stride + kh - pad` (and the same for columns) of
/// `dy[n, co, oh, ow] * weight[co, ci, kh, kw]`. One unit per element of `dx`.
#[cube(launch)]
fn grad_x_kernel<F: Float>(
    dy: &Tensor<F>,
    weight: &Tensor<F>,
    dx: &mut Tensor<F>,
    d: Dims,
    #[comptime] k: usize,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= dx.len() {
        terminate!();
    }
    let pad = k / 2;
    let iw = ABSOLUTE_POS % d.w;
    let rest = ABSOLUTE_POS / d.w;
    let ih = rest % d.h;
    let rest = rest / d.h;
    let c = rest % d.c_in;
    let n = rest / d.c_in;
    let group = c / d.cg;
    let ci = c % d.cg;
    let plane = d.ho * d.wo;
    let dy_group = (n * d.c_out + group * d.og) * plane;
    // `oh * stride = ih + pad - kh`: only taps with a whole, in-range `oh` count.
    let (down, right) = (ih + pad, iw + pad);
    let mut sum = F::new(0.0);
    for o in 0..d.og {
        let dy_channel = dy_group + o * plane;
        let w_channel = ((group * d.og + o) * d.cg + ci) * k * k;
        #[unroll]
        for kh in 0..k {
            if down >= kh && (down - kh) % d.stride == 0 {
                let oh = (down - kh) / d.stride;
                if oh < d.ho {
                    let dy_row = dy_channel + oh * d.wo;
                    #[unroll]
                    for kw in 0..k {
                        if right >= kw && (right - kw) % d.stride == 0 {
                            let ow = (right - kw) / d.stride;
                            if ow < d.wo {
                                sum += dy[dy_row + ow] * weight[w_channel + kh * k + kw];
                            }
                        }
                    }
                }
            }
        }
    }
    dx[ABSOLUTE_POS] = sum;
}

/// `dw[co, ci, kh, kw]` = the sum over images `n` and output pixels (oh, ow) of
/// `dy[n, co, oh, ow] * x[n, ci of co's group, oh * stride + kh - pad, ...]`. Cube
/// `co * cg + ci` computes the k x k taps of that pair, with `units` units.
#[cube(launch)]
fn grad_w_kernel<F: Float>(
    x: &Tensor<F>,
    dy: &Tensor<F>,
    dw: &mut Tensor<F>,
    d: Dims,
    #[comptime] k: usize,
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
    let plane_out = d.ho * d.wo;
    let plane_in = d.h * d.w;
    let pixels = d.batch * plane_out;

    let mut acc = Array::<F>::new(taps);
    let mut p = unit;
    while p < pixels {
        let n = p / plane_out;
        let r = p % plane_out;
        let (oh, ow) = (r / d.wo, r % d.wo);
        let g = dy[(n * d.c_out + co) * plane_out + r];
        let x_channel = (n * d.c_in + group * d.cg + ci) * plane_in;
        let (top, left) = (oh * d.stride, ow * d.stride);
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

/// The element type the kernels are compiled for (`contiguous` checks the tensors').
fn f32_type() -> ElemType {
    ElemType::Float(cubecl::ir::FloatKind::F32)
}

/// The cubes of the weight gradient, one per (output channel, input channel) pair,
/// laid out over two axes: one axis allows 65,535 cubes, and a dense layer of 400
/// channels has 160,000 pairs.
fn pair_cubes(pairs: usize) -> CubeCount {
    let x = pairs.min(MAX_CUBES);
    CubeCount::Static(x as u32, pairs.div_ceil(x) as u32, 1)
}

/// The most cubes along one axis of a launch (WebGPU's and Vulkan's minimum limit).
const MAX_CUBES: usize = 65_535;

impl ConvOps for CubeBackend {
    fn same_conv(x: CubeTensor, weight: CubeTensor, stride: usize, groups: usize) -> CubeTensor {
        let shape = ConvShape::new(x.meta.shape(), weight.meta.shape(), stride, groups);
        let d = dims(&shape);
        let (x, weight) = (contiguous(x), contiguous(weight));
        let y = empty(&x, shape.output());
        let (count, dim) = elementwise(&y, y.meta.num_elements());
        forward_kernel::launch(
            &y.client,
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            d,
            shape.weight[2],
            f32_type(),
        );
        y
    }

    fn same_conv_grad_x(grad: CubeTensor, weight: CubeTensor, shape: ConvShape) -> CubeTensor {
        let d = dims(&shape);
        let (dy, weight) = (contiguous(grad), contiguous(weight));
        let dx = empty(&dy, shape.x);
        let (count, dim) = elementwise(&dx, dx.meta.num_elements());
        grad_x_kernel::launch(
            &dx.client,
            count,
            dim,
            dy.into_tensor_arg(),
            weight.into_tensor_arg(),
            dx.clone().into_tensor_arg(),
            d,
            shape.weight[2],
            f32_type(),
        );
        dx
    }

    fn same_conv_grad_w(x: CubeTensor, grad: CubeTensor, shape: ConvShape) -> CubeTensor {
        let d = dims(&shape);
        let (x, dy) = (contiguous(x), contiguous(grad));
        let dw = empty(&x, shape.weight);
        let pairs = shape.weight[0] * shape.weight[1];
        grad_w_kernel::launch(
            &dw.client,
            pair_cubes(pairs),
            CubeDim::new_1d(GRAD_W_UNITS as u32),
            x.into_tensor_arg(),
            dy.into_tensor_arg(),
            dw.clone().into_tensor_arg(),
            d,
            shape.weight[2],
            GRAD_W_UNITS,
            f32_type(),
        );
        dw
    }
}
