//! The 1x1 convolution (dense, stride 1 or 2) on Burn's CubeCL backend as tiled matrix
//! products, forward and backward. On channels-last activations a 1x1 layer is a
//! matrix product: the output `[pixels, c_out]` is the input's `[pixels, c_in]` rows
//! (every `stride`-th pixel) times the weight `[c_out, c_in]` transposed; the input
//! gradient is the output gradient times the weight, scattered back to those pixels;
//! the weight gradient is the output gradient transposed times the input, a sum over
//! every output pixel of the batch.
//!
//! One kernel computes all three (the product is a comptime `Product`): a cube takes
//! a tile of the result (`tile`), walks the summed axis `DEPTH` at a time
//! through shared memory, and gives each unit a 4 x 4 block of the tile, its sums in
//! registers, so each value read from shared memory serves four products. The weight
//! gradient's summed axis is long (every pixel of the batch) and its result small, so
//! it is split into chunks, one partial result each, which a second launch adds up
//! (`sum_of_chunks`, as for the 3x3 layers).
//!
//! Burn's own 1x1 layers (burn-cubecl 0.22) are matrix products that it autotunes, which
//! natively takes most of the first step's time (BENCHMARKS.md); these take none.

use cubecl::prelude::*;

use super::gpu::{cube_index, spread, sum_of_chunks, UNITS};
use super::ConvShape;
use crate::train::gpu::{contiguous, f32_type, CubeTensor, Layout};

/// The summed axis's step through shared memory.
const DEPTH: usize = 16;

/// Each unit's block of the result: `BLOCK` x `BLOCK` values.
const BLOCK: usize = 4;

/// Shared memory's rows of the left operand are padded by this many values, so the
/// units that store one column of it write to different banks. (With the widest tile,
/// 128 rows, the two operands take 10.5 KiB of shared memory, under WebGPU's default
/// 16 KiB.)
const PAD: usize = 4;

/// About how many cubes the weight gradient's first launch should have: enough to keep
/// a wide GPU busy, its result alone being a tile or a few.
const GRAD_W_TARGET_CUBES: usize = 512;

/// Which product a launch computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Product {
    /// `y[p, co]` = the sum over `ci` of `x[pixel(p), ci] * w[co, ci]`, `p` an output
    /// pixel and `pixel(p)` its input pixel.
    Forward,
    /// `dx[q, ci]` = the sum over `co` of `dy[p, co] * w[co, ci]` where input pixel `q`
    /// is `pixel(p)`, else 0.
    GradX,
    /// `partial[chunk, co, ci]` = the sum over the chunk's output pixels `p` of `dy[p,
    /// co] * x[pixel(p), ci]`.
    GradW,
}

/// The layer's sizes, as launch arguments (one compiled kernel per product, stride and
/// tile serves every layer).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Sizes {
    /// The result's rows and columns, and the length of the summed axis.
    rows: usize,
    cols: usize,
    depth: usize,
    /// The summed axis's values per chunk (the weight gradient's), a multiple of `DEPTH`.
    chunk: usize,
    /// Tiles across a row of the result.
    col_tiles: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    c_in: usize,
    c_out: usize,
}

/// The input pixel (row of the channels-last input) under output pixel `p`.
#[cube]
fn input_pixel(s: &Sizes, p: usize, #[comptime] stride: usize) -> usize {
    if comptime![stride == 1] {
        p
    } else {
        let (image, rest) = (p / (s.ho * s.wo), p % (s.ho * s.wo));
        let (oh, ow) = (rest / s.wo, rest % s.wo);
        (image * s.h + oh * stride) * s.w + ow * stride
    }
}

/// The left operand's value at (`row`, `k`), both inside it.
#[cube]
fn left<F: Float>(
    a: &Tensor<F>,
    s: &Sizes,
    row: usize,
    k: usize,
    #[comptime] product: Product,
    #[comptime] stride: usize,
) -> F {
    let mut v = F::new(0.0);
    if comptime![product == Product::Forward] {
        v = a[input_pixel(s, row, stride) * s.c_in + k];
    } else if comptime![product == Product::GradW] {
        v = a[k * s.c_out + row];
    } else if comptime![stride == 1] {
        v = a[row * s.c_out + k];
    } else {
        // Input pixel `row` is an output pixel's only if it lies on the stride's grid.
        let (image, rest) = (row / (s.h * s.w), row % (s.h * s.w));
        let (ih, iw) = (rest / s.w, rest % s.w);
        if ih % stride == 0 && iw % stride == 0 {
            let p = (image * s.ho + ih / stride) * s.wo + iw / stride;
            v = a[p * s.c_out + k];
        }
    }
    v
}

