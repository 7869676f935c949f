//! Grouped 3x3 convolutions at stride 1 with narrow groups, computed directly.
//!
//! A RegNet's 3x3 layer has groups of 8 or so channels. Through im2col each group is
//! a GEMM of 8 rows, which runs at a fifth of the speed of the 1x1 layers' GEMMs and
//! copies the input nine times; these kernels read the input in place instead. Each
//! channel is laid on a zero-bordered grid whose rows are `w + 2` long, so tap
//! (kh, kw) of flat output position `i` is input position `i + kh * row + kw`: every
//! tap is one contiguous run over the whole plane (the two border columns of each row
//! give outputs that are thrown away). Eight output channels are accumulated at once,
//! eight positions at a time, in registers.

use rayon::prelude::*;

use super::Geometry;

/// Positions per accumulator: one AVX2 register (two on SSE or wasm SIMD).
const LANES: usize = 8;
/// Output channels accumulated together.
const BLOCK: usize = 8;
/// Taps of a 3x3 kernel.
const TAPS: usize = 9;

/// One image's padded grid: rows of `w + 2`, a zero border, and slack after the last
/// row so a tap may read a whole `LANES` run past the end.
#[derive(Clone, Copy)]
struct Grid {
    h: usize,
    w: usize,
    row: usize,
    /// Flat output positions computed: `h` rows of `row`, rounded up to `LANES`.
    len: usize,
    /// Floats per padded input plane.
    plane: usize,
}

impl Grid {
    fn new(g: &Geometry) -> Self {
        let row = g.w + 2;
        let len = (g.h * row).next_multiple_of(LANES);
        Grid {
            h: g.h,
            w: g.w,
            row,
            len,
            plane: len + 2 * row + LANES,
        }
    }

    /// Where tap t = kh * 3 + kw reads, relative to the output position.
    fn offsets(&self) -> [usize; TAPS] {
        std::array::from_fn(|t| (t / 3) * self.row + t % 3)
    }

    /// Copies `[channels, h, w]` planes into `buf` (`[channels, plane]`) inside the
    /// border, which stays zero (nothing else is written there).
    fn pad(&self, src: &[f32], channels: usize, buf: &mut [f32]) {
        for c in 0..channels {
            for ih in 0..self.h {
                let s = &src[(c * self.h + ih) * self.w..][..self.w];
                buf[c * self.plane + (ih + 1) * self.row + 1..][..self.w].copy_from_slice(s);
            }
        }
    }

    /// Lays `[channels, h, w]` planes on the output grid (`[channels, len]`); the
    /// border columns and the tail stay zero.
    fn spread(&self, src: &[f32], channels: usize, buf: &mut [f32]) {
        for c in 0..channels {
            for oh in 0..self.h {
                let s = &src[(c * self.h + oh) * self.w..][..self.w];
                buf[c * self.len + oh * self.row..][..self.w].copy_from_slice(s);
            }
        }
    }

    /// The inverse of `spread` for the first `channels` rows of a block of outputs.
    fn gather(&self, block: &[f32], channels: usize, dst: &mut [f32]) {
        for c in 0..channels {
            for oh in 0..self.h {
                dst[(c * self.h + oh) * self.w..][..self.w]
                    .copy_from_slice(&block[c * self.len + oh * self.row..][..self.w]);
            }
        }
    }
}

/// `LANES` floats in a vector register and the few operations the kernels need.
/// Loads and stores take raw pointers: the kernels check their slices' lengths once,
/// not on every access (the checks outnumbered the arithmetic).
trait Vector: Copy {
    fn zero() -> Self;
    fn splat(v: f32) -> Self;
    /// `self + a * b`.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// # Safety
    /// `p` must be valid for reading `LANES` floats.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for writing `LANES` floats.
    unsafe fn store(self, p: *mut f32);
}

