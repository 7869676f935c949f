//! Grouped 3x3 convolutions (stride 1 or 2) with narrow groups, computed directly.
//!
//! A RegNet's 3x3 layer has groups of 8 or so channels. Through im2col each group is
//! a GEMM of 8 rows, which runs at a fifth of the speed of the 1x1 layers' GEMMs and
//! copies the input nine times; these kernels read the input in place instead. Each
//! channel is laid on a zero-bordered grid whose rows are `row` long, so tap (kh, kw)
//! of flat output position `i` reads input position `i + offset(kh, kw)`: every tap is
//! one contiguous run over the whole plane. Where an image's rows are whole vector
//! runs (8, 16, 32 pixels wide), the kernels compute only its pixels and read and write
//! the dense tensors in place; elsewhere they sweep the whole grid, border columns
//! included, through a copy. At stride 2 the padded input is split into four
//! phase planes (even/odd rows x even/odd columns), and each tap reads one of them at
//! stride 1. Eight output channels are accumulated at once, eight positions at a time,
//! in registers.

use rayon::prelude::*;

use super::geometry::Geometry;
use crate::train::cpu::zeroed_chunks;

/// Positions per accumulator: one AVX2 register (two on SSE or wasm SIMD).
const LANES: usize = 8;
/// Output channels accumulated together.
const BLOCK: usize = 8;
/// Taps of a 3x3 kernel.
const TAPS: usize = 9;

/// One image's padded grids. Input channels become `phases` planes of `plane` floats
/// (the padded input, split by row and column parity at stride 2); outputs are `len`
/// flat positions, `ho` rows of `row` and slack to a whole `LANES` run.
#[derive(Clone, Copy)]
struct Grid {
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    stride: usize,
    row: usize,
    len: usize,
    plane: usize,
}

impl Grid {
    fn new(g: &Geometry) -> Self {
        let s = g.stride;
        // Taps reach 2 / s positions right of an output column and rows below it.
        let row = g.wo + 2 / s;
        let len = (g.ho * row).next_multiple_of(LANES);
        Grid {
            h: g.h,
            w: g.w,
            ho: g.ho,
            wo: g.wo,
            stride: s,
            row,
            len,
            plane: (len + 2 * row + LANES).next_multiple_of(LANES),
        }
    }

    fn phases(&self) -> usize {
        self.stride * self.stride
    }

    /// Floats per input channel: all its phase planes.
    fn channel(&self) -> usize {
        self.phases() * self.plane
    }

    /// Tap t = kh * 3 + kw reads phase plane `.0` at `.1` past the output position.
    fn tap(&self, t: usize) -> (usize, usize) {
        let (kh, kw, s) = (t / 3, t % 3, self.stride);
        ((kh % s) * s + kw % s, (kh / s) * self.row + kw / s)
    }

    /// Where each tap reads in a channel's phase planes, relative to the output position.
    fn offsets(&self) -> [usize; TAPS] {
        std::array::from_fn(|t| {
            let (phase, at) = self.tap(t);
            phase * self.plane + at
        })
    }

    /// Where padded input pixel (ih + 1, iw + 1) lies in a channel's phase planes.
    fn at(&self, ih: usize, iw: usize) -> usize {
        let (s, (ph, pw)) = (self.stride, (ih + 1, iw + 1));
        ((ph % s) * s + pw % s) * self.plane + (ph / s) * self.row + pw / s
    }

    /// Where row `ih` of the input starts in a channel's phase planes, for the input
    /// columns of each parity: even columns `iw = 2k` land at `.0 + k`, odd ones at
    /// `.1 + k` (at stride 1, one run: `.0 + iw`).
    fn row_starts(&self, ih: usize) -> (usize, usize) {
        (self.at(ih, 0), self.at(ih, 1.min(self.w - 1)))
    }

    /// The output pixels as runs, where output rows are whole runs.
    fn output_runs(&self) -> Option<Runs> {
        Runs::pixels(self.ho, self.wo, 0, self.row)
    }

