//! The sizes of one convolution and the index arithmetic its kernels share.

use super::ConvShape;
use crate::train::cpu::View;

/// The shapes of one convolution with a k x k kernel and padding k / 2.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geometry {
    pub(super) batch: usize,
    pub(super) c_in: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c_out: usize,
    pub(super) groups: usize,
    pub(super) kernel: usize,
    pub(super) stride: usize,
    pub(super) ho: usize,
    pub(super) wo: usize,
}

impl Geometry {
    pub(super) fn new(shape: ConvShape) -> Self {
        let ConvShape {
            x,
            weight,
            stride,
            groups,
        } = shape;
        let [batch, c_in, h, w] = x;
        let [c_out, cg, kernel, kernel_w] = weight;
        let [_, _, ho, wo] = shape.output();
        assert!(
            stride >= 1
                && groups >= 1
                && c_in == cg * groups
                && c_out % groups == 0
                && kernel % 2 == 1
                && kernel == kernel_w,
            "convolution: {c_in} -> {c_out} channels in {groups} groups, weight {weight:?}"
        );
        Geometry {
            batch,
            c_in,
            h,
            w,
            c_out,
            groups,
            kernel,
            stride,
            ho,
            wo,
        }
    }
    pub(super) fn pad(&self) -> usize {
        self.kernel / 2
    }
    /// Input channels of one group.
    pub(super) fn cg(&self) -> usize {
        self.c_in / self.groups
    }
    /// Output channels of one group.
    pub(super) fn og(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of one group's im2col matrix: its input channels times the taps.
    pub(super) fn k(&self) -> usize {
        self.cg() * self.kernel * self.kernel
    }
    /// Output pixels per image.
    pub(super) fn p(&self) -> usize {
        self.ho * self.wo
    }
    pub(super) fn plane(&self) -> usize {
        self.h * self.w
    }
    pub(super) fn image_in(&self) -> usize {
        self.c_in * self.plane()
    }
    pub(super) fn image_out(&self) -> usize {
        self.c_out * self.p()
    }
    /// Group `grp`'s weight, `[og, k]`.
    pub(super) fn weight_of<'a>(&self, weight: &'a [f32], grp: usize) -> View<'a> {
        let (og, k) = (self.og(), self.k());
        View::rows(&weight[grp * og * k..][..og * k], og, k)
    }
    /// Group `grp`'s output (or output gradient) in one image, `[og, p]`.
    pub(super) fn output_of<'a>(&self, y_n: &'a [f32], grp: usize) -> View<'a> {
        let (og, p) = (self.og(), self.p());
        View::rows(&y_n[grp * og * p..][..og * p], og, p)
    }
    /// The range of group `grp`'s input channels in one image.
    pub(super) fn input_range(&self, grp: usize) -> std::ops::Range<usize> {
        let len = self.cg() * self.plane();
        grp * len..(grp + 1) * len
    }
    /// A 1x1 stride-1 convolution reads the image itself: no im2col.
    pub(super) fn reads_image(&self) -> bool {
        self.kernel == 1 && self.stride == 1
    }
    /// Output columns `[lo, hi)` whose input column `ow * stride + kw - pad` lies inside.
    pub(super) fn valid_cols(&self, kw: usize) -> (usize, usize) {
        let (pad, s) = (self.pad(), self.stride);
        let lo = pad.saturating_sub(kw).div_ceil(s);
        let hi = (self.w + pad - kw).div_ceil(s);
        (lo, hi.min(self.wo))
    }
    /// Calls `f(row of cols, output row, input row start, tap)` for every row of one
    /// group's im2col matrix and output row: the order im2col and col2im share. The
    /// input row start is `None` where the row lies in the padding.
    pub(super) fn for_each_row(&self, mut f: impl FnMut(usize, usize, Option<usize>, Tap)) {
        let (k, s, pad) = (self.kernel, self.stride, self.pad());
        for c in 0..self.cg() {
            for kh in 0..k {
                for kw in 0..k {
                    let r = (c * k + kh) * k + kw;
                    let (lo, hi) = self.valid_cols(kw);
                    let tap = Tap { kw, lo, hi };
                    for oh in 0..self.ho {
                        let ih = (oh * s + kh)
                            .checked_sub(pad)
                            .filter(|&ih| ih < self.h)
                            .map(|ih| c * self.plane() + ih * self.w);
                        f(r, oh, ih, tap);
                    }
                }
            }
        }
    }
}

/// A kernel column `kw` and the output columns `[lo, hi)` it reads inside the image.
#[derive(Clone, Copy)]
pub(super) struct Tap {
    pub(super) kw: usize,
    pub(super) lo: usize,
    pub(super) hi: usize,
}