/// Plain arrays: for CPUs without AVX2 and for wasm.
impl Vector for [f32; LANES] {
    #[inline(always)]
    fn zero() -> Self {
        [0.0; LANES]
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        [v; LANES]
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        std::array::from_fn(|l| self[l] + a[l] * b[l])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller's promise.
        unsafe { p.cast::<[f32; LANES]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller's promise.
        unsafe { p.cast::<[f32; LANES]>().write_unaligned(self) }
    }
}

/// One AVX register. (Written as arrays, LLVM vectorises the lane loops but keeps the
/// accumulators in memory; as registers, they stay in the 16 registers.)
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::Vector;
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub struct Avx(__m256);

    // SAFETY (every block below): only called from code compiled with `avx2,fma`
    // (`dispatch!`'s `fast`), after checking that the CPU has them; pointers as the
    // trait's safety sections require.
    impl Vector for Avx {
        #[inline(always)]
        fn zero() -> Self {
            unsafe { Avx(_mm256_setzero_ps()) }
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            unsafe { Avx(_mm256_set1_ps(v)) }
        }
        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            unsafe { Avx(_mm256_fmadd_ps(a.0, b.0, self.0)) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            unsafe { Avx(_mm256_loadu_ps(p)) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
    }
}

/// Two wasm SIMD registers (the worker is built with `simd128`, see .cargo/config.toml).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::Vector;
    use std::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct Wasm(v128, v128);

    impl Vector for Wasm {
        #[inline(always)]
        fn zero() -> Self {
            Wasm(f32x4_splat(0.0), f32x4_splat(0.0))
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Wasm(f32x4_splat(v), f32x4_splat(v))
        }
        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            Wasm(
                f32x4_add(self.0, f32x4_mul(a.0, b.0)),
                f32x4_add(self.1, f32x4_mul(a.1, b.1)),
            )
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller's promise covers both halves.
            unsafe {
                Wasm(
                    p.cast::<v128>().read_unaligned(),
                    p.add(4).cast::<v128>().read_unaligned(),
                )
            }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: as for `load`.
            unsafe {
                p.cast::<v128>().write_unaligned(self.0);
                p.add(4).cast::<v128>().write_unaligned(self.1);
            }
        }
    }
}

/// `out[o][i] = sum over c, t of taps[c][t][o] * src[c][i + offset t]`, for the
/// `BLOCK` output channels of `taps` (`[channels, TAPS, BLOCK]`; `out` `[BLOCK, len]`).
#[inline(always)]
fn correlate_with<V: Vector>(
    src: &[f32],
    channels: usize,
    taps: &[f32],
    grid: &Grid,
    out: &mut [f32],
) {
    let offsets = grid.offsets();
    assert!(src.len() >= channels * grid.plane && taps.len() >= channels * TAPS * BLOCK);
    assert!(out.len() >= BLOCK * grid.len && grid.plane >= grid.len + offsets[TAPS - 1]);
    for i0 in (0..grid.len).step_by(LANES) {
        let mut acc = [V::zero(); BLOCK];
        for c in 0..channels {
            for (t, &off) in offsets.iter().enumerate() {
                // SAFETY: i0 + off + LANES <= len + off <= plane (asserted above), so
                // the load stays in channel c's plane; the taps index is in bounds.
                let x = unsafe { V::load(src.as_ptr().add(c * grid.plane + i0 + off)) };
                let wt = &taps[(c * TAPS + t) * BLOCK..][..BLOCK];
                for (a, &w) in acc.iter_mut().zip(wt) {
                    *a = a.mul_add(V::splat(w), x);
                }
            }
        }
        for (o, a) in acc.iter().enumerate() {
            // SAFETY: o * len + i0 + LANES <= BLOCK * len <= out.len().
            unsafe { a.store(out.as_mut_ptr().add(o * grid.len + i0)) };
        }
    }
}