    /// The input pixels as runs of the padded plane, at stride 1 (at stride 2 a row's
    /// pixels alternate between two phase planes) where input rows are whole runs.
    fn input_runs(&self) -> Option<Runs> {
        let first = self.at(0, 0);
        (self.stride == 1).then(|| Runs::pixels(self.h, self.w, first, self.row))?
    }

    /// Copies `[channels, h, w]` planes into `buf` (`[channels, channel]`); the border
    /// and slack stay zero (nothing else is ever written there).
    fn pad(&self, src: &[f32], channels: usize, buf: &mut [f32]) {
        for c in 0..channels {
            let (dst, src) = (&mut buf[c * self.channel()..], &src[c * self.h * self.w..]);
            for ih in 0..self.h {
                let s = &src[ih * self.w..][..self.w];
                let (even, odd) = self.row_starts(ih);
                if self.stride == 1 {
                    dst[even..][..self.w].copy_from_slice(s);
                } else {
                    let (e, o) = (s.iter().step_by(2), s.iter().skip(1).step_by(2));
                    dst[even..].iter_mut().zip(e).for_each(|(d, v)| *d = *v);
                    dst[odd..].iter_mut().zip(o).for_each(|(d, v)| *d = *v);
                }
            }
        }
    }

    /// The inverse of `pad`: `[channels, h, w]` planes read back from phase planes laid
    /// out `stride` floats apart per channel.
    fn unpad(&self, buf: &[f32], stride: usize, channels: usize, dst: &mut [f32]) {
        for c in 0..channels {
            let src = &buf[c * stride..];
            for ih in 0..self.h {
                let d = &mut dst[(c * self.h + ih) * self.w..][..self.w];
                let (even, odd) = self.row_starts(ih);
                if self.stride == 1 {
                    d.copy_from_slice(&src[even..][..self.w]);
                } else {
                    d.iter_mut()
                        .step_by(2)
                        .zip(&src[even..])
                        .for_each(|(d, v)| *d = *v);
                    let d_odd = d.iter_mut().skip(1).step_by(2);
                    d_odd.zip(&src[odd..]).for_each(|(d, v)| *d = *v);
                }
            }
        }
    }

    /// Lays `[channels, ho, wo]` planes on the output grid, each `stride` floats after
    /// the last, starting at `first`; border columns and slack stay zero.
    fn spread(
        &self,
        src: &[f32],
        channels: usize,
        (first, stride): (usize, usize),
        buf: &mut [f32],
    ) {
        for c in 0..channels {
            for oh in 0..self.ho {
                let s = &src[(c * self.ho + oh) * self.wo..][..self.wo];
                buf[first + c * stride + oh * self.row..][..self.wo].copy_from_slice(s);
            }
        }
    }

    /// The inverse of `spread` (from `[channels, len]`) into `[channels, ho, wo]`.
    fn gather(&self, block: &[f32], channels: usize, dst: &mut [f32]) {
        for c in 0..channels {
            for oh in 0..self.ho {
                dst[(c * self.ho + oh) * self.wo..][..self.wo]
                    .copy_from_slice(&block[c * self.len + oh * self.row..][..self.wo]);
            }
        }
    }
}

/// The positions a kernel computes, in runs of `LANES`: run k of row r lies at
/// `first + r * grid_row + k * LANES` on the grid and at `r * dense_row + k * LANES` in
/// the dense plane it stands for. Where a plane's rows are whole runs, the runs cover
/// exactly its pixels, so the kernels read and write dense planes in place and skip the
/// grid's border columns; elsewhere they sweep the flat grid (`Runs::flat`) and a copy
/// to or from it follows.
#[derive(Clone, Copy)]
struct Runs {
    rows: usize,
    per_row: usize,
    first: usize,
    grid_row: usize,
    dense_row: usize,
}

impl Runs {
    /// Every position of a flat grid `n` long, dense index = grid index.
    fn flat(n: usize) -> Self {
        assert!(n.is_multiple_of(LANES));
        Runs {
            rows: 1,
            per_row: n / LANES,
            first: 0,
            grid_row: 0,
            dense_row: 0,
        }
    }

