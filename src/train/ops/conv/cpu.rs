//! The convolution's kernels on flex: narrow 3x3 groups go to `direct`, the rest are
//! GEMMs over im2col buffers.

use rayon::prelude::*;

use super::direct;
use super::geometry::{Geometry, Tap};
use super::{ConvOps, ConvShape};
use crate::train::cpu::{contiguous, f32s, gemm, tensor, zeroed_chunks, FlexTensor, View};
use burn::backend::{Flex, TensorMetadata};

/// The widest group `direct` handles; wider ones make GEMMs big enough to be faster
/// (measured on whole training steps: BENCHMARKS.md).
const DIRECT_MAX_WIDTH: usize = 64;

/// A 3x3 convolution at stride 1 or 2 with narrow groups runs `direct`'s kernels.
fn runs_direct(g: &Geometry) -> bool {
    g.kernel == 3 && g.stride <= 2 && g.cg().max(g.og()) <= DIRECT_MAX_WIDTH
}

/// Copies one group of one image (`x`: `[cg, h, w]`) into `cols` (`[cg * k * k, ho * wo]`),
/// row `(c * k + kh) * k + kw` holding tap (kh, kw) of channel c; outside is zero.
fn im2col(x: &[f32], g: &Geometry, cols: &mut [f32]) {
    let (p, s, pad) = (g.p(), g.stride, g.pad());
    g.for_each_row(|r, oh, ih, Tap { kw, lo, hi }| {
        let out = &mut cols[r * p + oh * g.wo..][..g.wo];
        let Some(start) = ih else {
            out.fill(0.0);
            return;
        };
        let src = &x[start..start + g.w];
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        if s == 1 {
            out[lo..hi].copy_from_slice(&src[lo + kw - pad..hi + kw - pad]);
        } else {
            for (ow, o) in out[lo..hi].iter_mut().enumerate() {
                *o = src[(lo + ow) * s + kw - pad];
            }
        }
    });
}

/// The adjoint of `im2col`: adds every entry of `cols` back onto the input pixel it
/// was copied from (`dx`: `[cg, h, w]`).
fn col2im(cols: &[f32], g: &Geometry, dx: &mut [f32]) {
    let (p, s, pad) = (g.p(), g.stride, g.pad());
    g.for_each_row(|r, oh, ih, Tap { kw, lo, hi }| {
        let Some(start) = ih else { return };
        let src = &cols[r * p + oh * g.wo..][..g.wo];
        let dst = &mut dx[start..start + g.w];
        if s == 1 {
            let dst = &mut dst[lo + kw - pad..hi + kw - pad];
            dst.iter_mut().zip(&src[lo..hi]).for_each(|(d, v)| *d += v);
        } else {
            for (ow, v) in src[lo..hi].iter().enumerate() {
                dst[(lo + ow) * s + kw - pad] += v;
            }
        }
    });
}

/// One group's im2col matrix `[k, p]`: the image itself for a stride-1 1x1.
fn cols<'a>(x_g: &'a [f32], g: &Geometry, buf: &'a mut [f32]) -> &'a [f32] {
    if g.reads_image() {
        &x_g[..g.k() * g.p()]
    } else {
        im2col(x_g, g, buf);
        buf
    }
}

/// The per-thread im2col buffer (empty for a stride-1 1x1).
fn buffer(g: &Geometry) -> Vec<f32> {
    vec![0.0; if g.reads_image() { 0 } else { g.k() * g.p() }]
}

/// `y[n]` = for each group, `w_g [og, k]` * `cols(x[n], g)` `[k, p]`.
fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    if runs_direct(g) {
        return direct::forward(x, weight, g);
    }
    let (k, p, og) = (g.k(), g.p(), g.og());
    zeroed_chunks(
        (g.batch * g.image_out(), g.image_out()),
        || buffer(g),
        |buf, n, y_n| {
            let x_n = &x[n * g.image_in()..][..g.image_in()];
            for grp in 0..g.groups {
                let cols = cols(&x_n[g.input_range(grp)], g, buf);
                let y_g = &mut y_n[grp * og * p..][..og * p];
                gemm(y_g, g.weight_of(weight, grp), View::rows(cols, k, p), false);
            }
        },
    )
    .0
}

/// `dx[n]` = for each group, `col2im(w_g^T [k, og] * dy_g [og, p])`.
fn grad_x(dy: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    if runs_direct(g) {
        return direct::grad_x(dy, weight, g);
    }
    zeroed_chunks(
        (g.batch * g.image_in(), g.image_in()),
        || buffer(g),
        |buf, n, dx_n| {
            let dy_n = &dy[n * g.image_out()..][..g.image_out()];
            for grp in 0..g.groups {
                let (w_g, dy_g) = (g.weight_of(weight, grp), g.output_of(dy_n, grp));
                let dx_g = &mut dx_n[g.input_range(grp)];
                if g.reads_image() {
                    gemm(dx_g, w_g.t(), dy_g, false);
                } else {
                    gemm(buf, w_g.t(), dy_g, false);
                    col2im(buf, g, dx_g);
                }
            }
        },
    )
    .0
}

/// `dw_g` = sum over images of `dy_g [og, p]` * `cols(x[n], g)^T [p, k]`.
fn grad_w(x: &[f32], dy: &[f32], g: &Geometry) -> Vec<f32> {
    if runs_direct(g) {
        return direct::grad_w(x, dy, g);
    }
    let (k, p, og) = (g.k(), g.p(), g.og());
    let size = g.c_out * k;
    x.par_chunks(g.image_in())
        .zip(dy.par_chunks(g.image_out()))
        .fold(
            || (vec![0.0; size], buffer(g)),
            |(mut dw, mut buf), (x_n, dy_n)| {
                for grp in 0..g.groups {
                    let cols = cols(&x_n[g.input_range(grp)], g, &mut buf);
                    let dw_g = &mut dw[grp * og * k..][..og * k];
                    gemm(
                        dw_g,
                        g.output_of(dy_n, grp),
                        View::rows(cols, k, p).t(),
                        true,
                    );
                }
                (dw, buf)
            },
        )
        .map(|(dw, _)| dw)
        .reduce(
            || vec![0.0; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

impl ConvOps for Flex {
    fn same_conv(x: FlexTensor, weight: FlexTensor, stride: usize, groups: usize) -> FlexTensor {
        let g = Geometry::new(ConvShape::new(&x.shape(), &weight.shape(), stride, groups));
        let (x, weight) = (contiguous(&x), contiguous(&weight));
        let y = forward(f32s(&x), f32s(&weight), &g);
        tensor(y, [g.batch, g.c_out, g.ho, g.wo])
    }

    fn same_conv_grad_x(grad: FlexTensor, weight: FlexTensor, shape: ConvShape) -> FlexTensor {
        let g = Geometry::new(shape);
        let (dy, weight) = (contiguous(&grad), contiguous(&weight));
        tensor(grad_x(f32s(&dy), f32s(&weight), &g), shape.x)
    }

    fn same_conv_grad_w(x: FlexTensor, grad: FlexTensor, shape: ConvShape) -> FlexTensor {
        let g = Geometry::new(shape);
        let (x, dy) = (contiguous(&x), contiguous(&grad));
        tensor(grad_w(f32s(&x), f32s(&dy), &g), shape.weight)
    }
}