/// The right operand's value at (`k`, `col`), both inside it.
#[cube]
fn right<F: Float>(
    b: &Tensor<F>,
    s: &Sizes,
    k: usize,
    col: usize,
    #[comptime] product: Product,
    #[comptime] stride: usize,
) -> F {
    if comptime![product == Product::Forward] {
        b[col * s.c_in + k]
    } else if comptime![product == Product::GradX] {
        b[k * s.c_in + col]
    } else {
        b[input_pixel(s, k, stride) * s.c_in + col]
    }
}

/// `c` = the product `Product` names of `a` and `b` (see there), for the tile of
/// `tile_rows` x `tile_cols` values this cube's place names (a cube has a unit per 4 x 4
/// block of it), and for the weight gradient the chunk of the summed axis its third
/// coordinate names.
///
/// Operands are read into shared memory `DEPTH` steps of the summed axis at a time,
/// the units reading neighbouring values of whichever axis lies contiguous in memory
/// (`k_fast`: the summed one), then each unit adds its 4 x 4 block's products.
#[cube(launch_unchecked)]
fn gemm_kernel<F: Float>(
    a: &Tensor<F>,
    b: &Tensor<F>,
    c: &mut Tensor<F>,
    s: Sizes,
    #[comptime] product: Product,
    #[comptime] stride: usize,
    #[comptime] tile_rows: usize,
    #[comptime] tile_cols: usize,
    #[define(F)] _dtype: ElemType,
) {
    let units = comptime![units(tile_rows, tile_cols)];
    let left_k_fast = comptime![product != Product::GradW];
    let right_k_fast = comptime![product == Product::Forward];
    // A cube past the last tile (the launch's second axis rounds up) reads and writes
    // nothing: its rows lie past the result's. It still meets every barrier, which
    // WebGPU's uniformity rules want met by all or none.
    let tile = cube_index();
    let row0 = (tile / s.col_tiles) * tile_rows;
    let col0 = (tile % s.col_tiles) * tile_cols;
    let unit = UNIT_POS_X as usize;
    let unit_row = (unit / comptime![tile_cols / BLOCK]) * BLOCK;
    let unit_col = (unit % comptime![tile_cols / BLOCK]) * BLOCK;
    let first = CUBE_POS_Z as usize * s.chunk;
    let mut end = first + s.chunk;
    if end > s.depth {
        end = s.depth;
    }

    let left_stride = comptime![tile_rows + PAD];
    let mut shared_a = Shared::<[F]>::new_slice(comptime![DEPTH * (tile_rows + PAD)]);
    let mut shared_b = Shared::<[F]>::new_slice(comptime![DEPTH * tile_cols]);
    let mut acc = Array::<F>::new(comptime![BLOCK * BLOCK]);
    #[unroll]
    for i in 0..comptime![BLOCK * BLOCK] {
        acc[i] = F::new(0.0);
    }
    let mut k0 = first;
    while k0 < end {
        #[unroll]
        for i in 0..comptime![tile_rows * DEPTH / units] {
            let e = i * units + unit;
            let mut r = e % tile_rows;
            let mut k = e / tile_rows;
            if left_k_fast {
                r = e / DEPTH;
                k = e % DEPTH;
            }
            let mut v = F::new(0.0);
            if row0 + r < s.rows && k0 + k < end {
                v = left(a, &s, row0 + r, k0 + k, product, stride);
            }
            shared_a[k * left_stride + r] = v;
        }
        #[unroll]
        for i in 0..comptime![tile_cols * DEPTH / units] {
            let e = i * units + unit;
            let mut col = e % tile_cols;
            let mut k = e / tile_cols;
            if right_k_fast {
                col = e / DEPTH;
                k = e % DEPTH;
            }
            let mut v = F::new(0.0);
            if col0 + col < s.cols && k0 + k < end {
                v = right(b, &s, k0 + k, col0 + col, product, stride);
            }
            shared_b[k * tile_cols + col] = v;
        }
        sync_cube();
        let mut av = Array::<F>::new(BLOCK);
        let mut bv = Array::<F>::new(BLOCK);
        #[unroll]
        for k in 0..DEPTH {
            #[unroll]
            for i in 0..BLOCK {
                av[i] = shared_a[k * left_stride + unit_row + i];
                bv[i] = shared_b[k * tile_cols + unit_col + i];
            }
            #[unroll]
            for i in 0..BLOCK {
                #[unroll]
                for j in 0..BLOCK {
                    acc[i * BLOCK + j] += av[i] * bv[j];
                }
            }
        }
        sync_cube();
        k0 += DEPTH;
    }
    let base = CUBE_POS_Z as usize * s.rows * s.cols;
    #[unroll]
    for i in 0..BLOCK {
        let r = row0 + unit_row + i;
        #[unroll]
        for j in 0..BLOCK {
            let col = col0 + unit_col + j;
            if r < s.rows && col < s.cols {
                c[base + r * s.cols + col] = acc[i * BLOCK + j];
            }
        }
    }
}

