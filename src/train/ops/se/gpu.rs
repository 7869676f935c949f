//! Squeeze-and-excitation's kernels on Burn's CubeCL backend (wgpu): two launches
//! forward and two backward, where Burn's operations take dozens per block (a pooling,
//! two 1x1 convolutions on 1x1 images with their layout changes, the activations, the
//! broadcast product, and the gradients of each).
//!
//! The small layers in the middle work on one image at a time, so one cube per image
//! does everything per image in shared memory: forward, it pools each channel, runs
//! the two layers and writes the gate; a second, element-wise launch scales the input.
//! Backward, one cube per image sums `dy * x` per channel, goes back through the two
//! layers, and writes the input's gradient in the same launch; a second launch sums
//! the weights' gradients over the batch, a unit per weight. Activations are read as
//! they lie (`gpu::Layout`), the outputs made in the input's layout.
//!
//! Each kernel binds at most 7 tensors, and CubeCL adds one storage buffer of its own:
//! WebGPU's default limit is 8 (cubecl-wgpu asks for the adapter's, but a browser may
//! offer no more). So the gate and the hidden layer, which the backward kernel reads
//! both, are kept as one tensor (`SeKept`).

use burn::backend::TensorMetadata;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

use super::{SeGradients, SeKept, SeOps, SeOutput, SeParams};
use crate::train::gpu::{contiguous, empty, f32_type, CubeTensor, Layout, MAX_CUBES};

/// The units of a cube: a power of two, at most 256 (WebGPU's default limit on a
/// workgroup).
const UNITS: usize = 256;

/// The most values an image's cube keeps in shared memory (a value per channel and one
/// per hidden unit): 4,096 floats, the 16 KiB of workgroup memory a WebGPU device
/// gives by default. Wider layers run Burn's operations (`fits`).
const MAX_SHARED: usize = 4096;

/// Whether our kernels take a layer of `channels` channels and `hidden` hidden units.
pub fn fits(channels: usize, hidden: usize) -> bool {
    channels + hidden <= MAX_SHARED
}

/// The sizes, as launch arguments (one compiled kernel serves every layer of a layout
/// and shared-memory size).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Dims {
    batch: usize,
    channels: usize,
    /// The hidden layer's width (r).
    hidden: usize,
    /// Pixels per image.
    plane: usize,
}

/// Where channel `c`'s value `r` (counting its pixels) of image `n` lies.
#[cube]
fn element(d: &Dims, n: usize, c: usize, r: usize, #[comptime] channels_last: bool) -> usize {
    if channels_last {
        (n * d.plane + r) * d.channels + c
    } else {
        (n * d.channels + c) * d.plane + r
    }
}

/// The channel of value `e` of an image (counting its values as they lie). Plain
/// integer division, as in batch norm's kernels (`norm::gpu::element` says why).
#[cube]
fn channel_of(e: usize, d: &Dims, #[comptime] channels_last: bool) -> usize {
    if channels_last {
        e % d.channels
    } else {
        e / d.plane
    }
}

/// Where hidden unit `j` of image `n` lies in `gate_hidden`: after the batch's gates
/// (`SeKept`); gate `c` of image `n` is at `n * channels + c`.
#[cube]
fn hidden_at(d: &Dims, n: usize, j: usize) -> usize {
    d.batch * d.channels + n * d.hidden + j
}

