//! Batch norm's training kernels on Burn's CubeCL backend (wgpu): one launch forward
//! (and a tiny one after it for the running statistics) and one backward (and a tiny
//! one before it that packs the per-channel inputs), three each way for a large layer
//! (below), the residual and the ReLU folded in, where Burn's batch norm is a dozen
//! launches each way (reductions over a copy with batch and channel axes swapped, and
//! element-wise kernels around them).
//!
//! Each cube owns a tile of channels: its units split the tile's values, add up each
//! channel's sums, combine them in shared memory, and then, in the same launch, read the
//! channels again to write the output (or the input's gradient). So nothing is written
//! between the two passes, and no second launch waits for the first.
//!
//! A layer with few channels over a large batch would run on few cubes that way, too
//! few for a GPU's hundred compute units, so a tile with more than `VALUES_PER_CUBE`
//! values is split over several cubes, each taking a share of its values (`splits`).
//! Then the cubes cannot see each other's sums, and each pass takes three launches: the
//! shares' partial sums, a unit per channel adding them up, and the output (or the
//! gradient) written share by share.
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
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, Layout, MAX_CUBES};

/// The units of one channel's cube: a power of two (the shared-memory sums halve the
/// count each round), and at most 256, WebGPU's default limit on a workgroup.
const UNITS: usize = 256;

/// The most channels one cube takes in a channels-last activation: 16 neighbouring
/// floats, 64 bytes, are read together.
const MAX_TILE: usize = 16;

/// The fewest cubes a channels-last layer is split into while its tile can shrink: a
/// tile as wide as a narrow layer would leave a GPU's (or lavapipe's threads) idle.
const MIN_CUBES: usize = 8;

/// The most values of its tile one cube takes (32 per unit) before the tile's values are
/// split over several cubes: a layer of few channels over a large batch would otherwise
/// run on a few cubes, which a GPU with a hundred compute units cannot fill. A split
/// layer costs two more launches each way (`forward`, `backward`).
const VALUES_PER_CUBE: usize = 8_192;

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

/// How many cubes share each tile's values, for `values` values per channel in tiles
/// of `tile` channels: enough that none takes more than `VALUES_PER_CUBE`.
fn splits(values: usize, tile: usize) -> usize {
    (values * tile)
        .div_ceil(VALUES_PER_CUBE)
        .clamp(1, MAX_CUBES)
}

/// The kernels' sizes, the pixels per image, the number of splits and the cubes for `x`
/// in `layout` (a row of tiles per split).
fn dims(layout: Layout, x: &CubeTensor) -> (DimsLaunch, usize, usize, CubeCount) {
    let [batch, channels, h, w] = x.shape().dims();
    let plane = h * w;
    let tile = tile(layout, channels);
    let splits = splits(batch * plane, tile);
    let d = DimsLaunch::new(batch, channels, plane, tile);
    let cubes = CubeCount::Static(channels.div_ceil(tile) as u32, splits as u32, 1);
    (d, plane, splits, cubes)
}

/// The values `start..end` of each of its channels that this cube takes when they are
/// split over `splits` cubes (the split is `CUBE_POS_Y`); empty for a split past the
/// last value.
// CubeCL translates the division, not `div_ceil`.
#[allow(clippy::manual_div_ceil)]
#[cube]
fn share(count: usize, splits: usize) -> (usize, usize) {
    let len = (count + splits - 1) / splits;
    let start = CUBE_POS_Y as usize * len;
    let mut end = start + len;
    if end > count {
        end = count;
    }
    (start, end)
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

/// The sums of `x - first` and of its square over channel `c`'s values `from, from +
/// step, ..` below `to`: one unit's share of a cube's pass.
#[cube]
#[allow(clippy::too_many_arguments)]
fn shifted_sums<F: Float>(
    x: &Tensor<F>,
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    first: F,
    from: usize,
    to: usize,
    step: usize,
    #[comptime] channels_last: bool,
) -> (F, F) {
    let mut s = F::new(0.0);
    let mut s2 = F::new(0.0);
    let mut p = from;
    while p < to {
        let v = x[element(plane, d, c, p, channels_last)] - first;
        s += v;
        s2 += v * v;
        p += step;
    }
    (s, s2)
}

/// Writes `y = (x - first - shift) * a + b` (+ residual) (ReLU) over channel `c`'s
/// values `from, from + step, ..` below `to`; `coefs` is `(first, shift, a, b)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn normalise<F: Float>(
    x: &Tensor<F>,
    residual: &Tensor<F>,
    y: &mut Tensor<F>,
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    coefs: (F, F, F, F),
    from: usize,
    to: usize,
    step: usize,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] channels_last: bool,
) {
    let (first, shift, a, b) = coefs;
    let mut p = from;
    while p < to {
        let at = element(plane, d, c, p, channels_last);
        let mut t = (x[at] - first - shift) * a + b;
        if has_residual {
            t += residual[at];
        }
        if relu && t < F::new(0.0) {
            t = F::new(0.0);
        }
        y[at] = t;
        p += step;
    }
}

