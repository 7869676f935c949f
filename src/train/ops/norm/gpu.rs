//! Batch norm's training kernels on Burn's CubeCL backend (wgpu): one launch forward
//! and one backward (and a tiny one before it that packs the per-channel inputs), the
//! residual and the ReLU folded in, where Burn's batch norm is a
//! dozen launches each way (reductions over a copy with batch and channel axes swapped,
//! and element-wise kernels around them).
//!
//! Each cube owns one channel: its units split the channel's values (neighbouring units
//! on neighbouring pixels of row-major NCHW activations), add up the channel's sums,
//! combine them in shared memory, and then, in the same launch, read the channel again
//! to write the output (or the input's gradient). So nothing is written between the
//! two passes, and no second launch waits for the first.
//!
//! As on flex, the sums are of `x - first` (`first` the channel's first value, near its
//! mean), so the variance does not cancel away in f32 far from zero; `offset` is the
//! mean's distance from `first`.

use burn::backend::TensorMetadata;
use cubecl::prelude::*;
use cubecl::std::FastDivmod;

use super::{BnOutput, NormOps};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor};
use burn_cubecl::CubeBackend;

/// The units of one channel's cube: a power of two (the shared-memory sums halve the
/// count each round), and at most 256, WebGPU's default limit on a workgroup.
const UNITS: usize = 256;

/// The activation's sizes, as launch arguments (one compiled kernel serves every layer).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Dims {
    batch: usize,
    channels: usize,
    plane: usize,
}

fn dims(x: &CubeTensor) -> (DimsLaunch, usize) {
    let shape = x.shape();
    let (batch, channels, plane) = (shape[0], shape[1], shape[2] * shape[3]);
    (DimsLaunch::new(batch, channels, plane), plane)
}

/// Adds `sums[0]` and `sums[units]` (each unit's pair at `sums[unit]` and
/// `sums[units + unit]`) over the cube's units: afterwards `sums[0]` and `sums[units]`
/// hold the totals, and every unit may read them. Called by every unit of the cube.
#[cube]
fn sum_pairs<F: Float>(sums: &mut Shared<[F]>, unit: usize, #[comptime] units: usize) {
    sync_cube();
    let mut half = comptime![units / 2].runtime();
    while half > 0 {
        if unit < half {
            sums[unit] = sums[unit] + sums[unit + half];
            sums[units + unit] = sums[units + unit] + sums[units + unit + half];
        }
        sync_cube();
        half /= 2;
    }
}

/// Where value `p` of channel `c` lies in a row-major NCHW activation, `p` counting
/// the channel's values image by image (`plane` divides by the pixels per image).
#[cube]
fn element(plane: &FastDivmod<usize>, d: &Dims, c: usize, p: usize) -> usize {
    let (n, r) = plane.div_mod(p);
    (n * d.channels + c) * d.plane + r
}

/// Forward: cube `c` computes channel c's mean and biased variance over the batch,
/// writes them (and the mean's offset from the channel's first value), then
/// `y = (x - mean) * gamma / sqrt(variance + epsilon) + beta` (+ residual) (ReLU).
/// Without `has_residual`, `residual` is not read.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_forward_kernel<F: Float>(
    x: &Tensor<F>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    residual: &Tensor<F>,
    y: &mut Tensor<F>,
    mean: &mut Tensor<F>,
    variance: &mut Tensor<F>,
    offset: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    epsilon: f32,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let c = CUBE_POS_X as usize;
    let unit = UNIT_POS_X as usize;
    let count = d.batch * d.plane;
    let first = x[c * d.plane];

    let mut s = F::new(0.0);
    let mut s2 = F::new(0.0);
    let mut p = unit;
    while p < count {
        let v = x[element(&plane, &d, c, p)] - first;
        s += v;
        s2 += v * v;
        p += units;
    }
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s2;
    sum_pairs::<F>(&mut sums, unit, units);

    let total = F::cast_from(count);
    let shift = sums[0] / total;
    let mut var = sums[units] / total - shift * shift;
    if var < F::new(0.0) {
        var = F::new(0.0);
    }
    if unit == 0 {
        mean[c] = first + shift;
        variance[c] = var;
        offset[c] = shift;
    }
    let a = gamma[c] / F::sqrt(var + F::cast_from(epsilon));
    let b = beta[c];
    let mut p = unit;
    while p < count {
        let at = element(&plane, &d, c, p);
        let mut t = (x[at] - first - shift) * a + b;
        if has_residual {
            t += residual[at];
        }
        if relu && t < F::new(0.0) {
            t = F::new(0.0);
        }
        y[at] = t;
        p += units;
    }
}

