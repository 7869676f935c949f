//! Batch norm's training kernels on Burn's CubeCL backend (wgpu): one launch forward
//! (and a tiny one after it for the running statistics) and one backward (and a tiny
//! one before it that packs the per-channel inputs), the
//! residual and the ReLU folded in, where Burn's batch norm is a
//! dozen launches each way (reductions over a copy with batch and channel axes swapped,
//! and element-wise kernels around them).
//!
//! Each cube owns a tile of channels: its units split the tile's values, add up each
//! channel's sums, combine them in shared memory, and then, in the same launch, read the
//! channels again to write the output (or the input's gradient). So nothing is written
//! between the two passes, and no second launch waits for the first.
//!
//! The kernels keep the activation's layout, so that no copy is made on either side of
//! them (`gpu::Layout`): an input that is channels-last in memory is read and written
//! as it lies, a tile of neighbouring channels per cube (neighbouring units on
//! neighbouring channels); any other is made row-major NCHW, a tile of one channel
//! (neighbouring units on neighbouring pixels). The other activations (the residual,
//! the output's gradient) are brought into the input's layout, and the outputs are
//! made in it.
//!
//! As on flex, the sums are of `x - first` (`first` the channel's first value, near its
//! mean), so the variance does not cancel away in f32 far from zero; `offset` is the
//! mean's distance from `first`.

use burn::backend::TensorMetadata;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;
use cubecl::std::FastDivmod;

use super::{BnOutput, NormOps};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, Layout};

/// The units of one channel's cube: a power of two (the shared-memory sums halve the
/// count each round), and at most 256, WebGPU's default limit on a workgroup.
const UNITS: usize = 256;

/// The most channels one cube takes in a channels-last activation: 16 neighbouring
/// floats, 64 bytes, are read together.
const MAX_TILE: usize = 16;

/// The fewest cubes a channels-last layer is split into while its tile can shrink: a
/// tile as wide as a narrow layer would leave a GPU's (or lavapipe's threads) idle.
const MIN_CUBES: usize = 8;

/// The activation's sizes and the cube's tile, as launch arguments (one compiled kernel
/// serves every layer of a layout).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Dims {
    batch: usize,
    channels: usize,
    plane: usize,
    /// Channels per cube: a power of two that divides the cube's units.
    tile: usize,
}

/// The channels per cube for `channels` channels in `layout`: one in NCHW, where a
/// channel's values lie together; in channels-last, the widest power of two up to
/// `MAX_TILE` that still gives `MIN_CUBES` cubes.
fn tile(layout: Layout, channels: usize) -> usize {
    let mut tile = match layout {
        Layout::Nchw => 1,
        Layout::ChannelsLast => MAX_TILE,
    };
    while tile > 1 && channels.div_ceil(tile) < MIN_CUBES {
        tile /= 2;
    }
    tile
}

/// The kernels' sizes, the pixels per image and the cubes for `x` in `layout`.
fn dims(layout: Layout, x: &CubeTensor) -> (DimsLaunch, usize, CubeCount) {
    let [batch, channels, h, w] = x.shape().dims();
    let plane = h * w;
    let tile = tile(layout, channels);
    let d = DimsLaunch::new(batch, channels, plane, tile);
    (
        d,
        plane,
        CubeCount::Static(channels.div_ceil(tile) as u32, 1, 1),
    )
}
/// Adds `sums[lc]` and `sums[units + lc]` (each unit's pair at `sums[unit]` and
/// `sums[units + unit]`, `unit = lane * tile + lc`) over the cube's lanes: afterwards
/// `sums[lc]` and `sums[units + lc]` hold channel `lc`'s totals, and every unit may
/// read them. Called by every unit of the cube.
#[cube]
fn sum_pairs<F: Float>(sums: &mut Shared<[F]>, unit: usize, tile: usize, #[comptime] units: usize) {
    sync_cube();
    let mut half = comptime![units / 2].runtime();
    while half >= tile {
        if unit < half {
            sums[unit] = sums[unit] + sums[unit + half];
            sums[units + unit] = sums[units + unit] + sums[units + unit + half];
        }
        sync_cube();
        half /= 2;
    }
}

/// Where value `p` of channel `c` lies, `p` counting the channel's values image by
/// image (`plane` divides by the pixels per image).
#[cube]
fn element(
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    p: usize,
    #[comptime] channels_last: bool,
) -> usize {
    if channels_last {
        p * d.channels + c
    } else {
        let (n, r) = plane.div_mod(p);
        (n * d.channels + c) * d.plane + r
    }
}