/// The sums of the passed gradient `g` and of `g * (x - first - shift)` over channel
/// `c`'s values `from, from + step, ..` below `to`; `coefs` is `(first, shift, a, b)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn grad_sums<F: Float>(
    x: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    coefs: (F, F, F, F),
    from: usize,
    to: usize,
    step: usize,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] channels_last: bool,
) -> (F, F) {
    let (first, shift, a, b) = coefs;
    let mut s = F::new(0.0);
    let mut s_centred = F::new(0.0);
    let mut p = from;
    while p < to {
        let at = element(plane, d, c, p, channels_last);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        s += g;
        s_centred += g * centred;
        p += step;
    }
    (s, s_centred)
}

/// Writes the input's gradient `a * g + k1 * centred + k0` (and with `has_residual` the
/// residual's, `g`) over channel `c`'s values `from, from + step, ..` below `to`;
/// `coefs` is `(first, shift, a, b)` and `ks` is `(k1, k0)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn write_grads<F: Float>(
    x: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    dx: &mut Tensor<F>,
    dr: &mut Tensor<F>,
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    coefs: (F, F, F, F),
    ks: (F, F),
    from: usize,
    to: usize,
    step: usize,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] channels_last: bool,
) {
    let (first, shift, a, b) = coefs;
    let (k1, k0) = ks;
    let mut p = from;
    while p < to {
        let at = element(plane, d, c, p, channels_last);
        let centred = x[at] - first - shift;
        let g = passed::<F>(dy[at], centred, a, b, residual, at, relu, has_residual);
        dx[at] = a * g + k1 * centred + k0;
        if has_residual {
            dr[at] = g;
        }
        p += step;
    }
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

    let (s, s2) = shifted_sums(x, &plane, &d, c, first, lane, count, lanes, channels_last);
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
    let coefs = (first, shift, a, b);
    normalise(
        x,
        residual,
        y,
        &plane,
        &d,
        c,
        coefs,
        lane,
        count,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
}

/// Gathers the backward pass's per-channel inputs into one `[4, channels]` tensor
/// (gamma, beta, offset, variance), so the backward kernel binds 8 tensors, 9 storage
/// buffers with CubeCL's own: within the adapter's limit, which cubecl-wgpu asks for
/// (10 on SwiftShader), but above WebGPU's default of 8, as is the forward kernel
/// (issue 16).
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
    let (first, shift, root, a, b) =
        channel_params(x, params, &plane, &d, c, count, epsilon, channels_last);

    let coefs = (first, shift, a, b);
    let (s, s_centred) = grad_sums(
        x,
        residual,
        dy,
        &plane,
        &d,
        c,
        coefs,
        lane,
        count,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
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
    let coefs = (first, shift, a, b);
    let ks = (k1, k0);
    write_grads(
        x,
        residual,
        dy,
        dx,
        dr,
        &plane,
        &d,
        c,
        coefs,
        ks,
        lane,
        count,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
}

/// Channel `c`'s first value, the mean's offset from it, `sqrt(variance + epsilon)`,
/// and the forward pass's scale `a` and shift `b`, from `bn_pack_kernel`'s `params`;
/// read only for a channel that exists (`count > 0`: the units past the last join the
/// barriers, and get harmless values).
#[cube]
#[allow(clippy::too_many_arguments)]
fn channel_params<F: Float>(
    x: &Tensor<F>,
    params: &Tensor<F>,
    plane: &FastDivmod<usize>,
    d: &Dims,
    c: usize,
    count: usize,
    epsilon: f32,
    #[comptime] channels_last: bool,
) -> (F, F, F, F, F) {
    let mut first = F::new(0.0);
    let mut shift = F::new(0.0);
    let mut root = F::new(1.0);
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if count > 0 {
        first = x[element(plane, d, c, 0, channels_last)];
        shift = params[2 * d.channels + c];
        root = F::sqrt(params[3 * d.channels + c] + F::cast_from(epsilon));
        // As the forward kernels compute them, so the ReLU's mask is the same.
        a = params[c] / root;
        b = params[d.channels + c];
    }
    (first, shift, root, a, b)
}

/// The forward pass of a split layer, first launch: each cube sums `x - first` and its
/// square over its share of each channel of its tile, into `partial[(split * channels
/// + c) * 2 ..]`; the first split also stores each channel's first value at
/// `partial[2 * splits * channels + c]`.
#[cube(launch_unchecked)]
fn bn_sums_kernel<F: Float>(
    x: &Tensor<F>,
    partial: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    splits: usize,
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
    let (start, end) = share(count, splits);
    let (s, s2) = shifted_sums(
        x,
        &plane,
        &d,
        c,
        first,
        start + lane,
        end,
        lanes,
        channels_last,
    );
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s2;
    sum_pairs::<F>(&mut sums, unit, d.tile, units);
    if count == 0 {
        terminate!();
    }
    let lc = unit % d.tile;
    let split = CUBE_POS_Y as usize;
    if lane == 0 {
        let at = (split * d.channels + c) * 2;
        partial[at] = sums[lc];
        partial[at + 1] = sums[units + lc];
        if split == 0 {
            partial[2 * splits * d.channels + c] = first;
        }
    }
}

/// Channel `c`'s two sums, added up over the `splits` shares' partial sums at
/// `partial[(split * channels + c) * 2 ..]`.
#[cube]
fn add_shares<F: Float>(partial: &Tensor<F>, channels: usize, c: usize, splits: usize) -> (F, F) {
    let mut s = F::new(0.0);
    let mut t = F::new(0.0);
    for split in 0..splits {
        let at = (split * channels + c) * 2;
        s += partial[at];
        t += partial[at + 1];
    }
    (s, t)
}

/// The forward pass of a split layer, second launch, a unit per channel: adds up the
/// splits' sums, writes the batch's mean, variance and offset as `bn_forward_kernel`
/// does, and `coef[k * channels + c]` for the third: the offset, the scale `a` and the
/// shift `b`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_stats_kernel<F: Float>(
    partial: &Tensor<F>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    mean: &mut Tensor<F>,
    variance: &mut Tensor<F>,
    offset: &mut Tensor<F>,
    coef: &mut Tensor<F>,
    channels: usize,
    count: usize,
    splits: usize,
    epsilon: f32,
    #[define(F)] _dtype: ElemType,
) {
    let c = ABSOLUTE_POS;
    if c < channels {
        let (s, s2) = add_shares(partial, channels, c, splits);
        let total = F::cast_from(count);
        let shift = s / total;
        let mut var = s2 / total - shift * shift;
        if var < F::new(0.0) {
            var = F::new(0.0);
        }
        mean[c] = partial[2 * splits * channels + c] + shift;
        variance[c] = var;
        offset[c] = shift;
        coef[c] = shift;
        coef[channels + c] = gamma[c] / F::sqrt(var + F::cast_from(epsilon));
        coef[2 * channels + c] = beta[c];
    }
}

/// The forward pass of a split layer, third launch: each cube writes `y` over its share
/// of its tile's channels, from `bn_stats_kernel`'s `coef`, as `bn_forward_kernel` does.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_apply_kernel<F: Float>(
    x: &Tensor<F>,
    coef: &Tensor<F>,
    residual: &Tensor<F>,
    y: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    splits: usize,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] channels_last: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let (c, lane, count) = place(&d);
    if count == 0 {
        terminate!();
    }
    let lanes = units / d.tile;
    let first = x[element(&plane, &d, c, 0, channels_last)];
    let shift = coef[c];
    let a = coef[d.channels + c];
    let b = coef[2 * d.channels + c];
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    normalise(
        x,
        residual,
        y,
        &plane,
        &d,
        c,
        coefs,
        start + lane,
        end,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
}