    /// The pixels of `rows` x `width` planes whose row y starts at grid position
    /// `first + y * grid_row`, where `width` is whole runs.
    fn pixels(rows: usize, width: usize, first: usize, grid_row: usize) -> Option<Self> {
        width.is_multiple_of(LANES).then_some(Runs {
            rows,
            per_row: width / LANES,
            first,
            grid_row,
            dense_row: width,
        })
    }

    /// Calls `f(grid, dense)` with the start of every run, in order.
    #[inline(always)]
    fn for_each(self, mut f: impl FnMut(usize, usize)) {
        for r in 0..self.rows {
            let (i, j) = (self.first + r * self.grid_row, r * self.dense_row);
            for k in 0..self.per_row {
                f(i + k * LANES, j + k * LANES);
            }
        }
    }

    /// One past the last grid and dense position of the runs.
    fn ends(self) -> (usize, usize) {
        if self.rows == 0 || self.per_row == 0 {
            return (0, 0);
        }
        let (r, along) = (self.rows - 1, self.per_row * LANES);
        (
            self.first + r * self.grid_row + along,
            r * self.dense_row + along,
        )
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
            // Fused where the CPU has it (relaxed SIMD leaves that to the browser): one
            // rounding instead of two.
            #[cfg(feature = "relaxed-simd")]
            return Wasm(
                f32x4_relaxed_madd(a.0, b.0, self.0),
                f32x4_relaxed_madd(a.1, b.1, self.1),
            );
            #[cfg(not(feature = "relaxed-simd"))]
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

/// `out[o][j..j + LANES] = sum over c, t of taps[c][t][o] * src[c * stride + i +
/// offsets[t]..][..LANES]` for every run (i, j), the `BLOCK` output channels of `taps`
/// (`[channels, offsets.len(), BLOCK]`); row o of `out` starts at `o * out_stride`, and
/// only the first `rows` rows are written (the rest of a partial block).
#[inline(always)]
fn correlate_with<V: Vector>(
    (src, stride): (&[f32], usize),
    (taps, offsets): (&[f32], &[usize]),
    (channels, runs): (usize, Runs),
    (out, out_stride, rows): (&mut [f32], usize, usize),
) {
    let (grid_end, dense_end) = runs.ends();
    let reach = offsets.iter().max().map_or(0, |m| m + grid_end);
    assert!(taps.len() >= channels * offsets.len() * BLOCK && rows <= BLOCK);
    assert!(channels == 0 || (channels - 1) * stride + reach <= src.len());
    assert!(rows == 0 || (rows - 1) * out_stride + dense_end <= out.len());
    runs.for_each(|i0, j0| {
        let mut acc = [V::zero(); BLOCK];
        for c in 0..channels {
            let taps_c = &taps[c * offsets.len() * BLOCK..][..offsets.len() * BLOCK];
            for (wt, &off) in taps_c.chunks_exact(BLOCK).zip(offsets) {
                // SAFETY: c * stride + i0 + off + LANES <= (channels - 1) * stride + reach
                // <= src.len() (asserted above).
                let x = unsafe { V::load(src.as_ptr().add(c * stride + i0 + off)) };
                for (a, &w) in acc.iter_mut().zip(wt) {
                    *a = a.mul_add(V::splat(w), x);
                }
            }
        }
        for (o, a) in acc.iter().enumerate().take(rows) {
            // SAFETY: o * out_stride + j0 + LANES <= (rows - 1) * out_stride + dense_end.
            unsafe { a.store(out.as_mut_ptr().add(o * out_stride + j0)) };
        }
    });
}

/// `dw[c][t][o] += sum over runs (i, j) of dy[o][j..j + LANES] * src[c * stride + i +
/// offsets[t]..][..LANES]`: the weight gradient of `correlate`, for `BLOCK` rows of `dy`
/// starting `dy_stride` apart, the first `rows` of them real (the others reread the
/// last real one: their sums are never read). Each sum stays `LANES` partial sums (`dw`
/// is `[channels, TAPS, BLOCK, LANES]`) until the whole batch is in: one image's are
/// too short to reduce.
#[inline(always)]
fn correlate_grad_with<V: Vector>(
    (src, stride): (&[f32], usize),
    (dy, dy_stride, rows): (&[f32], usize, usize),
    (offsets, channels, runs): (&[usize; TAPS], usize, Runs),
    dw: &mut [f32],
) {
    let (grid_end, dense_end) = runs.ends();
    let reach = offsets.iter().max().unwrap() + grid_end;
    assert!((1..=BLOCK).contains(&rows) && (rows - 1) * dy_stride + dense_end <= dy.len());
    assert!(channels == 0 || (channels - 1) * stride + reach <= src.len());
    assert!(dw.len() >= channels * TAPS * BLOCK * LANES);
    let (src, dw) = (src.as_ptr(), dw.as_mut_ptr());
    // SAFETY (the loads and stores below): the sums of (c, t) lie inside `dw`; a run
    // of row o ends by (rows - 1) * dy_stride + dense_end <= dy.len(), and one of
    // channel c by c * stride + off + grid_end <= src.len().
    let last = (rows - 1) * dy_stride;
    let dy = dy.as_ptr();
    for c in 0..channels {
        for (t, &off) in offsets.iter().enumerate() {
            let out = unsafe { dw.add((c * TAPS + t) * BLOCK * LANES) };
            let mut acc: [V; BLOCK] =
                std::array::from_fn(|o| unsafe { V::load(out.add(o * LANES)) });
            let x_at = unsafe { src.add(c * stride + off) };
            runs.for_each(|i0, j0| {
                let x = unsafe { V::load(x_at.add(i0)) };
                for (o, a) in acc.iter_mut().enumerate() {
                    let row = (o * dy_stride).min(last);
                    *a = a.mul_add(unsafe { V::load(dy.add(row + j0)) }, x);
                }
            });
            for (o, a) in acc.iter().enumerate() {
                unsafe { a.store(out.add(o * LANES)) };
            }
        }
    }
}

/// Calls `$body::<Vector>($args)` with AVX registers, compiled for AVX2 + FMA, where
/// the CPU has them; with wasm SIMD registers in a `simd128` build (compiled for relaxed
/// SIMD in the `relaxed-simd` build); with plain arrays elsewhere.
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
        // Compiled for relaxed SIMD, where `Wasm::mul_add` fuses: that build loads only
        // in browsers that have it (Cargo.toml, `relaxed-simd`).
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
        {
            #[target_feature(enable = "relaxed-simd")]
            fn fast($($arg: $ty),*) {
                $body::<wasm::Wasm>($($arg),*)
            }
            fast($($arg),*);
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", not(feature = "relaxed-simd")))]
        $body::<wasm::Wasm>($($arg),*);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        $body::<[f32; LANES]>($($arg),*);
    }};
}