/// A launch's tiles, `[rows, cols]` for a result of `rows` x `cols`: 32 columns for a
/// result of 32 or fewer, else 64, and 32 rows for one of 32 or fewer (a narrow layer's
/// weight gradient), else as many as make a tile of `UNITS * BLOCK * BLOCK` values. So a
/// narrow result wastes little of its tiles. (16 columns would take 256 rows, whose
/// shared memory is over WebGPU's default 16 KiB a cube.)
fn tile(rows: usize, cols: usize) -> [usize; 2] {
    let tile_cols = if cols <= 32 { 32 } else { 64 };
    let tile_rows = if rows <= 32 {
        32
    } else {
        UNITS * BLOCK * BLOCK / tile_cols
    };
    [tile_rows, tile_cols]
}

/// A tile's units: one per `BLOCK` x `BLOCK` block of it.
const fn units(tile_rows: usize, tile_cols: usize) -> usize {
    tile_rows * tile_cols / (BLOCK * BLOCK)
}

/// Launches `product` into `c` (`chunks` partial results for the weight gradient,
/// stacked), with the summed axis cut into `chunks` runs of `chunk` values.
#[allow(clippy::too_many_arguments)]
fn launch(
    a: CubeTensor,
    b: CubeTensor,
    c: &CubeTensor,
    shape: &ConvShape,
    product: Product,
    [rows, cols, depth]: [usize; 3],
    chunk: usize,
    chunks: usize,
) {
    let [_, c_in, h, w] = shape.x;
    let [_, c_out, ho, wo] = shape.output();
    let [tile_rows, tile_cols] = tile(rows, cols);
    let col_tiles = cols.div_ceil(tile_cols);
    let tiles = rows.div_ceil(tile_rows) * col_tiles;
    let sizes = SizesLaunch::new(
        rows, cols, depth, chunk, col_tiles, h, w, ho, wo, c_in, c_out,
    );
    // SAFETY: every index the kernel forms is inside its tensor: rows, columns and the
    // summed axis are checked against `sizes`, derived from the same shapes as the
    // tensors; the activations are row-major NHWC (`Layout::arrange`, `empty_of`), the
    // weight and `c` row-major, `c` holding `chunks` results.
    unsafe {
        gemm_kernel::launch_unchecked(
            &c.client,
            spread(tiles, chunks),
            CubeDim::new_1d(units(tile_rows, tile_cols) as u32),
            a.into_tensor_arg(),
            b.into_tensor_arg(),
            c.clone().into_tensor_arg(),
            sizes,
            product,
            shape.stride,
            tile_rows,
            tile_cols,
            f32_type(),
        )
    };
}

/// The forward pass of a dense 1x1 layer.
pub(super) fn forward(x: CubeTensor, weight: CubeTensor, shape: &ConvShape) -> CubeTensor {
    let x = Layout::ChannelsLast.arrange(x);
    let weight = contiguous(weight);
    let [batch, c_out, ho, wo] = shape.output();
    let y = Layout::ChannelsLast.empty_of(&x, shape.output());
    let sizes = [batch * ho * wo, c_out, shape.x[1]];
    launch(x, weight, &y, shape, Product::Forward, sizes, sizes[2], 1);
    y
}