/// `dw[c][t][o] += sum over i of dy[o][i] * src[c][i + offset t]`: the weight gradient
/// of `correlate`, for the `BLOCK` rows of `dy` (`[BLOCK, len]`, zero off the image).
/// Each sum stays `LANES` partial sums (`dw` is `[channels, TAPS, BLOCK, LANES]`)
/// until the whole batch is in: one image's sums are too short to reduce each time.
#[inline(always)]
fn correlate_grad_with<V: Vector>(
    src: &[f32],
    channels: usize,
    dy: &[f32],
    grid: &Grid,
    dw: &mut [f32],
) {
    let offsets = grid.offsets();
    assert!(src.len() >= channels * grid.plane && dy.len() >= BLOCK * grid.len);
    assert!(dw.len() >= channels * TAPS * BLOCK * LANES);
    assert!(grid.plane >= grid.len + offsets[TAPS - 1]);
    let (src, dy, dw) = (src.as_ptr(), dy.as_ptr(), dw.as_mut_ptr());
    for c in 0..channels {
        for (t, &off) in offsets.iter().enumerate() {
            // SAFETY (the loads and stores below): the sums of (c, t) lie inside `dw`,
            // rows of `dy` are `len` long, and i0 + off + LANES <= plane (asserted).
            let out = unsafe { dw.add((c * TAPS + t) * BLOCK * LANES) };
            let mut acc: [V; BLOCK] =
                std::array::from_fn(|o| unsafe { V::load(out.add(o * LANES)) });
            let x_at = unsafe { src.add(c * grid.plane + off) };
            for i0 in (0..grid.len).step_by(LANES) {
                let x = unsafe { V::load(x_at.add(i0)) };
                for (o, a) in acc.iter_mut().enumerate() {
                    *a = a.mul_add(unsafe { V::load(dy.add(o * grid.len + i0)) }, x);
                }
            }
            for (o, a) in acc.iter().enumerate() {
                unsafe { a.store(out.add(o * LANES)) };
            }
        }
    }
}

