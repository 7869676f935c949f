//! The 3x3 convolution on Burn's CubeCL backend (wgpu), forward and backward, as our
//! kernels (and a grouped 1x1 one at k = 1; a dense 1x1 layer is `gemm`'s): one launch
//! for the forward pass, one for the input gradient, and two for the weight gradient. Burn's own (burn-cubecl 0.22) runs a grouped layer's forward
//! pass as a direct kernel and its input gradient as a transposed one, both slower
//! than ours on lavapipe, and its weight gradient as one convolution per group, with
//! a slice of the input, a slice of the gradient and a write into the result around
//! each (BENCHMARKS.md).
//!
//! Every kernel reads and writes activations channels-last, as Burn's convolutions and
//! our batch norm leave them (`gpu::Layout`), and gives a unit a few neighbouring
//! channels at a few pixels, all their sums in registers: each value it reads serves
//! several products. The weight gradient's first launch gives each unit one input
//! channel and a few output channels of its group, for a chunk of the batch's output
//! rows, and its second adds the chunks up. The chunks are there for parallelism: a
//! layer has too few weights to keep a GPU busy with one unit per weight group.

use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

use super::{gemm, ConvOps, ConvShape};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, Layout, MAX_CUBES};

/// The units of one cube of the weight gradient's launches (WebGPU's default limit on
/// a workgroup is 256).
pub(super) const UNITS: usize = 256;

/// About how many units the weight gradient's first launch should have: enough to keep
/// a wide GPU busy. A layer with fewer (output block, input channel) pairs than this
/// splits the batch's rows into that many more chunks, at the cost of one partial sum
/// per chunk for the second launch to add up.
const GRAD_W_TARGET_UNITS: usize = 16_384;

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

/// How the weight gradient splits its work: `block` output channels per unit, and the
/// batch's output rows (`batch * ho` of them) in `chunks` runs of `rows` each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GradWPlan {
    block: usize,
    rows: usize,
    chunks: usize,
}

impl GradWPlan {
    fn new(s: &ConvShape) -> Self {
        let [batch, c_in, ..] = s.x;
        let [_, c_out, ho, _] = s.output();
        let og = c_out / s.groups;
        let block = block(og);
        let per_chunk = c_out / block * (c_in / s.groups);
        let total_rows = batch * ho;
        let wanted = GRAD_W_TARGET_UNITS.div_ceil(per_chunk).clamp(1, total_rows);
        let rows = total_rows.div_ceil(wanted);
        GradWPlan {
            block,
            rows,
            chunks: total_rows.div_ceil(rows),
        }
    }

    /// The units of the first launch: a chunk, an output block and an input channel each.
    fn units(&self, s: &ConvShape) -> usize {
        self.chunks * s.weight[0] / self.block * s.weight[1]
    }
}

/// This cube's number in a launch `spread` laid out over two axes (the third aside).
#[cube]
pub(super) fn cube_index() -> usize {
    CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize
}

/// This unit's place in a launch of `cubes(n)` cubes of `UNITS` units.
#[cube]
fn position() -> usize {
    cube_index() * CUBE_DIM_X as usize + UNIT_POS_X as usize
}