/// This unit's channel and lane in its cube's tile, and how many of the channel's
/// values it visits: none past the last channel (such a unit only joins the cube's
/// barriers).
#[cube]
fn place(d: &Dims) -> (usize, usize, usize) {
    let unit = UNIT_POS_X as usize;
    let c = CUBE_POS_X as usize * d.tile + unit % d.tile;
    let lane = unit / d.tile;
    let mut count = d.batch * d.plane;
    if c >= d.channels {
        count = 0;
    }
    (c, lane, count)
}

/// Forward: for each channel c of its tile, a cube computes c's mean and biased
/// variance over the batch, writes them (and the mean's offset from the channel's
/// first value), then `y = (x - mean) * gamma / sqrt(variance + epsilon) + beta`
/// (+ residual) (ReLU). Without `has_residual`, `residual` is not read.
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
    #[comptime] channels_last: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS_X as usize;
    let (c, lane, count) = place(&d);
    let lanes = units / d.tile;
    let mut first = F::new(0.0);
    if count > 0 {
        first = x[element(&plane, &d, c, 0, channels_last)];
    }

    let mut s = F::new(0.0);
    let mut s2 = F::new(0.0);
    let mut p = lane;
    while p < count {
        let v = x[element(&plane, &d, c, p, channels_last)] - first;
        s += v;
        s2 += v * v;
        p += lanes;
    }
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s2;
    sum_pairs::<F>(&mut sums, unit, d.tile, units);
    if count == 0 {
        terminate!();
    }

    let lc = unit % d.tile;
    let total = F::cast_from(count);
    let shift = sums[lc] / total;
    let mut var = sums[units + lc] / total - shift * shift;
    if var < F::new(0.0) {
        var = F::new(0.0);
    }
    if lane == 0 {
        mean[c] = first + shift;
        variance[c] = var;
        offset[c] = shift;
    }
    let a = gamma[c] / F::sqrt(var + F::cast_from(epsilon));
    let b = beta[c];
    let mut p = lane;
    while p < count {
        let at = element(&plane, &d, c, p, channels_last);
        let mut t = (x[at] - first - shift) * a + b;
        if has_residual {
            t += residual[at];
        }
        if relu && t < F::new(0.0) {
            t = F::new(0.0);
        }
        y[at] = t;
        p += lanes;
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

/// The running statistics, `running * (1 - momentum) + batch * momentum`, a unit per
/// channel, the mean's and the variance's in the same launch.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_running_kernel<F: Float>(
    mean: &Tensor<F>,
    variance: &Tensor<F>,
    batch_mean: &Tensor<F>,
    batch_variance: &Tensor<F>,
    new_mean: &mut Tensor<F>,
    new_variance: &mut Tensor<F>,
    channels: usize,
    momentum: f32,
    #[define(F)] _dtype: ElemType,
) {
    let c = ABSOLUTE_POS;
    if c < channels {
        let m = F::cast_from(momentum);
        let kept = F::new(1.0) - m;
        new_mean[c] = mean[c] * kept + batch_mean[c] * m;
        new_variance[c] = variance[c] * kept + batch_variance[c] * m;
    }
}