/// Gathers the backward pass's per-channel inputs into one `[4, channels]` tensor
/// (gamma, beta, offset, variance), so the backward kernel binds 8 storage buffers: a
/// WebGPU device gives a kernel 10 by default, and wgpu takes one of them for itself.
#[cube(launch_unchecked)]
fn bn_pack_kernel<F: Float>(
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    offset: &Tensor<F>,
    variance: &Tensor<F>,
    params: &mut Tensor<F>,
    channels: usize,
    #[define(F)] _dtype: ElemType,
) {
    let c = ABSOLUTE_POS;
    if c < channels {
        params[c] = gamma[c];
        params[channels + c] = beta[c];
        params[2 * channels + c] = offset[c];
        params[3 * channels + c] = variance[c];
    }
}

/// Backward: cube `c` sums channel c's gradient `g` (the output's, where the ReLU
/// passed it) and `g * (x - mean)`, writes gamma's and beta's gradients, then the
/// input's, `a * g + k1 * (x - mean) + k0`, and with `has_residual` the residual's
/// (`g`). The ReLU's mask is recomputed from x (and the residual), as the forward
/// kernel computed it. `params` is `bn_pack_kernel`'s. Without `has_residual`,
/// `residual` and `dr` are not touched.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_backward_kernel<F: Float>(
    x: &Tensor<F>,
    params: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    dx: &mut Tensor<F>,
    dgamma: &mut Tensor<F>,
    dbeta: &mut Tensor<F>,
    dr: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    epsilon: f32,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let c = CUBE_POS_X as usize;
    let unit = UNIT_POS_X as usize;
    let count = d.batch * d.plane;
    let first = x[c * d.plane];
    let shift = params[2 * d.channels + c];
    let root = F::sqrt(params[3 * d.channels + c] + F::cast_from(epsilon));
    // As the forward kernel computes them, so the ReLU's mask is the same.
    let a = params[c] / root;
    let b = params[d.channels + c];

    let mut s = F::new(0.0);
    let mut s_centred = F::new(0.0);
    let mut p = unit;
    while p < count {
        let at = element(&plane, &d, c, p);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        s += g;
        s_centred += g * centred;
        p += units;
    }
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s_centred;
    sum_pairs::<F>(&mut sums, unit, units);

    let total = F::cast_from(count);
    let inv_std = F::new(1.0) / root;
    let g_xhat = sums[units] * inv_std;
    if unit == 0 {
        dgamma[c] = g_xhat;
        dbeta[c] = sums[0];
    }
    // dx = a * (g - mean(g) - xhat * mean(g * xhat)), as a * g + k1 * centred + k0.
    let k1 = F::new(0.0) - a * inv_std * g_xhat / total;
    let k0 = F::new(0.0) - a * sums[0] / total;
    let mut p = unit;
    while p < count {
        let at = element(&plane, &d, c, p);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        dx[at] = a * g + k1 * centred + k0;
        if has_residual {
            dr[at] = g;
        }
        p += units;
    }
}

/// The output gradient `grad` where the ReLU passed it: where its input, `centred * a +
/// b` (+ the residual), was positive; everywhere without a ReLU.
#[cube]
#[allow(clippy::too_many_arguments)]
fn passed<F: Float>(
    grad: F,
    centred: F,
    a: F,
    b: F,
    residual: &Tensor<F>,
    at: usize,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
) -> F {
    let mut g = grad;
    if relu {
        let mut t = centred * a + b;
        if has_residual {
            t += residual[at];
        }
        if t <= F::new(0.0) {
            g = F::new(0.0);
        }
    }
    g
}

/// One cube per channel, `UNITS` units each.
fn launch_shape(x: &CubeTensor) -> (CubeCount, CubeDim) {
    let channels = x.shape()[1] as u32;
    (
        CubeCount::Static(channels, 1, 1),
        CubeDim::new_1d(UNITS as u32),
    )
}

/// The residual, row-major, and whether there is one: without, `x` stands in (a kernel
/// binds a tensor either way, and does not read this one).
fn stand_in(residual: Option<CubeTensor>, x: &CubeTensor) -> (CubeTensor, bool) {
    let present = residual.is_some();
    (contiguous(residual.unwrap_or_else(|| x.clone())), present)
}