/// The backward pass of a split layer, first launch: each cube sums the passed gradient
/// `g` and `g * (x - mean)` over its share of each channel of its tile, as
/// `bn_backward_kernel` does, into `partial[(split * channels + c) * 2 ..]`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_grad_sums_kernel<F: Float>(
    x: &Tensor<F>,
    params: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    partial: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    splits: usize,
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
    let (first, shift, _root, a, b) =
        channel_params(x, params, &plane, &d, c, count, epsilon, channels_last);
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    let (s, s_centred) = grad_sums(
        x,
        residual,
        dy,
        &plane,
        &d,
        c,
        coefs,
        start + lane,
        end,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s_centred;
    sum_pairs::<F>(&mut sums, unit, d.tile, units);
    if count == 0 {
        terminate!();
    }
    let lc = unit % d.tile;
    if lane == 0 {
        let at = (CUBE_POS_Y as usize * d.channels + c) * 2;
        partial[at] = sums[lc];
        partial[at + 1] = sums[units + lc];
    }
}

/// The backward pass of a split layer, second launch, a unit per channel: adds up the
/// splits' sums, writes gamma's and beta's gradients, and `coef[c]`, `coef[channels +
/// c]`: the input gradient's `k1` and `k0`, as `bn_backward_kernel` computes them.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_grad_stats_kernel<F: Float>(
    partial: &Tensor<F>,
    params: &Tensor<F>,
    dgamma: &mut Tensor<F>,
    dbeta: &mut Tensor<F>,
    coef: &mut Tensor<F>,
    channels: usize,
    count: usize,
    splits: usize,
    epsilon: f32,
    #[define(F)] _dtype: ElemType,
) {
    let c = ABSOLUTE_POS;
    if c < channels {
        let (s, s_centred) = add_shares(partial, channels, c, splits);
        let root = F::sqrt(params[3 * channels + c] + F::cast_from(epsilon));
        let a = params[c] / root;
        let total = F::cast_from(count);
        let inv_std = F::new(1.0) / root;
        let g_xhat = s_centred * inv_std;
        dgamma[c] = g_xhat;
        dbeta[c] = s;
        coef[c] = F::new(0.0) - a * inv_std * g_xhat / total;
        coef[channels + c] = F::new(0.0) - a * s / total;
    }
}