/// Backward: for each channel c of its tile, a cube sums c's gradient `g` (the
/// output's, where the ReLU passed it) and `g * (x - mean)`, writes gamma's and beta's
/// gradients, then the input's, `a * g + k1 * (x - mean) + k0`, and with
/// `has_residual` the residual's (`g`). The ReLU's mask is recomputed from x (and the
/// residual), as the forward kernel computed it. `params` is `bn_pack_kernel`'s.
/// Without `has_residual`, `residual` and `dr` are not touched.
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
    #[comptime] channels_last: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS_X as usize;
    let (c, lane, count) = place(&d);
    let lanes = units / d.tile;
    // Read only for a channel that exists (units past the last join the barrier).
    let mut first = F::new(0.0);
    let mut shift = F::new(0.0);
    let mut root = F::new(1.0);
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if count > 0 {
        first = x[element(&plane, &d, c, 0, channels_last)];
        shift = params[2 * d.channels + c];
        root = F::sqrt(params[3 * d.channels + c] + F::cast_from(epsilon));
        // As the forward kernel computes them, so the ReLU's mask is the same.
        a = params[c] / root;
        b = params[d.channels + c];
    }

    let mut s = F::new(0.0);
    let mut s_centred = F::new(0.0);
    let mut p = lane;
    while p < count {
        let at = element(&plane, &d, c, p, channels_last);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        s += g;
        s_centred += g * centred;
        p += lanes;
    }
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s_centred;
    sum_pairs::<F>(&mut sums, unit, d.tile, units);
    if count == 0 {
        terminate!();
    }

    let lc = unit % d.tile;
    let total = F::cast_from(count);
    let inv_std = F::new(1.0) / root;
    let g_xhat = sums[units + lc] * inv_std;
    if lane == 0 {
        dgamma[c] = g_xhat;
        dbeta[c] = sums[lc];
    }
    // dx = a * (g - mean(g) - xhat * mean(g * xhat)), as a * g + k1 * centred + k0.
    let k1 = F::new(0.0) - a * inv_std * g_xhat / total;
    let k0 = F::new(0.0) - a * sums[lc] / total;
    let mut p = lane;
    while p < count {
        let at = element(&plane, &d, c, p, channels_last);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        dx[at] = a * g + k1 * centred + k0;
        if has_residual {
            dr[at] = g;
        }
        p += lanes;
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

/// The residual in `layout`, and whether there is one: without, `x` stands in (a
/// kernel binds a tensor either way, and does not read this one).
fn stand_in(residual: Option<CubeTensor>, x: &CubeTensor, layout: Layout) -> (CubeTensor, bool) {
    match residual {
        Some(r) => (layout.arrange(r), true),
        None => (x.clone(), false),
    }
}

fn forward(
    x: CubeTensor,
    gamma: CubeTensor,
    beta: CubeTensor,
    residual: Option<CubeTensor>,
    epsilon: f64,
    relu: bool,
) -> BnOutput<CubeBackend> {
    let (x, layout) = Layout::arranged(x);
    let [gamma, beta] = [gamma, beta].map(contiguous);
    let (residual, has_residual) = stand_in(residual, &x, layout);
    let channels = x.shape()[1];
    let y = layout.empty(&x);
    let [mean, variance, offset] = [(); 3].map(|_| empty(&x, [channels]));
    let (d, plane, cubes) = dims(layout, &x);
    // SAFETY: every index the kernel forms is inside its tensor: the activations' are
    // below batch * channels * plane, in the layout all of them share (`arrange`,
    // `empty`), the per-channel ones below channels (the units of a tile past the last
    // channel read and write nothing), all from `x`'s shape.
    unsafe {
        bn_forward_kernel::launch_unchecked(
            &x.client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
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
            layout.channels_last(),
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
    let (x, layout) = Layout::arranged(x);
    let grad = layout.arrange(grad);
    let [gamma, beta, offset, variance] = [gamma, beta, offset, variance].map(contiguous);
    let (residual, has_residual) = stand_in(residual, &x, layout);
    let channels = x.shape()[1];
    let dx = layout.empty(&x);
    let [dgamma, dbeta] = [(); 2].map(|_| empty(&x, [channels]));
    // Not written without a residual.
    let dr = match has_residual {
        true => layout.empty(&x),
        false => empty(&x, [1]),
    };
    let (d, plane, cubes) = dims(layout, &x);
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
    // only with a residual, and then has x's shape and layout.
    unsafe {
        bn_backward_kernel::launch_unchecked(
            &x.client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
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
            layout.channels_last(),
            UNITS,
            f32_type(),
        )
    };
    (dx, dgamma, dbeta, has_residual.then_some(dr))
}

impl NormOps for CubeBackend {
    fn bn_running(
        mean: CubeTensor,
        variance: CubeTensor,
        batch_mean: CubeTensor,
        batch_variance: CubeTensor,
        momentum: f64,
    ) -> (CubeTensor, CubeTensor) {
        let [mean, variance, batch_mean, batch_variance] =
            [mean, variance, batch_mean, batch_variance].map(contiguous);
        let channels = mean.shape()[0];
        let [new_mean, new_variance] = [(); 2].map(|_| empty(&mean, [channels]));
        // SAFETY: the six tensors are row-major `[channels]`, and units past the last
        // channel touch nothing.
        unsafe {
            bn_running_kernel::launch_unchecked(
                &new_mean.client,
                CubeCount::Static(channels.div_ceil(UNITS) as u32, 1, 1),
                CubeDim::new_1d(UNITS as u32),
                mean.into_tensor_arg(),
                variance.into_tensor_arg(),
                batch_mean.into_tensor_arg(),
                batch_variance.into_tensor_arg(),
                new_mean.clone().into_tensor_arg(),
                new_variance.clone().into_tensor_arg(),
                channels,
                momentum as f32,
                f32_type(),
            )
        };
        (new_mean, new_variance)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiles: as wide as gives 8 cubes, 16 at most, one in NCHW.
    #[test]
    fn tiles_leave_enough_cubes() {
        let tiles = [400, 128, 100, 30, 15, 4].map(|c| tile(Layout::ChannelsLast, c));
        assert_eq!(tiles, [16, 16, 8, 4, 2, 1]);
        assert_eq!(tile(Layout::Nchw, 400), 1);
    }
}