fn forward(
    x: CubeTensor,
    gamma: CubeTensor,
    beta: CubeTensor,
    residual: Option<CubeTensor>,
    epsilon: f64,
    relu: bool,
) -> BnOutput<CubeBackend> {
    let [x, gamma, beta] = [x, gamma, beta].map(contiguous);
    let (residual, has_residual) = stand_in(residual, &x);
    let channels = x.shape()[1];
    let y = empty(&x, x.shape());
    let [mean, variance, offset] = [(); 3].map(|_| empty(&x, [channels]));
    let (d, plane) = dims(&x);
    let (cubes, units) = launch_shape(&x);
    // SAFETY: every index the kernel forms is inside its tensor: the activations' are
    // below batch * channels * plane, the per-channel ones below channels (one cube
    // each), all from `x`'s shape, which the other tensors share; all are row-major.
    unsafe {
        bn_forward_kernel::launch_unchecked(
            &x.client,
            cubes,
            units,
            x.clone().into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            residual.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            mean.clone().into_tensor_arg(),
            variance.clone().into_tensor_arg(),
            offset.clone().into_tensor_arg(),
            plane,
            d,
            epsilon as f32,
            relu,
            has_residual,
            UNITS,
            f32_type(),
        )
    };
    BnOutput {
        y,
        mean,
        variance,
        offset,
    }
}

/// The gradients for x, gamma, beta and (when there is one) the residual.
#[allow(clippy::too_many_arguments)]
fn backward(
    x: CubeTensor,
    gamma: CubeTensor,
    beta: CubeTensor,
    residual: Option<CubeTensor>,
    offset: CubeTensor,
    variance: CubeTensor,
    grad: CubeTensor,
    epsilon: f64,
    relu: bool,
) -> (CubeTensor, CubeTensor, CubeTensor, Option<CubeTensor>) {
    let [x, gamma, beta, offset, variance, grad] =
        [x, gamma, beta, offset, variance, grad].map(contiguous);
    let (residual, has_residual) = stand_in(residual, &x);
    let channels = x.shape()[1];
    let dx = empty(&x, x.shape());
    let [dgamma, dbeta] = [(); 2].map(|_| empty(&x, [channels]));
    // Not written without a residual.
    let dr = match has_residual {
        true => empty(&x, x.shape()),
        false => empty(&x, [1]),
    };
    let (d, plane) = dims(&x);
    let (cubes, units) = launch_shape(&x);
    let params = empty(&x, [4 * channels]);
    // SAFETY: the kernel writes `params[k * channels + c]` for k < 4 and c < channels,
    // the units past `channels` writing nothing, and reads the four row-major
    // per-channel tensors at c.
    unsafe {
        bn_pack_kernel::launch_unchecked(
            &x.client,
            CubeCount::Static(channels.div_ceil(UNITS) as u32, 1, 1),
            CubeDim::new_1d(UNITS as u32),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            offset.into_tensor_arg(),
            variance.into_tensor_arg(),
            params.clone().into_tensor_arg(),
            channels,
            f32_type(),
        )
    };
    // SAFETY: as in `forward`; `params` holds 4 * channels values, and `dr` is written
    // only with a residual, and then has x's shape.
    unsafe {
        bn_backward_kernel::launch_unchecked(
            &x.client,
            cubes,
            units,
            x.clone().into_tensor_arg(),
            params.into_tensor_arg(),
            residual.into_tensor_arg(),
            grad.into_tensor_arg(),
            dx.clone().into_tensor_arg(),
            dgamma.clone().into_tensor_arg(),
            dbeta.clone().into_tensor_arg(),
            dr.clone().into_tensor_arg(),
            plane,
            d,
            epsilon as f32,
            relu,
            has_residual,
            UNITS,
            f32_type(),
        )
    };
    (dx, dgamma, dbeta, has_residual.then_some(dr))
}

impl NormOps for CubeBackend {
    fn bn_train(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        epsilon: f64,
        relu: bool,
    ) -> BnOutput<Self> {
        forward(x, gamma, beta, None, epsilon, relu)
    }

    fn bn_add_relu_train(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        residual: CubeTensor,
        epsilon: f64,
    ) -> BnOutput<Self> {
        forward(x, gamma, beta, Some(residual), epsilon, true)
    }

    fn bn_train_grads(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        offset: CubeTensor,
        variance: CubeTensor,
        grad: CubeTensor,
        epsilon: f64,
        relu: bool,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        let (dx, dgamma, dbeta, _) =
            backward(x, gamma, beta, None, offset, variance, grad, epsilon, relu);
        (dx, dgamma, dbeta)
    }

    fn bn_add_relu_train_grads(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        residual: CubeTensor,
        offset: CubeTensor,
        variance: CubeTensor,
        grad: CubeTensor,
        epsilon: f64,
    ) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
        let r = Some(residual);
        let (dx, dgamma, dbeta, dr) =
            backward(x, gamma, beta, r, offset, variance, grad, epsilon, true);
        (
            dx,
            dgamma,
            dbeta,
            dr.expect("a residual's gradient comes with it"),
        )
    }
}