/// Forward, cube `n`: the mean of each channel of image n (`pooled`, `[n, channels]`),
/// the hidden layer `relu(w1 . pooled + b1)` and the gate `sigmoid(w2 . hidden + b2)`,
/// into `gate_hidden` as `SeKept` lays them out (`hidden_at`); the layer's weights are
/// row-major.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn se_gate_kernel<F: Float>(
    x: &Tensor<F>,
    w1: &Tensor<F>,
    b1: &Tensor<F>,
    w2: &Tensor<F>,
    b2: &Tensor<F>,
    pooled: &mut Tensor<F>,
    gate_hidden: &mut Tensor<F>,
    d: Dims,
    #[comptime] channels_last: bool,
    #[comptime] shared: usize,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let n = CUBE_POS_X as usize;
    let unit = UNIT_POS_X as usize;
    // The pooled input at [0, channels), then the gate there; the hidden layer after.
    let mut values = Shared::<[F]>::new_slice(shared);
    let per_pixel = F::new(1.0) / F::cast_from(d.plane);
    let mut c = unit;
    while c < d.channels {
        let mut s = F::new(0.0);
        for r in 0..d.plane {
            s += x[element(&d, n, c, r, channels_last)];
        }
        let mean = s * per_pixel;
        values[c] = mean;
        pooled[n * d.channels + c] = mean;
        c += units;
    }
    sync_cube();
    let mut j = unit;
    while j < d.hidden {
        let mut z = b1[j];
        for c in 0..d.channels {
            z += w1[j * d.channels + c] * values[c];
        }
        if z < F::new(0.0) {
            z = F::new(0.0);
        }
        values[d.channels + j] = z;
        gate_hidden[hidden_at(&d, n, j)] = z;
        j += units;
    }
    sync_cube();
    let mut c = unit;
    while c < d.channels {
        let mut z = b2[c];
        for j in 0..d.hidden {
            z += w2[c * d.hidden + j] * values[d.channels + j];
        }
        gate_hidden[n * d.channels + c] = F::new(1.0) / (F::new(1.0) + F::exp(F::new(0.0) - z));
        c += units;
    }
}

/// Forward, element-wise: `y = x * gate[n, c]` (`gate` the gates at the start of
/// `gate_hidden`), every unit a value at a time over the activation as it lies.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn se_scale_kernel<F: Float>(
    x: &Tensor<F>,
    gate: &Tensor<F>,
    y: &mut Tensor<F>,
    d: Dims,
    #[comptime] channels_last: bool,
    #[define(F)] _dtype: ElemType,
) {
    let total = d.batch * d.channels * d.plane;
    let stride = CUBE_COUNT_X as usize * CUBE_DIM_X as usize;
    let image = d.channels * d.plane;
    let mut i = ABSOLUTE_POS;
    while i < total {
        let (n, e) = (i / image, i % image);
        let c = channel_of(e, &d, channels_last);
        y[i] = x[i] * gate[n * d.channels + c];
        i += stride;
    }
}

/// Backward, cube `n`: through the product and the sigmoid, `dz2 = (dy . x) * g *
/// (1 - g)` per channel; through the expand layer and the ReLU, `dz1 = w2^T . dz2`
/// where the hidden unit was positive; through the reduce layer and the pooling,
/// `dx = dy * g + (w1^T . dz1) / pixels`. Writes `dx` (in x's layout) and `dz`
/// (`[n, channels + hidden]`: dz2, then dz1) for the weights' kernel.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn se_backward_kernel<F: Float>(
    x: &Tensor<F>,
    dy: &Tensor<F>,
    w1: &Tensor<F>,
    w2: &Tensor<F>,
    gate_hidden: &Tensor<F>,
    dx: &mut Tensor<F>,
    dz: &mut Tensor<F>,
    d: Dims,
    #[comptime] channels_last: bool,
    #[comptime] shared: usize,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let n = CUBE_POS_X as usize;
    let unit = UNIT_POS_X as usize;
    let width = d.channels + d.hidden;
    // dz2 at [0, channels), then the pooled input's gradient there; dz1 after.
    let mut values = Shared::<[F]>::new_slice(shared);
    let mut c = unit;
    while c < d.channels {
        let mut s = F::new(0.0);
        for r in 0..d.plane {
            let at = element(&d, n, c, r, channels_last);
            s += dy[at] * x[at];
        }
        let g = gate_hidden[n * d.channels + c];
        let dz2 = s * g * (F::new(1.0) - g);
        values[c] = dz2;
        dz[n * width + c] = dz2;
        c += units;
    }
    sync_cube();
    let mut j = unit;
    while j < d.hidden {
        let mut s = F::new(0.0);
        for c in 0..d.channels {
            s += w2[c * d.hidden + j] * values[c];
        }
        if gate_hidden[hidden_at(&d, n, j)] <= F::new(0.0) {
            s = F::new(0.0);
        }
        values[d.channels + j] = s;
        dz[n * width + d.channels + j] = s;
        j += units;
    }
    sync_cube();
    let per_pixel = F::new(1.0) / F::cast_from(d.plane);
    let mut c = unit;
    while c < d.channels {
        let mut s = F::new(0.0);
        for j in 0..d.hidden {
            s += w1[j * d.channels + c] * values[d.channels + j];
        }
        // Every unit has read dz2 (before the barrier above); this overwrites it.
        values[c] = s * per_pixel;
        c += units;
    }
    sync_cube();
    let image = d.channels * d.plane;
    let mut e = unit;
    while e < image {
        let c = channel_of(e, &d, channels_last);
        let at = n * image + e;
        dx[at] = dy[at] * gate_hidden[n * d.channels + c] + values[c];
        e += units;
    }
}