/// Calls `$body::<Vector>($args)` with AVX registers, compiled for AVX2 + FMA, where
/// the CPU has them; with wasm SIMD registers in a `simd128` build; with plain arrays
/// elsewhere.
macro_rules! dispatch {
    ($body:ident($($arg:ident: $ty:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            fn fast($($arg: $ty),*) {
                $body::<avx::Avx>($($arg),*)
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has the features `fast` is compiled for.
                return unsafe { fast($($arg),*) };
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        $body::<wasm::Wasm>($($arg),*);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        $body::<[f32; LANES]>($($arg),*);
    }};
}

fn correlate(src: &[f32], channels: usize, taps: &[f32], grid: &Grid, out: &mut [f32]) {
    dispatch!(correlate_with(src: &[f32], channels: usize, taps: &[f32], grid: &Grid, out: &mut [f32]))
}

fn correlate_grad(src: &[f32], channels: usize, dy: &[f32], grid: &Grid, dw: &mut [f32]) {
    dispatch!(correlate_grad_with(src: &[f32], channels: usize, dy: &[f32], grid: &Grid, dw: &mut [f32]))
}

/// Blocks of `BLOCK` channels covering `n` channels.
fn blocks(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

/// The weight `[c_out, cg, 3, 3]` rearranged as taps for `correlate`:
/// `[group][block of outputs][cg][TAPS][BLOCK]`, zero past the group's outputs. With
/// `flip`, the taps of the input gradient instead: outputs and inputs swapped and the
/// kernel turned by 180 degrees, `[group][block of inputs][og][TAPS][BLOCK]`.
fn taps(weight: &[f32], g: &Geometry, flip: bool) -> Vec<f32> {
    let (cg, og) = (g.cg(), g.og());
    let (outs, ins) = if flip { (cg, og) } else { (og, cg) };
    let per_group = blocks(outs) * ins * TAPS * BLOCK;
    let mut taps = vec![0.0; g.groups * per_group];
    for grp in 0..g.groups {
        for o in 0..outs {
            for i in 0..ins {
                for t in 0..TAPS {
                    let (co, ci, tw) = if flip {
                        (i, o, TAPS - 1 - t)
                    } else {
                        (o, i, t)
                    };
                    let w = weight[((grp * og + co) * cg + ci) * TAPS + tw];
                    let (b, ob) = (o / BLOCK, o % BLOCK);
                    taps[grp * per_group + ((b * ins + i) * TAPS + t) * BLOCK + ob] = w;
                }
            }
        }
    }
    taps
}

/// Per-thread buffers: padded input planes and one block of outputs.
fn scratch(grid: &Grid, channels: usize) -> (Vec<f32>, Vec<f32>) {
    (
        vec![0.0; channels * grid.plane],
        vec![0.0; BLOCK * grid.len],
    )
}

/// For each image and group: `ins` padded planes from `src_n` in, `outs` planes to
/// `dst_n` out, through `correlate` with `taps` (as `taps` lays them out).
fn convolve(src: &[f32], taps: &[f32], g: &Geometry, (ins, outs): (usize, usize)) -> Vec<f32> {
    let grid = Grid::new(g);
    let plane = g.plane();
    let per_group = blocks(outs) * ins * TAPS * BLOCK;
    let mut dst = vec![0.0; g.batch * g.groups * outs * plane];
    dst.par_chunks_mut(g.groups * outs * plane)
        .zip(src.par_chunks(g.groups * ins * plane))
        .for_each_init(
            || scratch(&grid, ins),
            |(padded, block), (dst_n, src_n)| {
                for grp in 0..g.groups {
                    grid.pad(&src_n[grp * ins * plane..], ins, padded);
                    let taps_g = &taps[grp * per_group..][..per_group];
                    for b in 0..blocks(outs) {
                        let taps_b = &taps_g[b * ins * TAPS * BLOCK..][..ins * TAPS * BLOCK];
                        correlate(padded, ins, taps_b, &grid, block);
                        let n = BLOCK.min(outs - b * BLOCK);
                        let dst_b = &mut dst_n[(grp * outs + b * BLOCK) * plane..];
                        grid.gather(block, n, dst_b);
                    }
                }
            },
        );
    dst
}

/// The convolution's output, `[batch, c_out, h, w]`.
pub(super) fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    convolve(x, &taps(weight, g, false), g, (g.cg(), g.og()))
}

/// The input gradient: the output gradient convolved with the turned kernel.
pub(super) fn grad_x(dy: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    convolve(dy, &taps(weight, g, true), g, (g.og(), g.cg()))
}

/// The weight gradient, `[c_out, cg, 3, 3]`, summed over the batch.
pub(super) fn grad_w(x: &[f32], dy: &[f32], g: &Geometry) -> Vec<f32> {
    let grid = Grid::new(g);
    let (cg, og, plane) = (g.cg(), g.og(), g.plane());
    let per_group = blocks(og) * cg * TAPS * BLOCK * LANES;
    let size = g.groups * per_group;
    let sums = x
        .par_chunks(g.image_in())
        .zip(dy.par_chunks(g.image_out()))
        .fold(
            || {
                let (padded, _) = scratch(&grid, cg);
                let spread = vec![0.0; blocks(og) * BLOCK * grid.len];
                (vec![0.0; size], padded, spread)
            },
            |(mut dw, mut padded, mut spread), (x_n, dy_n)| {
                {
                    for grp in 0..g.groups {
                        grid.pad(&x_n[grp * cg * plane..], cg, &mut padded);
                        grid.spread(&dy_n[grp * og * plane..], og, &mut spread);
                        for b in 0..blocks(og) {
                            let dw_b = &mut dw[grp * per_group + b * cg * TAPS * BLOCK * LANES..];
                            let dy_b = &spread[b * BLOCK * grid.len..];
                            correlate_grad(&padded, cg, dy_b, &grid, dw_b);
                        }
                    }
                }
                (dw, padded, spread)
            },
        )
        .map(|(dw, _, _)| dw)
        .reduce(
            || vec![0.0; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    // From the taps layout, lanes summed, back to `[c_out, cg, 3, 3]`.
    let mut dw = vec![0.0; g.c_out * cg * TAPS];
    for grp in 0..g.groups {
        for o in 0..og {
            for c in 0..cg {
                for t in 0..TAPS {
                    let (b, ob) = (o / BLOCK, o % BLOCK);
                    let at = grp * per_group + (((b * cg + c) * TAPS + t) * BLOCK + ob) * LANES;
                    dw[((grp * og + o) * cg + c) * TAPS + t] = sums[at..][..LANES].iter().sum();
                }
            }
        }
    }
    dw
}