/// The backward pass of a split layer, third launch: each cube writes the input's
/// gradient (and the residual's) over its share of its tile's channels, as
/// `bn_backward_kernel` does, with `bn_grad_stats_kernel`'s `k1` and `k0`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_grad_apply_kernel<F: Float>(
    x: &Tensor<F>,
    params: &Tensor<F>,
    coef: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    dx: &mut Tensor<F>,
    dr: &mut Tensor<F>,
    plane: FastDivmod<usize>,
    d: Dims,
    splits: usize,
    epsilon: f32,
    #[comptime] relu: bool,
    #[comptime] has_residual: bool,
    #[comptime] channels_last: bool,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let (c, lane, count) = place(&d);
    if count == 0 {
        terminate!();
    }
    let lanes = units / d.tile;
    let (first, shift, _root, a, b) =
        channel_params(x, params, &plane, &d, c, count, epsilon, channels_last);
    let k1 = coef[c];
    let k0 = coef[d.channels + c];
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    let ks = (k1, k0);
    write_grads(
        x,
        residual,
        dy,
        dx,
        dr,
        &plane,
        &d,
        c,
        coefs,
        ks,
        start + lane,
        end,
        lanes,
        relu,
        has_residual,
        channels_last,
    );
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
    let (d, plane, splits, cubes) = dims(layout, &x);
    if splits > 1 {
        forward_split(
            [&x, &gamma, &beta, &residual, &y, &mean, &variance, &offset],
            epsilon,
            relu,
            has_residual,
            layout,
        );
        return BnOutput {
            y,
            mean,
            variance,
            offset,
        };
    }
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
    let (d, plane, splits, cubes) = dims(layout, &x);
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
    if splits > 1 {
        backward_split(
            [&x, &params, &residual, &grad, &dx, &dgamma, &dbeta, &dr],
            epsilon,
            relu,
            has_residual,
            layout,
        );
        return (dx, dgamma, dbeta, has_residual.then_some(dr));
    }
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