/// The input gradient of a dense 1x1 layer.
pub(super) fn grad_x(dy: CubeTensor, weight: CubeTensor, shape: &ConvShape) -> CubeTensor {
    let dy = Layout::ChannelsLast.arrange(dy);
    let weight = contiguous(weight);
    let [batch, c_in, h, w] = shape.x;
    let dx = Layout::ChannelsLast.empty_of(&dy, shape.x);
    let sizes = [batch * h * w, c_in, shape.weight[0]];
    launch(dy, weight, &dx, shape, Product::GradX, sizes, sizes[2], 1);
    dx
}

/// The weight gradient of a dense 1x1 layer, `[c_out, c_in, 1, 1]`.
pub(super) fn grad_w(x: CubeTensor, dy: CubeTensor, shape: &ConvShape) -> CubeTensor {
    let x = Layout::ChannelsLast.arrange(x);
    let dy = Layout::ChannelsLast.arrange(dy);
    let [c_out, c_in, ..] = shape.weight;
    let [batch, _, ho, wo] = shape.output();
    let (chunk, chunks) = grad_w_chunks(shape);
    let sizes = [c_out, c_in, batch * ho * wo];
    let like = x.clone();
    sum_of_chunks(&like, shape.weight, chunks, |partial| {
        launch(dy, x, partial, shape, Product::GradW, sizes, chunk, chunks)
    })
}

/// The weight gradient's chunks of the summed axis (the batch's output pixels): their
/// length, a multiple of `DEPTH`, and count, about `GRAD_W_TARGET_CUBES` cubes in all
/// with no chunk shorter than a few steps.
fn grad_w_chunks(shape: &ConvShape) -> (usize, usize) {
    let [c_out, c_in, ..] = shape.weight;
    let [batch, _, ho, wo] = shape.output();
    let pixels = batch * ho * wo;
    let [tile_rows, tile_cols] = tile(c_out, c_in);
    let tiles = c_out.div_ceil(tile_rows) * c_in.div_ceil(tile_cols);
    let wanted = GRAD_W_TARGET_CUBES.div_ceil(tiles).max(1);
    let chunk = pixels
        .div_ceil(wanted)
        .max(8 * DEPTH)
        .next_multiple_of(DEPTH);
    (chunk, pixels.div_ceil(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tile has a whole number of 4 x 4 blocks, a unit each, no more than a cube
    /// may have, each loading a whole share of both operands, within WebGPU's 16 KiB of
    /// shared memory; a narrow result gets narrow tiles.
    #[test]
    fn tiles_fit_a_cube() {
        for (rows, cols) in [(24, 24), (24, 152), (32768, 24), (32768, 64), (152, 152)] {
            let [tile_rows, tile_cols] = tile(rows, cols);
            let units = units(tile_rows, tile_cols);
            assert!(
                units <= UNITS && units.is_multiple_of(32),
                "{rows} x {cols}"
            );
            assert!((tile_rows * DEPTH).is_multiple_of(units));
            assert!((tile_cols * DEPTH).is_multiple_of(units));
            let shared = DEPTH * (tile_rows + PAD) + DEPTH * tile_cols;
            assert!(shared * 4 <= 16 * 1024, "{rows} x {cols}: {shared} values");
        }
        assert_eq!(tile(24, 24), [32, 32]);
    }

    /// The chunks cover the pixels once, none empty, each a whole number of steps.
    #[test]
    fn weight_gradient_chunks_cover_the_pixels() {
        for (x, c_out, stride) in [
            ([128, 24, 32, 32], 24, 1),
            ([128, 64, 16, 16], 128, 2),
            ([2, 6, 5, 4], 10, 2),
            ([1, 256, 1, 1], 512, 1),
        ] {
            let weight = [c_out, x[1], 1, 1];
            let shape = ConvShape::new(&x.into(), &weight.into(), stride, 1);
            let (chunk, chunks) = grad_w_chunks(&shape);
            let [batch, _, ho, wo] = shape.output();
            let pixels = batch * ho * wo;
            assert!(chunk.is_multiple_of(DEPTH));
            assert!(chunk * chunks >= pixels, "{shape:?}");
            assert!(chunk * (chunks - 1) < pixels, "{shape:?}");
        }
    }
}