/// Backward, a unit per weight: the weights' gradients summed over the batch, `dw1[j,
/// c] = sum dz1[n, j] * pooled[n, c]`, `db1[j] = sum dz1[n, j]`, `dw2[c, j] = sum
/// dz2[n, c] * hidden[n, j]`, `db2[c] = sum dz2[n, c]`, the four laid end to end.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn se_weights_kernel<F: Float>(
    pooled: &Tensor<F>,
    gate_hidden: &Tensor<F>,
    dz: &Tensor<F>,
    dw1: &mut Tensor<F>,
    db1: &mut Tensor<F>,
    dw2: &mut Tensor<F>,
    db2: &mut Tensor<F>,
    d: Dims,
    #[define(F)] _dtype: ElemType,
) {
    let (cs, hs) = (d.channels, d.hidden);
    let width = cs + hs;
    let weights = cs * hs;
    let total = 2 * weights + cs + hs;
    let stride = CUBE_COUNT_X as usize * CUBE_DIM_X as usize;
    let mut i = ABSOLUTE_POS;
    while i < total {
        let mut s = F::new(0.0);
        if i < weights {
            let (j, c) = (i / cs, i % cs);
            for n in 0..d.batch {
                s += dz[n * width + cs + j] * pooled[n * cs + c];
            }
            dw1[i] = s;
        } else if i < weights + hs {
            let j = i - weights;
            for n in 0..d.batch {
                s += dz[n * width + cs + j];
            }
            db1[j] = s;
        } else if i < 2 * weights + hs {
            let k = i - weights - hs;
            let (c, j) = (k / hs, k % hs);
            for n in 0..d.batch {
                s += dz[n * width + c] * gate_hidden[hidden_at(&d, n, j)];
            }
            dw2[k] = s;
        } else {
            let c = i - 2 * weights - hs;
            for n in 0..d.batch {
                s += dz[n * width + c];
            }
            db2[c] = s;
        }
        i += stride;
    }
}

/// Cubes of `UNITS` for `total` values, one value per unit up to `MAX_CUBES` cubes
/// (the element-wise kernels loop over what more would cover).
fn spread(total: usize) -> CubeCount {
    CubeCount::Static(total.div_ceil(UNITS).clamp(1, MAX_CUBES) as u32, 1, 1)
}

/// The sizes, and the shared memory an image's cube needs (a power of two, so few
/// kernels are compiled).
fn dims(x: &CubeTensor, hidden: usize) -> (DimsLaunch, usize) {
    let [batch, channels, h, w] = x.shape().dims();
    let shared = (channels + hidden).next_power_of_two().max(UNITS);
    debug_assert!(
        shared <= MAX_SHARED,
        "`fits` keeps wide layers off this path"
    );
    (DimsLaunch::new(batch, channels, hidden, h * w), shared)
}