type Source<'a> = (&'a [f32], usize);
type Taps<'a> = (&'a [f32], &'a [usize]);
type Out<'a> = (&'a mut [f32], usize, usize);
type Rows<'a> = (&'a [f32], usize, usize);
type Sweep<'a> = (&'a [usize; TAPS], usize, Runs);

fn correlate(src: Source, taps: Taps, sizes: (usize, Runs), out: Out) {
    dispatch!(correlate_with(src: Source, taps: Taps, sizes: (usize, Runs), out: Out))
}

fn correlate_grad(src: Source, dy: Rows, sweep: Sweep, dw: &mut [f32]) {
    dispatch!(correlate_grad_with(src: Source, dy: Rows, sweep: Sweep, dw: &mut [f32]))
}

/// Blocks of `BLOCK` channels covering `n` channels.
fn blocks(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

/// Weight `[c_out, cg, 3, 3]` entry of output channel `o` and input channel `i` of group
/// `grp`, tap t, where both lie in the group (zero past its channels, for partial blocks).
fn weight_at(weight: &[f32], g: &Geometry, grp: usize, (o, i): (usize, usize), t: usize) -> f32 {
    if o < g.og() && i < g.cg() {
        weight[((grp * g.og() + o) * g.cg() + i) * TAPS + t]
    } else {
        0.0
    }
}

/// The forward taps: `[group][block of outputs][cg][TAPS][BLOCK]`.
fn forward_taps(weight: &[f32], g: &Geometry) -> Vec<f32> {
    let mut taps = Vec::with_capacity(g.groups * blocks(g.og()) * g.cg() * TAPS * BLOCK);
    for grp in 0..g.groups {
        for b in 0..blocks(g.og()) {
            for i in 0..g.cg() {
                for t in 0..TAPS {
                    taps.extend(
                        (0..BLOCK).map(|o| weight_at(weight, g, grp, (b * BLOCK + o, i), t)),
                    );
                }
            }
        }
    }
    taps
}

/// The forward pass: for each image and group, the input's phase planes correlated
/// with the taps, a block of outputs at a time.
pub(super) fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let (grid, taps) = (Grid::new(g), forward_taps(weight, g));
    let (cg, og, offsets, runs) = (g.cg(), g.og(), grid.offsets(), grid.output_runs());
    let per_block = cg * TAPS * BLOCK;
    zeroed_chunks(
        (g.batch * g.image_out(), g.image_out()),
        || {
            let block = if runs.is_some() { 0 } else { BLOCK * grid.len };
            (vec![0.0; cg * grid.channel()], vec![0.0; block])
        },
        |(padded, block), image, y_n| {
            let x_n = &x[image * g.image_in()..][..g.image_in()];
            for grp in 0..g.groups {
                grid.pad(&x_n[g.input_range(grp)], cg, padded);
                for b in 0..blocks(og) {
                    let taps_b = &taps[(grp * blocks(og) + b) * per_block..][..per_block];
                    let src = (&padded[..], grid.channel());
                    let n = BLOCK.min(og - b * BLOCK);
                    let y_b = &mut y_n[(grp * og + b * BLOCK) * g.p()..];
                    if let Some(runs) = runs {
                        correlate(src, (taps_b, &offsets), (cg, runs), (y_b, g.p(), n));
                    } else {
                        let flat = Runs::flat(grid.len);
                        let out = (&mut block[..], grid.len, n);
                        correlate(src, (taps_b, &offsets), (cg, flat), out);
                        grid.gather(block, n, y_b);
                    }
                }
            }
        },
    )
    .0
}