/// The weight gradient's first launch, on channels-last activations: `partial[chunk,
/// co, ci, kh, kw]` = the sum, over the output pixels of the chunk's rows, of `dy[n, oh,
/// ow, co] * x[n, oh * stride + kh - pad, ow * stride + kw - pad, ci of co's group]`.
/// A unit takes one input channel and a block of `block` output channels of its group,
/// and keeps their `block * k * k` sums in registers: per pixel it reads `block`
/// gradients and `k * k` inputs for `block * k * k` products. Neighbouring units take
/// neighbouring input channels, so their reads of `x` are adjacent.
#[cube(launch_unchecked)]
fn grad_w_kernel<F: Float>(
    x: &Tensor<F>,
    dy: &Tensor<F>,
    partial: &mut Tensor<F>,
    d: Dims,
    rows: usize,
    chunks: usize,
    #[comptime] k: usize,
    #[comptime] stride: usize,
    #[comptime] block: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = position();
    let blocks = d.og / block;
    let per_chunk = d.c_out / block * d.cg;
    let chunk = unit / per_chunk;
    if chunk >= chunks {
        terminate!();
    }
    let within = unit % per_chunk;
    let ci = within % d.cg;
    let ob = within / d.cg;
    let group = ob / blocks;
    let co = group * d.og + (ob % blocks) * block;
    let channel = group * d.cg + ci;
    let taps = comptime![k * k];
    let pad = comptime![k / 2];

    let mut acc = Array::<F>::new(comptime![block * k * k]);
    #[unroll]
    for i in 0..comptime![block * k * k] {
        acc[i] = F::new(0.0);
    }
    let first = chunk * rows;
    let mut last = first + rows;
    if last > d.batch * d.ho {
        last = d.batch * d.ho;
    }
    for r in first..last {
        let n = r / d.ho;
        let top = (r % d.ho) * stride;
        let mut g = Array::<F>::new(block);
        for ow in 0..d.wo {
            let at = (r * d.wo + ow) * d.c_out + co;
            #[unroll]
            for b in 0..block {
                g[b] = dy[at + b];
            }
            let left = ow * stride;
            #[unroll]
            for kh in 0..k {
                let ih = top + kh;
                if ih >= pad && ih < d.h + pad {
                    let x_row = (n * d.h + ih - pad) * d.w;
                    #[unroll]
                    for kw in 0..k {
                        let iw = left + kw;
                        if iw >= pad && iw < d.w + pad {
                            let v = x[(x_row + iw - pad) * d.c_in + channel];
                            #[unroll]
                            for b in 0..block {
                                acc[b * taps + kh * k + kw] += g[b] * v;
                            }
                        }
                    }
                }
            }
        }
    }
    let out = (chunk * d.c_out + co) * d.cg + ci;
    #[unroll]
    for b in 0..block {
        #[unroll]
        for t in 0..taps {
            partial[(out + b * d.cg) * taps + t] = acc[b * taps + t];
        }
    }
}

/// The weight gradient's second launch: `dw[i]` = the sum of the chunks' `partial[.., i]`.
#[cube(launch_unchecked)]
fn sum_chunks_kernel<F: Float>(
    partial: &Tensor<F>,
    dw: &mut Tensor<F>,
    weights: usize,
    chunks: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = position();
    if i >= weights {
        terminate!();
    }
    let mut s = F::new(0.0);
    for c in 0..chunks {
        s += partial[c * weights + i];
    }
    dw[i] = s;
}

/// The output pixels of a row one unit of the forward pass takes.
const FORWARD_COLUMNS: usize = 4;