impl SeOps for CubeBackend {
    fn se_train(x: CubeTensor, params: SeParams<Self>) -> SeOutput<Self> {
        let SeParams { w1, b1, w2, b2 } = params;
        let [w1, b1, w2, b2] = [w1, b1, w2, b2].map(contiguous);
        let (x, layout) = Layout::arranged(x);
        let [batch, channels, h, w] = x.shape().dims();
        let hidden_width = w1.shape()[0];
        let pooled = empty(&x, [batch, channels]);
        let gate_hidden = empty(&x, [batch * (channels + hidden_width)]);
        let (d, shared) = dims(&x, hidden_width);
        // SAFETY: cube n reads and writes image n's values (`element` stays below
        // batch * channels * plane, in x's layout), row n of `pooled` and image n's
        // gates and hidden units in `gate_hidden` (`hidden_at`); the weights are
        // row-major `[hidden, channels]` and `[channels, hidden]`; `shared` holds
        // channels + hidden values (`dims`).
        unsafe {
            se_gate_kernel::launch_unchecked(
                &x.client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(UNITS as u32),
                x.clone().into_tensor_arg(),
                w1.into_tensor_arg(),
                b1.into_tensor_arg(),
                w2.into_tensor_arg(),
                b2.into_tensor_arg(),
                pooled.clone().into_tensor_arg(),
                gate_hidden.clone().into_tensor_arg(),
                d,
                layout.channels_last(),
                shared,
                UNITS,
                f32_type(),
            )
        };
        let y = layout.empty(&x);
        let total = batch * channels * h * w;
        // SAFETY: i < total indexes x and y, which share a layout; the gate's index is
        // n * channels + c with n < batch and c < channels.
        unsafe {
            se_scale_kernel::launch_unchecked(
                &x.client,
                spread(total),
                CubeDim::new_1d(UNITS as u32),
                x.clone().into_tensor_arg(),
                gate_hidden.clone().into_tensor_arg(),
                y.clone().into_tensor_arg(),
                dims(&x, hidden_width).0,
                layout.channels_last(),
                f32_type(),
            )
        };
        SeOutput {
            y,
            kept: SeKept {
                pooled,
                gate_hidden,
            },
        }
    }

    fn se_train_grads(
        x: CubeTensor,
        w1: CubeTensor,
        w2: CubeTensor,
        kept: SeKept<Self>,
        grad: CubeTensor,
    ) -> SeGradients<Self> {
        let SeKept {
            pooled,
            gate_hidden,
        } = kept;
        let [w1, w2, pooled, gate_hidden] = [w1, w2, pooled, gate_hidden].map(contiguous);
        let (x, layout) = Layout::arranged(x);
        let dy = layout.arrange(grad);
        let [batch, channels, _, _] = x.shape().dims();
        let hidden_width = w1.shape()[0];
        let (d, shared) = dims(&x, hidden_width);
        let dx = layout.empty(&x);
        let dz = empty(&x, [batch, channels + hidden_width]);
        // SAFETY: as in `se_train`; dz has a row of channels + hidden per image.
        unsafe {
            se_backward_kernel::launch_unchecked(
                &x.client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(UNITS as u32),
                x.clone().into_tensor_arg(),
                dy.into_tensor_arg(),
                w1.clone().into_tensor_arg(),
                w2.clone().into_tensor_arg(),
                gate_hidden.clone().into_tensor_arg(),
                dx.clone().into_tensor_arg(),
                dz.clone().into_tensor_arg(),
                d,
                layout.channels_last(),
                shared,
                UNITS,
                f32_type(),
            )
        };
        let dw1 = empty(&x, w1.shape());
        let db1 = empty(&x, [hidden_width]);
        let dw2 = empty(&x, w2.shape());
        let db2 = empty(&x, [channels]);
        let (d, _) = dims(&x, hidden_width);
        let total = 2 * channels * hidden_width + channels + hidden_width;
        // SAFETY: each output index is below its tensor's size (the kernel's four
        // ranges), and the inputs' below batch rows of their widths.
        unsafe {
            se_weights_kernel::launch_unchecked(
                &x.client,
                spread(total),
                CubeDim::new_1d(UNITS as u32),
                pooled.into_tensor_arg(),
                gate_hidden.into_tensor_arg(),
                dz.into_tensor_arg(),
                dw1.clone().into_tensor_arg(),
                db1.clone().into_tensor_arg(),
                dw2.clone().into_tensor_arg(),
                db2.clone().into_tensor_arg(),
                d,
                f32_type(),
            )
        };
        SeGradients {
            x: dx,
            params: SeParams {
                w1: dw1,
                b1: db1,
                w2: dw2,
                b2: db2,
            },
        }
    }
}