/// The input gradient as the adjoint of `forward`: phase plane position j of input
/// channel c gathers `w[o][c][t] * dy[o][j - at(t)]` over outputs o and the taps t that
/// read that phase. `dy` is spread on the output grid after `margin` zeros, so every
/// `j - at(t)` is a valid index.
pub(super) fn grad_x(dy: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let grid = Grid::new(g);
    let (cg, og, runs) = (g.cg(), g.og(), grid.input_runs());
    let margin = grid.tap(TAPS - 1).1;
    let ext = (margin + grid.plane + LANES).next_multiple_of(LANES);
    // Per phase: the taps reading it and their offsets into the spread `dy`.
    let phases: Vec<(Vec<usize>, Vec<usize>)> = (0..grid.phases())
        .map(|p| {
            let taps: Vec<usize> = (0..TAPS).filter(|&t| grid.tap(t).0 == p).collect();
            let offsets = taps.iter().map(|&t| margin - grid.tap(t).1).collect();
            (taps, offsets)
        })
        .collect();
    // `[group][block of inputs][phase]` -> `[og][taps of the phase][BLOCK]`.
    let taps: Vec<Vec<f32>> = (0..g.groups)
        .flat_map(|grp| (0..blocks(cg)).map(move |b| (grp, b)))
        .flat_map(|(grp, b)| {
            phases.iter().map(move |(taps, _)| {
                let mut v = Vec::with_capacity(og * taps.len() * BLOCK);
                for o in 0..og {
                    for &t in taps {
                        v.extend(
                            (0..BLOCK).map(|i| weight_at(weight, g, grp, (o, b * BLOCK + i), t)),
                        );
                    }
                }
                v
            })
        })
        .collect();
    zeroed_chunks(
        (g.batch * g.image_in(), g.image_in()),
        || {
            let block = if runs.is_some() {
                0
            } else {
                BLOCK * grid.channel()
            };
            (vec![0.0; og * ext], vec![0.0; block])
        },
        |(spread, block), image, dx_n| {
            let dy_n = &dy[image * g.image_out()..][..g.image_out()];
            for grp in 0..g.groups {
                grid.spread(&dy_n[grp * og * g.p()..], og, (margin, ext), spread);
                for b in 0..blocks(cg) {
                    let n = BLOCK.min(cg - b * BLOCK);
                    let dx_b = &mut dx_n[(grp * cg + b * BLOCK) * g.plane()..];
                    let taps_b = &taps[(grp * blocks(cg) + b) * phases.len()..];
                    if let Some(runs) = runs {
                        // Stride 1: one phase plane, its pixels written in place.
                        let taps = (&taps_b[0][..], &phases[0].1[..]);
                        correlate((spread, ext), taps, (og, runs), (dx_b, g.plane(), n));
                        continue;
                    }
                    for (p, (_, offsets)) in phases.iter().enumerate() {
                        let flat = Runs::flat(grid.plane);
                        let out = (&mut block[p * grid.plane..], grid.channel(), n);
                        correlate((spread, ext), (&taps_b[p], offsets), (og, flat), out);
                    }
                    grid.unpad(block, grid.channel(), n, dx_b);
                }
            }
        },
    )
    .0
}