/// `forward` for a layer whose tiles are split over several cubes (`splits`): partial
/// sums, then the statistics, then the output. `t` is x, gamma, beta, the residual
/// (or its stand-in), and the outputs y, mean, variance, offset.
fn forward_split(
    t: [&CubeTensor; 8],
    epsilon: f64,
    relu: bool,
    has_residual: bool,
    layout: Layout,
) {
    let [x, gamma, beta, residual, y, mean, variance, offset] = t.map(|t| t.clone());
    let channels = mean.shape()[0];
    let count = x.shape().num_elements() / channels;
    let (d, plane, splits, cubes) = dims(layout, &x);
    let partial = empty(&x, [(2 * splits + 1) * channels]);
    let coef = empty(&x, [3 * channels]);
    let client = x.client.clone();
    let per_channel = CubeCount::Static(channels.div_ceil(UNITS) as u32, 1, 1);
    // SAFETY: as in `forward`; a cube's share of a channel is below `count`, `partial`
    // holds `(2 * splits + 1) * channels` values and `coef` `3 * channels`, and units
    // past the last channel touch nothing.
    unsafe {
        bn_sums_kernel::launch_unchecked(
            &client,
            cubes.clone(),
            CubeDim::new_1d(UNITS as u32),
            x.clone().into_tensor_arg(),
            partial.clone().into_tensor_arg(),
            plane,
            d,
            splits,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
        bn_stats_kernel::launch_unchecked(
            &client,
            per_channel,
            CubeDim::new_1d(UNITS as u32),
            partial.into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            mean.into_tensor_arg(),
            variance.into_tensor_arg(),
            offset.into_tensor_arg(),
            coef.clone().into_tensor_arg(),
            channels,
            count,
            splits,
            epsilon as f32,
            f32_type(),
        );
        // Launch arguments are consumed: the same sizes again.
        let (d, ..) = dims(layout, &x);
        bn_apply_kernel::launch_unchecked(
            &client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
            x.into_tensor_arg(),
            coef.into_tensor_arg(),
            residual.into_tensor_arg(),
            y.into_tensor_arg(),
            plane,
            d,
            splits,
            relu,
            has_residual,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
    }
}

/// `backward` for a layer whose tiles are split over several cubes: partial sums, then
/// the per-channel gradients, then the input's (and the residual's). `t` is x, the
/// packed params, the residual (or its stand-in), the output's gradient, and the
/// outputs dx, dgamma, dbeta, dr.
fn backward_split(
    t: [&CubeTensor; 8],
    epsilon: f64,
    relu: bool,
    has_residual: bool,
    layout: Layout,
) {
    let [x, params, residual, grad, dx, dgamma, dbeta, dr] = t.map(|t| t.clone());
    let channels = dgamma.shape()[0];
    let count = x.shape().num_elements() / channels;
    let (d, plane, splits, cubes) = dims(layout, &x);
    let partial = empty(&x, [2 * splits * channels]);
    let coef = empty(&x, [2 * channels]);
    let client = x.client.clone();
    let per_channel = CubeCount::Static(channels.div_ceil(UNITS) as u32, 1, 1);
    // SAFETY: as in `backward`; a cube's share of a channel is below `count`, `partial`
    // holds `2 * splits * channels` values and `coef` `2 * channels`, and units past
    // the last channel touch nothing.
    unsafe {
        bn_grad_sums_kernel::launch_unchecked(
            &client,
            cubes.clone(),
            CubeDim::new_1d(UNITS as u32),
            x.clone().into_tensor_arg(),
            params.clone().into_tensor_arg(),
            residual.clone().into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            partial.clone().into_tensor_arg(),
            plane,
            d,
            splits,
            epsilon as f32,
            relu,
            has_residual,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
        bn_grad_stats_kernel::launch_unchecked(
            &client,
            per_channel,
            CubeDim::new_1d(UNITS as u32),
            partial.into_tensor_arg(),
            params.clone().into_tensor_arg(),
            dgamma.into_tensor_arg(),
            dbeta.into_tensor_arg(),
            coef.clone().into_tensor_arg(),
            channels,
            count,
            splits,
            epsilon as f32,
            f32_type(),
        );
        let (d, ..) = dims(layout, &x);
        bn_grad_apply_kernel::launch_unchecked(
            &client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
            x.into_tensor_arg(),
            params.into_tensor_arg(),
            coef.into_tensor_arg(),
            residual.into_tensor_arg(),
            grad.into_tensor_arg(),
            dx.into_tensor_arg(),
            dr.into_tensor_arg(),
            plane,
            d,
            splits,
            epsilon as f32,
            relu,
            has_residual,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
    }
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

    /// The test's split layers (`batch_norm_on_the_gpu_matches_burn`) are split as it
    /// says, and a tile of `VALUES_PER_CUBE` values is not.
    #[test]
    fn large_tiles_are_split_over_cubes() {
        assert_eq!(splits(40 * 20 * 20, 1), 2);
        assert_eq!(splits(64 * 24 * 24, 1), 5);
        assert_eq!(splits(32 * 8 * 8, 8), 2);
        assert_eq!(splits(33 * 16 * 16, 1), 2);
        assert_eq!(splits(VALUES_PER_CUBE, 1), 1);
        assert_eq!(splits(1, 16), 1);
    }
}