/// The forward pass, channels-last: `y[n, oh, ow, co]` = the sum over the input
/// channels `ci` of `co`'s group and the taps (kh, kw) of `x[n, oh * stride + kh - pad,
/// ow * stride + kw - pad, ci] * w[co, ci, kh, kw]`. A unit takes `block` neighbouring
/// output channels at `columns` neighbouring output pixels of a row (`row_blocks` runs
/// per row): per input channel and tap it reads `block` weights and `columns` inputs for
/// `block * columns` products, all kept in registers.
#[cube(launch_unchecked)]
fn forward_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    y: &mut Tensor<F>,
    d: Dims,
    row_blocks: usize,
    #[comptime] k: usize,
    #[comptime] stride: usize,
    #[comptime] block: usize,
    #[comptime] columns: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = position();
    let channel_blocks = d.c_out / block;
    if unit >= d.batch * d.ho * row_blocks * channel_blocks {
        terminate!();
    }
    let co = (unit % channel_blocks) * block;
    let rest = unit / channel_blocks;
    let first = (rest % row_blocks) * columns;
    let row = rest / row_blocks;
    let (n, oh) = (row / d.ho, row % d.ho);
    let group = co / d.og;
    let taps = comptime![k * k];
    let pad = comptime![k / 2];

    let mut acc = Array::<F>::new(comptime![block * columns]);
    #[unroll]
    for i in 0..comptime![block * columns] {
        acc[i] = F::new(0.0);
    }
    let mut wv = Array::<F>::new(block);
    #[unroll]
    for kh in 0..k {
        let ih = oh * stride + kh;
        if ih >= pad && ih < d.h + pad {
            let x_row = (n * d.h + ih - pad) * d.w;
            #[unroll]
            for kw in 0..k {
                for c in 0..d.cg {
                    let w_at = (co * d.cg + c) * taps + kh * k + kw;
                    #[unroll]
                    for b in 0..block {
                        wv[b] = weight[w_at + b * d.cg * taps];
                    }
                    let channel = group * d.cg + c;
                    #[unroll]
                    for j in 0..columns {
                        let iw = (first + j) * stride + kw;
                        if iw >= pad && iw < d.w + pad {
                            let v = x[(x_row + iw - pad) * d.c_in + channel];
                            #[unroll]
                            for b in 0..block {
                                acc[b * columns + j] += v * wv[b];
                            }
                        }
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..columns {
        let ow = first + j;
        if ow < d.wo {
            let at = ((n * d.ho + oh) * d.wo + ow) * d.c_out + co;
            #[unroll]
            for b in 0..block {
                y[at + b] = acc[b * columns + j];
            }
        }
    }
}

/// The input columns one unit of the input gradient takes, `stride` apart.
const GRAD_X_COLUMNS: usize = 4;

/// The input gradient, channels-last: `dx[n, ih, iw, ci]` = the sum over the output
/// channels `co` of `ci`'s group and the taps (kh, kw) with `oh * stride + kh - pad =
/// ih` and `ow * stride + kw - pad = iw` of `dy[n, oh, ow, co] * w[co, ci, kh, kw]`.
/// A unit takes `block` neighbouring input channels at `columns` input pixels of a row,
/// `stride` apart: pixels of one phase, so that for each tap they meet neighbouring
/// output pixels or none (`phase_blocks` such runs per phase and row). Per output
/// channel and tap it reads `block` weights and `columns` gradients for `block *
/// columns` products, all kept in registers.
// CubeCL translates `%`, not `is_multiple_of`.
#[allow(clippy::manual_is_multiple_of)]
#[cube(launch_unchecked)]
fn grad_x_kernel<F: Float>(
    dy: &Tensor<F>,
    weight: &Tensor<F>,
    dx: &mut Tensor<F>,
    d: Dims,
    phase_blocks: usize,
    #[comptime] k: usize,
    #[comptime] stride: usize,
    #[comptime] block: usize,
    #[comptime] columns: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = position();
    let channel_blocks = d.c_in / block;
    let row_blocks = stride * phase_blocks;
    if unit >= d.batch * d.h * row_blocks * channel_blocks {
        terminate!();
    }
    let ci = (unit % channel_blocks) * block;
    let rest = unit / channel_blocks;
    let run = rest % row_blocks;
    let row = rest / row_blocks;
    let (n, ih) = (row / d.h, row % d.h);
    let first = run / phase_blocks + (run % phase_blocks) * columns * stride;
    let group = ci / d.cg;
    let ci_in_group = ci % d.cg;
    let taps = comptime![k * k];
    let pad = comptime![k / 2];
    // Offsets that keep the arithmetic below unsigned.
    let lift = comptime![stride * k];

    let mut acc = Array::<F>::new(comptime![block * columns]);
    #[unroll]
    for i in 0..comptime![block * columns] {
        acc[i] = F::new(0.0);
    }
    let mut wv = Array::<F>::new(block);
    #[unroll]
    for kh in 0..k {
        let top = ih + pad + lift - kh;
        let oh = top / stride;
        if top % stride == 0 && oh >= lift / stride && oh - lift / stride < d.ho {
            let dy_row = (n * d.ho + oh - lift / stride) * d.wo;
            #[unroll]
            for kw in 0..k {
                let left = first + pad + lift - kw;
                if left % stride == 0 {
                    let ow = left / stride;
                    for o in 0..d.og {
                        let co = group * d.og + o;
                        let w_at = (co * d.cg + ci_in_group) * taps + kh * k + kw;
                        #[unroll]
                        for b in 0..block {
                            wv[b] = weight[w_at + b * taps];
                        }
                        #[unroll]
                        for j in 0..columns {
                            let col = ow + j;
                            if col >= lift / stride && col - lift / stride < d.wo {
                                let g = dy[(dy_row + col - lift / stride) * d.c_out + co];
                                #[unroll]
                                for b in 0..block {
                                    acc[b * columns + j] += g * wv[b];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..columns {
        let iw = first + j * stride;
        if iw < d.w {
            let at = ((n * d.h + ih) * d.w + iw) * d.c_in + ci;
            #[unroll]
            for b in 0..block {
                dx[at + b] = acc[b * columns + j];
            }
        }
    }
}

/// The channels one unit takes together: the widest block of 4 or fewer that tiles a
/// group of `channels`.
fn block(channels: usize) -> usize {
    [4, 2, 1]
        .into_iter()
        .find(|b| channels.is_multiple_of(*b))
        .unwrap_or(1)
}

/// Cubes of `UNITS` units for `units` units (`position` numbers them).
fn cubes(units: usize) -> CubeCount {
    spread(units.div_ceil(UNITS), 1)
}

/// A launch of `cubes` cubes (`cube_index` numbers them), laid out over two axes when
/// one (65,535 cubes at most) is too few, and `layers` deep on the third.
pub(super) fn spread(cubes: usize, layers: usize) -> CubeCount {
    let x = cubes.clamp(1, MAX_CUBES);
    CubeCount::Static(x as u32, cubes.div_ceil(x) as u32, layers as u32)
}

/// Whether a layer is a dense 1x1 one, which `gemm` computes as matrix products.
fn dense_1x1(shape: &ConvShape) -> bool {
    shape.weight[2] == 1 && shape.groups == 1
}

impl ConvOps for CubeBackend {
    fn same_conv(x: CubeTensor, weight: CubeTensor, stride: usize, groups: usize) -> CubeTensor {
        let shape = ConvShape::new(x.meta.shape(), weight.meta.shape(), stride, groups);
        if dense_1x1(&shape) {
            return gemm::forward(x, weight, &shape);
        }
        let x = Layout::ChannelsLast.arrange(x);
        let weight = contiguous(weight);
        let [batch, c_out, ho, wo] = shape.output();
        let block = block(c_out / groups);
        let row_blocks = wo.div_ceil(FORWARD_COLUMNS);
        let units = batch * ho * row_blocks * (c_out / block);
        let y = Layout::ChannelsLast.empty_of(&x, shape.output());
        // SAFETY: every index the kernel forms is inside its tensor: its bounds are `d`
        // and `row_blocks`, derived from the same shapes; `x` and `y` are row-major
        // NHWC (`arrange`, `Layout::empty_of`), `weight` row-major.
        unsafe {
            forward_kernel::launch_unchecked(
                &y.client,
                cubes(units),
                CubeDim::new_1d(UNITS as u32),
                x.into_tensor_arg(),
                weight.into_tensor_arg(),
                y.clone().into_tensor_arg(),
                dims(&shape),
                row_blocks,
                shape.weight[2],
                stride,
                block,
                FORWARD_COLUMNS,
                f32_type(),
            )
        };
        y
    }

    fn same_conv_grad_x(grad: CubeTensor, weight: CubeTensor, shape: ConvShape) -> CubeTensor {
        if dense_1x1(&shape) {
            return gemm::grad_x(grad, weight, &shape);
        }
        let dy = Layout::ChannelsLast.arrange(grad);
        let weight = contiguous(weight);
        let block = block(shape.x[1] / shape.groups);
        let [batch, c_in, h, w] = shape.x;
        let phase_blocks = w.div_ceil(shape.stride).div_ceil(GRAD_X_COLUMNS);
        let units = batch * h * shape.stride * phase_blocks * (c_in / block);
        let dx = Layout::ChannelsLast.empty_of(&dy, shape.x);
        // SAFETY: every index the kernel forms is inside its tensor: its bounds are `d`
        // and `phase_blocks`, derived from the same shapes; `dy` and `dx` are row-major
        // NHWC (`arrange`, `Layout::empty_of`), `weight` row-major.
        unsafe {
            grad_x_kernel::launch_unchecked(
                &dx.client,
                cubes(units),
                CubeDim::new_1d(UNITS as u32),
                dy.into_tensor_arg(),
                weight.into_tensor_arg(),
                dx.clone().into_tensor_arg(),
                dims(&shape),
                phase_blocks,
                shape.weight[2],
                shape.stride,
                block,
                GRAD_X_COLUMNS,
                f32_type(),
            )
        };
        dx
    }

    fn same_conv_grad_w(x: CubeTensor, grad: CubeTensor, shape: ConvShape) -> CubeTensor {
        if dense_1x1(&shape) {
            return gemm::grad_w(x, grad, &shape);
        }
        let x = Layout::ChannelsLast.arrange(x);
        let dy = Layout::ChannelsLast.arrange(grad);
        let plan = GradWPlan::new(&shape);
        let like = x.clone();
        sum_of_chunks(&like, shape.weight, plan.chunks, |partial| {
            // SAFETY: every index the kernel forms is inside its tensor: its bounds are
            // `d` and `plan`, derived from the same shapes; `x` and `dy` are row-major
            // NHWC (`arrange`), `partial` row-major, `plan.chunks` runs of the weights.
            unsafe {
                grad_w_kernel::launch_unchecked(
                    &partial.client,
                    cubes(plan.units(&shape)),
                    CubeDim::new_1d(UNITS as u32),
                    x.into_tensor_arg(),
                    dy.into_tensor_arg(),
                    partial.clone().into_tensor_arg(),
                    dims(&shape),
                    plan.rows,
                    plan.chunks,
                    shape.weight[2],
                    shape.stride,
                    plan.block,
                    f32_type(),
                )
            };
        })
    }
}

/// A weight gradient of `shape` on `like`'s device, summed from `chunks` partial results:
/// `write` fills the buffer it is given (`chunks` runs of the weights, row-major, or
/// the gradient itself when there is one chunk), and a second launch adds the runs up.
pub(super) fn sum_of_chunks(
    like: &CubeTensor,
    shape: [usize; 4],
    chunks: usize,
    write: impl FnOnce(&CubeTensor),
) -> CubeTensor {
    let dw = empty(like, shape);
    let weights = shape.iter().product();
    let partial = match chunks {
        1 => dw.clone(),
        chunks => empty(like, [chunks * weights]),
    };
    write(&partial);
    if chunks > 1 {
        // SAFETY: `partial` holds `chunks` runs of `weights` values, `dw` one.
        unsafe {
            sum_chunks_kernel::launch_unchecked(
                &dw.client,
                cubes(weights),
                CubeDim::new_1d(UNITS as u32),
                partial.into_tensor_arg(),
                dw.clone().into_tensor_arg(),
                weights,
                chunks,
                f32_type(),
            )
        };
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks cover the batch's output rows once, none empty, and a layer with
    /// enough weight pairs to fill a launch is one chunk.
    #[test]
    fn weight_gradient_chunks_cover_the_rows() {
        let layer = |x: [usize; 4], c_out: usize, stride: usize, groups: usize| {
            let weight = [c_out, x[1] / groups, 3, 3];
            ConvShape::new(&x.into(), &weight.into(), stride, groups)
        };
        for shape in [
            layer([32, 24, 32, 32], 24, 1, 3),
            layer([32, 48, 32, 32], 48, 2, 6),
            layer([2, 6, 7, 5], 6, 2, 2),
            layer([1, 4, 1, 1], 8, 1, 1),
            layer([128, 368, 4, 4], 368, 1, 23),
        ] {
            let plan = GradWPlan::new(&shape);
            let [batch, _, ho, _] = shape.output();
            let rows = batch * ho;
            assert!(plan.chunks * plan.rows >= rows, "{shape:?}: {plan:?}");
            assert!((plan.chunks - 1) * plan.rows < rows, "{shape:?}: {plan:?}");
            assert!((shape.weight[0] / shape.groups).is_multiple_of(plan.block));
        }
        let wide = layer([1, 256, 3, 3], 256, 1, 1);
        assert_eq!(GradWPlan::new(&wide).chunks, 1);
        let narrow = layer([32, 24, 32, 32], 24, 1, 3);
        assert!(GradWPlan::new(&narrow).units(&narrow) >= GRAD_W_TARGET_UNITS);
    }
}