/// The weight gradient, `[c_out, cg, 3, 3]`, summed over the batch.
pub(super) fn grad_w(x: &[f32], dy: &[f32], g: &Geometry) -> Vec<f32> {
    let grid = Grid::new(g);
    let (cg, og, offsets, runs) = (g.cg(), g.og(), grid.offsets(), grid.output_runs());
    let per_block = cg * TAPS * BLOCK * LANES;
    let size = g.groups * blocks(og) * per_block;
    let sums = x
        .par_chunks(g.image_in())
        .zip(dy.par_chunks(g.image_out()))
        .fold(
            || {
                let padded = vec![0.0; cg * grid.channel()];
                let spread = if runs.is_some() {
                    0
                } else {
                    blocks(og) * BLOCK * grid.len
                };
                (vec![0.0; size], padded, vec![0.0; spread])
            },
            |(mut dw, mut padded, mut spread), (x_n, dy_n)| {
                for grp in 0..g.groups {
                    grid.pad(&x_n[g.input_range(grp)], cg, &mut padded);
                    let dy_g = &dy_n[grp * og * g.p()..];
                    if runs.is_none() {
                        grid.spread(dy_g, og, (0, grid.len), &mut spread);
                    }
                    for b in 0..blocks(og) {
                        let dw_b = &mut dw[(grp * blocks(og) + b) * per_block..][..per_block];
                        let src = (&padded[..], grid.channel());
                        let (dy_b, sweep) = match runs {
                            // dy read in place (a partial block rereads its last row).
                            Some(runs) => {
                                let n = BLOCK.min(og - b * BLOCK);
                                ((&dy_g[b * BLOCK * g.p()..], g.p(), n), runs)
                            }
                            None => {
                                let rows = &spread[b * BLOCK * grid.len..];
                                ((rows, grid.len, BLOCK), Runs::flat(grid.len))
                            }
                        };
                        correlate_grad(src, dy_b, (&offsets, cg, sweep), dw_b);
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
    // From `[group][block][cg][TAPS][BLOCK][LANES]`, lanes summed, to `[c_out, cg, 3, 3]`.
    let mut dw = vec![0.0; g.c_out * cg * TAPS];
    for grp in 0..g.groups {
        for o in 0..og {
            for c in 0..cg {
                for t in 0..TAPS {
                    let (b, ob) = (o / BLOCK, o % BLOCK);
                    let at =
                        (grp * blocks(og) + b) * per_block + ((c * TAPS + t) * BLOCK + ob) * LANES;
                    dw[((grp * og + o) * cg + c) * TAPS + t] = sums[at..][..LANES].iter().sum();
                }
            }
        }
    }
    dw
}
