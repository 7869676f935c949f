//! Batch norm's training kernels on Burn's CubeCL backend (wgpu): one launch forward
//! (and a tiny one after it for the running statistics) and one backward (and a tiny
//! one before it that packs the per-channel inputs), two each way for a large layer
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
//! Then the cubes cannot see each other's sums, and each pass takes two launches: the
//! shares' partial sums, then the output (or the gradient) written share by share, each
//! cube first adding up its channels' partial sums itself (`add_shares`: a few hundred
//! values, where a launch between would cost more on a GPU, whose steps at small sizes
//! are bound by launches; BENCHMARKS.md).
//!
//! A kernel binds at most 7 tensors, CubeCL's own storage buffer making 8, WebGPU's
//! default limit: the per-channel outputs of a pass (the statistics, or gamma's and
//! beta's gradients) are rows of one buffer (`gpu::Packed`), the split layers' partial
//! sums in its head.
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

use super::{BnOutput, NormOps};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, Layout, Packed, MAX_CUBES};

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
/// layer costs one more launch each way (`forward`, `backward`).
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

/// Where a kernel writes its per-channel outputs in their `Packed` buffer: row `k` at
/// `start + k * stride`.
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Rows {
    start: usize,
    stride: usize,
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

/// The kernels' sizes, the number of splits and the cubes for `x` in `layout` (a row of
/// tiles per split).
fn dims(layout: Layout, x: &CubeTensor) -> (DimsLaunch, usize, CubeCount) {
    let [batch, channels, h, w] = x.shape().dims();
    let plane = h * w;
    let tile = tile(layout, channels);
    let splits = splits(batch * plane, tile);
    let d = DimsLaunch::new(batch, channels, plane, tile);
    let cubes = CubeCount::Static(channels.div_ceil(tile) as u32, splits as u32, 1);
    (d, splits, cubes)
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

/// A channel's mean's offset from its first value and its biased variance, from its
/// sums of `x - first` and of the square over `count` values (the variance clamped at
/// zero, which rounding can cross).
#[cube]
fn moments<F: Float>(s: F, s2: F, count: usize) -> (F, F) {
    let total = F::cast_from(count);
    let shift = s / total;
    let mut var = s2 / total - shift * shift;
    if var < F::new(0.0) {
        var = F::new(0.0);
    }
    (shift, var)
}

/// Writes channel `c`'s batch mean, variance and the mean's offset into `stats`' three
/// rows (`Rows`).
#[cube]
fn write_stats<F: Float>(stats: &mut Tensor<F>, rows: &Rows, c: usize, mean: F, var: F, shift: F) {
    stats[rows.start + c] = mean;
    stats[rows.start + rows.stride + c] = var;
    stats[rows.start + 2 * rows.stride + c] = shift;
}

/// Writes channel `c`'s gradients of gamma and beta into `grads`' two rows (`Rows`).
#[cube]
fn write_param_grads<F: Float>(grads: &mut Tensor<F>, rows: &Rows, c: usize, dgamma: F, dbeta: F) {
    grads[rows.start + c] = dgamma;
    grads[rows.start + rows.stride + c] = dbeta;
}

/// The backward pass's per-channel results, from the channel's sums of the passed
/// gradient `g` (`s`) and of `g * (x - mean)` (`s_centred`) over `count` values, the
/// forward pass's scale `a` and `root = sqrt(variance + epsilon)`: gamma's gradient
/// and the input gradient's `k1` and `k0`, for `dx = a * (g - mean(g) - xhat *
/// mean(g * xhat))` written as `a * g + k1 * centred + k0`.
#[cube]
fn grad_coefs<F: Float>(s: F, s_centred: F, a: F, root: F, count: usize) -> (F, F, F) {
    let total = F::cast_from(count);
    let inv_std = F::new(1.0) / root;
    let g_xhat = s_centred * inv_std;
    let k1 = F::new(0.0) - a * inv_std * g_xhat / total;
    let k0 = F::new(0.0) - a * s / total;
    (g_xhat, k1, k0)
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
/// image. Plain integer division: CubeCL's `FastDivmod` compiles to 64-bit integers
/// where the native adapter has them, which no browser's WGSL has, so the WGSL checked
/// natively (tests/webgpu_kernels.mjs) would not be the browser's.
#[cube]
fn element(d: &Dims, c: usize, p: usize, #[comptime] channels_last: bool) -> usize {
    if channels_last {
        p * d.channels + c
    } else {
        let (n, r) = (p / d.plane, p % d.plane);
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
        let v = x[element(d, c, p, channels_last)] - first;
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
        let at = element(d, c, p, channels_last);
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
        let at = element(d, c, p, channels_last);
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
        let at = element(d, c, p, channels_last);
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
/// first value) into `stats`' rows (`write_stats`), then `y = (x - mean) * gamma /
/// sqrt(variance + epsilon) + beta` (+ residual) (ReLU). Without `has_residual`, `residual` is not read.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_forward_kernel<F: Float>(
    x: &Tensor<F>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    residual: &Tensor<F>,
    y: &mut Tensor<F>,
    stats: &mut Tensor<F>,
    d: Dims,
    rows: Rows,
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
        first = x[element(&d, c, 0, channels_last)];
    }

    let (s, s2) = shifted_sums(x, &d, c, first, lane, count, lanes, channels_last);
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    sums[unit] = s;
    sums[units + unit] = s2;
    sum_pairs::<F>(&mut sums, unit, d.tile, units);
    if count == 0 {
        terminate!();
    }

    let lc = unit % d.tile;
    let (shift, var) = moments::<F>(sums[lc], sums[units + lc], count);
    if lane == 0 {
        write_stats(stats, &rows, c, first + shift, var, shift);
    }
    let a = gamma[c] / F::sqrt(var + F::cast_from(epsilon));
    let b = beta[c];
    let coefs = (first, shift, a, b);
    normalise(
        x,
        residual,
        y,
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
/// (gamma, beta, offset, variance), so that the backward kernels bind few storage
/// buffers (`Packed` says why).
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
/// gradients into `grads`' two rows (`write_param_grads`), then the input's, `a * g +
/// k1 * (x - mean) + k0`, and with `has_residual` the residual's (`g`). The ReLU's mask is recomputed from x (and the
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
    grads: &mut Tensor<F>,
    dr: &mut Tensor<F>,
    d: Dims,
    rows: Rows,
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
        channel_params(x, params, &d, c, count, epsilon, channels_last);

    let coefs = (first, shift, a, b);
    let (s, s_centred) = grad_sums(
        x,
        residual,
        dy,
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
    let (g_xhat, k1, k0) = grad_coefs::<F>(sums[lc], sums[units + lc], a, root, count);
    if lane == 0 {
        write_param_grads(grads, &rows, c, g_xhat, sums[lc]);
    }
    let coefs = (first, shift, a, b);
    let ks = (k1, k0);
    write_grads(
        x,
        residual,
        dy,
        dx,
        dr,
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
        first = x[element(d, c, 0, channels_last)];
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
        first = x[element(&d, c, 0, channels_last)];
    }
    let (start, end) = share(count, splits);
    let (s, s2) = shifted_sums(x, &d, c, first, start + lane, end, lanes, channels_last);
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

/// This unit's part of channel `c`'s two totals over the `splits` shares' partial sums
/// at `partial[(split * channels + c) * 2 ..]`: the shares `lane, lane + lanes, ..`,
/// put in `sums` and added up over the cube's lanes (`sum_pairs`), so the totals are
/// at `sums[lc]` and `sums[units + lc]` afterwards. Called by every unit of the cube.
/// `partial` is only read here; it is `mut` because the kernels that call this write
/// their results into the same buffer, after the sums.
#[cube]
#[allow(clippy::too_many_arguments)]
fn add_shares<F: Float>(
    partial: &mut Tensor<F>,
    sums: &mut Shared<[F]>,
    d: &Dims,
    c: usize,
    lane: usize,
    count: usize,
    splits: usize,
    #[comptime] units: usize,
) {
    let unit = UNIT_POS_X as usize;
    let lanes = units / d.tile;
    let mut s = F::new(0.0);
    let mut t = F::new(0.0);
    if count > 0 {
        let mut split = lane;
        while split < splits {
            let at = (split * d.channels + c) * 2;
            s += partial[at];
            t += partial[at + 1];
            split += lanes;
        }
    }
    sums[unit] = s;
    sums[units + unit] = t;
    sum_pairs::<F>(sums, unit, d.tile, units);
}

/// The forward pass of a split layer, second launch: each cube adds up its channels'
/// partial sums (`add_shares`), the first split writes the statistics as
/// `bn_forward_kernel` does, into the rows of `partial`'s buffer after the sums, and
/// every cube writes `y` over its share of its tile's channels.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_apply_kernel<F: Float>(
    x: &Tensor<F>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    residual: &Tensor<F>,
    partial: &mut Tensor<F>,
    y: &mut Tensor<F>,
    d: Dims,
    rows: Rows,
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
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    add_shares(partial, &mut sums, &d, c, lane, count, splits, units);
    if count == 0 {
        terminate!();
    }
    let lanes = units / d.tile;
    let lc = unit % d.tile;
    let first = partial[2 * splits * d.channels + c];
    let (shift, var) = moments::<F>(sums[lc], sums[units + lc], count);
    if CUBE_POS_Y == 0 && lane == 0 {
        write_stats(partial, &rows, c, first + shift, var, shift);
    }
    let a = gamma[c] / F::sqrt(var + F::cast_from(epsilon));
    let b = beta[c];
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    normalise(
        x,
        residual,
        y,
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
        channel_params(x, params, &d, c, count, epsilon, channels_last);
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    let (s, s_centred) = grad_sums(
        x,
        residual,
        dy,
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

/// The backward pass of a split layer, second launch: each cube adds up its channels'
/// partial sums (`add_shares`), the first split writes gamma's and beta's gradients as
/// `bn_backward_kernel` does, into the rows of `partial`'s buffer after the sums, and
/// every cube writes the input's gradient (and the residual's) over its share of its
/// tile's channels.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bn_grad_apply_kernel<F: Float>(
    x: &Tensor<F>,
    params: &Tensor<F>,
    residual: &Tensor<F>,
    dy: &Tensor<F>,
    partial: &mut Tensor<F>,
    dx: &mut Tensor<F>,
    dr: &mut Tensor<F>,
    d: Dims,
    rows: Rows,
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
    let (first, shift, root, a, b) =
        channel_params(x, params, &d, c, count, epsilon, channels_last);
    let mut sums = Shared::<[F]>::new_slice(comptime![2 * units]);
    add_shares(partial, &mut sums, &d, c, lane, count, splits, units);
    if count == 0 {
        terminate!();
    }
    let lanes = units / d.tile;
    let lc = unit % d.tile;
    let (g_xhat, k1, k0) = grad_coefs::<F>(sums[lc], sums[units + lc], a, root, count);
    if CUBE_POS_Y == 0 && lane == 0 {
        write_param_grads(partial, &rows, c, g_xhat, sums[lc]);
    }
    let (start, end) = share(count, splits);
    let coefs = (first, shift, a, b);
    let ks = (k1, k0);
    write_grads(
        x,
        residual,
        dy,
        dx,
        dr,
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
    let (d, splits, cubes) = dims(layout, &x);
    // A split layer's partial sums (and each channel's first value) come first in the
    // buffer, the statistics after them.
    let head = match splits {
        1 => 0,
        _ => (2 * splits + 1) * channels,
    };
    let stats = Packed::<3>::new(&x, head, channels);
    let rows = RowsLaunch::new(stats.start, stats.stride);
    let buffer = stats.buffer.clone();
    let [mean, variance, offset] = stats.rows;
    if splits > 1 {
        forward_split(
            [&x, &gamma, &beta, &residual, &buffer, &y],
            rows,
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
    // channel read and write nothing), all from `x`'s shape, and the statistics' rows
    // lie inside their buffer (`Packed`).
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
            buffer.into_tensor_arg(),
            d,
            rows,
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
    // Not written without a residual.
    let dr = match has_residual {
        true => layout.empty(&x),
        false => empty(&x, [1]),
    };
    let (d, splits, cubes) = dims(layout, &x);
    // A split layer's partial sums come first in the buffer, gamma's and beta's
    // gradients after them.
    let head = match splits {
        1 => 0,
        _ => 2 * splits * channels,
    };
    let grads = Packed::<2>::new(&x, head, channels);
    let rows = RowsLaunch::new(grads.start, grads.stride);
    let buffer = grads.buffer.clone();
    let [dgamma, dbeta] = grads.rows;
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
            [&x, &params, &residual, &grad, &buffer, &dx, &dr],
            rows,
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
            buffer.into_tensor_arg(),
            dr.clone().into_tensor_arg(),
            d,
            rows,
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

/// `forward` for a layer whose tiles are split over several cubes (`splits`): the
/// partial sums, then the statistics and the output. `t` is x, gamma, beta, the
/// residual (or its stand-in), the statistics' `Packed` buffer (the partial sums go in
/// its head) and the output y; `rows` is where the statistics' rows lie in the buffer.
fn forward_split(
    t: [&CubeTensor; 6],
    rows: RowsLaunch,
    epsilon: f64,
    relu: bool,
    has_residual: bool,
    layout: Layout,
) {
    let [x, gamma, beta, residual, buffer, y] = t.map(|t| t.clone());
    let (d, splits, cubes) = dims(layout, &x);
    let client = x.client.clone();
    // SAFETY: as in `forward`; a cube's share of a channel is below `count`, the
    // partial sums, `(2 * splits + 1) * channels` values, lie before the statistics'
    // rows in `buffer` (`forward`), and units past the last channel touch nothing.
    unsafe {
        bn_sums_kernel::launch_unchecked(
            &client,
            cubes.clone(),
            CubeDim::new_1d(UNITS as u32),
            x.clone().into_tensor_arg(),
            buffer.clone().into_tensor_arg(),
            d,
            splits,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
        // Launch arguments are consumed: the same sizes again.
        let (d, ..) = dims(layout, &x);
        bn_apply_kernel::launch_unchecked(
            &client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
            x.into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            residual.into_tensor_arg(),
            buffer.into_tensor_arg(),
            y.into_tensor_arg(),
            d,
            rows,
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

/// `backward` for a layer whose tiles are split over several cubes: the partial sums,
/// then the per-channel gradients and the input's (and the residual's). `t` is x, the
/// packed params, the residual (or its stand-in), the output's gradient, the
/// gradients' `Packed` buffer (the partial sums go in its head), and the outputs dx
/// and dr; `rows` is where gamma's and beta's gradients lie in the buffer.
fn backward_split(
    t: [&CubeTensor; 7],
    rows: RowsLaunch,
    epsilon: f64,
    relu: bool,
    has_residual: bool,
    layout: Layout,
) {
    let [x, params, residual, grad, buffer, dx, dr] = t.map(|t| t.clone());
    let (d, splits, cubes) = dims(layout, &x);
    let client = x.client.clone();
    // SAFETY: as in `backward`; a cube's share of a channel is below `count`, the
    // partial sums, `2 * splits * channels` values, lie before the gradients' rows in
    // `buffer` (`backward`), and units past the last channel touch nothing.
    unsafe {
        bn_grad_sums_kernel::launch_unchecked(
            &client,
            cubes.clone(),
            CubeDim::new_1d(UNITS as u32),
            x.clone().into_tensor_arg(),
            params.clone().into_tensor_arg(),
            residual.clone().into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            buffer.clone().into_tensor_arg(),
            d,
            splits,
            epsilon as f32,
            relu,
            has_residual,
            layout.channels_last(),
            UNITS,
            f32_type(),
        );
        let (d, ..) = dims(layout, &x);
        bn_grad_apply_kernel::launch_unchecked(
            &client,
            cubes,
            CubeDim::new_1d(UNITS as u32),
            x.into_tensor_arg(),
            params.into_tensor_arg(),
            residual.into_tensor_arg(),
            grad.into_tensor_arg(),
            buffer.into_tensor_arg(),
            dx.into_tensor_arg(),
            dr.into_tensor_arg(),
            d,
            rows,
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
