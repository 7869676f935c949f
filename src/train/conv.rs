//! The RegNet's convolutions, fast on the CPU.
//!
//! Burn's `flex` backend takes 3-16x PyTorch's time for a RegNet's convolutions,
//! mostly in the backward pass (it runs the 1x1 weight gradient as a convolution, and
//! a grouped 3x3 one group and image at a time through strided copies). So the 1x1
//! and 3x3 convolutions (grouped or dense, stride 1 or 2, "same" padding) are a Burn
//! backend extension: on flex, 3x3 layers with groups of up to 64 channels run the
//! direct kernels of `direct`; the rest (1x1 layers, wider groups) are one GEMM per
//! image and group over an im2col buffer (none for a plain 1x1), for the forward pass
//! and both gradients, the images spread over threads, the weight gradient accumulated
//! in place. Every other backend (wgpu) runs Burn's own conv2d.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex, TensorMetadata};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

mod direct;

/// A k x k convolution without bias and with padding k / 2 (k odd, read from the
/// weight, `[c_out, c_in / groups, k, k]`): the RegNet's 1x1 and 3x3 layers.
pub fn same_conv(x: Tensor<4>, weight: Tensor<4>, stride: usize, groups: usize) -> Tensor<4> {
    if on_flex(&x.device()) {
        let y = <Dispatch as ConvOps>::same_conv(
            x.into_dispatch(),
            weight.into_dispatch(),
            stride,
            groups,
        );
        Tensor::from_dispatch(y)
    } else {
        let pad = weight.dims()[2] / 2;
        let options = ConvOptions::new([stride, stride], [pad, pad], [1, 1], groups);
        conv2d(x, weight, None, options)
    }
}

/// Whether `device` (or the device under its autodiff) is flex, where our kernels run.
pub(super) fn on_flex(device: &Device) -> bool {
    use burn::backend::DispatchDevice;
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// The convolution as a backend operation; the gradients are separate kernels
/// (`ConvGrads`) that the autodiff wrapper calls.
#[backend_extension(Flex, Autodiff)]
pub trait ConvOps: Backend {
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        groups: usize,
    ) -> FloatTensor<Self>;
}

/// What the gradients of one `same_conv` call need to know besides tensors.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    pub x: [usize; 4],
    pub weight: [usize; 4],
    pub stride: usize,
    pub groups: usize,
}

impl ConvShape {
    fn new(
        x: &burn::tensor::Shape,
        weight: &burn::tensor::Shape,
        stride: usize,
        groups: usize,
    ) -> Self {
        ConvShape {
            x: [x[0], x[1], x[2], x[3]],
            weight: [weight[0], weight[1], weight[2], weight[3]],
            stride,
            groups,
        }
    }
}

/// The two gradients of `same_conv`, for backends that run it themselves.
pub trait ConvGrads: Backend {
    /// The input gradient, `[batch, c_in, h, w]`, from the output gradient.
    fn same_conv_grad_x(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        shape: ConvShape,
    ) -> FloatTensor<Self>;
    /// The weight gradient, summed over the batch.
    fn same_conv_grad_w(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        shape: ConvShape,
    ) -> FloatTensor<Self>;
}

impl<B: ConvOps + ConvGrads, C: CheckpointStrategy> ConvOps for Autodiff<B, C> {
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        groups: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvBackward;

        impl<B: ConvOps + ConvGrads> Backward<B, 2> for ConvBackward {
            /// The input (kept when the weight needs a gradient), the weight (kept when
            /// the input does), and the shapes.
            type State = (Option<NodeId>, Option<NodeId>, ConvShape);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_w] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, shape) = ops.state;
                if let (Some(node), Some(x)) = (node_w, x) {
                    let x = checkpointer.retrieve_node_output(x);
                    let dw = B::same_conv_grad_w(x, grad.clone(), shape);
                    grads.register::<B>(node.id, dw);
                }
                if let (Some(node), Some(weight)) = (node_x, weight) {
                    let weight = checkpointer.retrieve_node_output(weight);
                    let dx = B::same_conv_grad_x(grad, weight, shape);
                    grads.register::<B>(node.id, dx);
                }
            }
        }

        let shape = ConvShape::new(
            &x.primitive().shape(),
            &weight.primitive().shape(),
            stride,
            groups,
        );
        let (x_tracked, w_tracked) = (x.is_tracked(), weight.is_tracked());
        match ConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = w_tracked.then(|| prep.checkpoint(&x));
                let w_state = x_tracked.then(|| prep.checkpoint(&weight));
                let y = B::same_conv(x.into_primitive(), weight.into_primitive(), stride, groups);
                prep.finish((x_state, w_state, shape), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::same_conv(
                x.into_primitive(),
                weight.into_primitive(),
                stride,
                groups,
            )),
        }
    }
}

/// The shapes of one convolution with a k x k kernel and padding k / 2.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    groups: usize,
    kernel: usize,
    stride: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(shape: ConvShape) -> Self {
        let ConvShape {
            x,
            weight,
            stride,
            groups,
        } = shape;
        let [batch, c_in, h, w] = x;
        let [c_out, cg, kernel, kernel_w] = weight;
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
            ho: (h - 1) / stride + 1,
            wo: (w - 1) / stride + 1,
        }
    }
    fn pad(&self) -> usize {
        self.kernel / 2
    }
    /// Input channels of one group.
    fn cg(&self) -> usize {
        self.c_in / self.groups
    }
    /// Output channels of one group.
    fn og(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of one group's im2col matrix: its input channels times the taps.
    fn k(&self) -> usize {
        self.cg() * self.kernel * self.kernel
    }
    /// Output pixels per image.
    fn p(&self) -> usize {
        self.ho * self.wo
    }
    fn plane(&self) -> usize {
        self.h * self.w
    }
    fn image_in(&self) -> usize {
        self.c_in * self.plane()
    }
    fn image_out(&self) -> usize {
        self.c_out * self.p()
    }
    /// Group `grp`'s weight, `[og, k]`.
    fn weight_of<'a>(&self, weight: &'a [f32], grp: usize) -> View<'a> {
        let (og, k) = (self.og(), self.k());
        View::rows(&weight[grp * og * k..][..og * k], og, k)
    }
    /// Group `grp`'s output (or output gradient) in one image, `[og, p]`.
    fn output_of<'a>(&self, y_n: &'a [f32], grp: usize) -> View<'a> {
        let (og, p) = (self.og(), self.p());
        View::rows(&y_n[grp * og * p..][..og * p], og, p)
    }
    /// The range of group `grp`'s input channels in one image.
    fn input_range(&self, grp: usize) -> std::ops::Range<usize> {
        let len = self.cg() * self.plane();
        grp * len..(grp + 1) * len
    }
    /// A 3x3 convolution at stride 1 or 2 with narrow groups runs `direct`'s kernels.
    fn narrow_3x3(&self) -> bool {
        self.kernel == 3 && self.stride <= 2 && self.cg().max(self.og()) <= DIRECT_MAX_WIDTH
    }
    /// A 1x1 stride-1 convolution reads the image itself: no im2col.
    fn reads_image(&self) -> bool {
        self.kernel == 1 && self.stride == 1
    }
    /// Output columns `[lo, hi)` whose input column `ow * stride + kw - pad` lies inside.
    fn valid_cols(&self, kw: usize) -> (usize, usize) {
        let (pad, s) = (self.pad(), self.stride);
        let lo = pad.saturating_sub(kw).div_ceil(s);
        let hi = (self.w + pad - kw).div_ceil(s);
        (lo, hi.min(self.wo))
    }
    /// Calls `f(row of cols, output row, input row start, tap)` for every row of one
    /// group's im2col matrix and output row: the order im2col and col2im share. The
    /// input row start is `None` where the row lies in the padding.
    fn for_each_row(&self, mut f: impl FnMut(usize, usize, Option<usize>, Tap)) {
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

/// The widest group `direct` handles; wider ones make GEMMs big enough to be faster.
/// Measured on whole training steps (BENCHMARKS.md): direct is 27% faster at groups of
/// 16, 10% at 32, even at 64, and 20% slower at 128.
const DIRECT_MAX_WIDTH: usize = 64;

/// A kernel column `kw` and the output columns `[lo, hi)` it reads inside the image.
#[derive(Clone, Copy)]
struct Tap {
    kw: usize,
    lo: usize,
    hi: usize,
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

/// A row-major or transposed view of a matrix inside a slice.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    pub(super) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
    pub(super) fn rows_len(&self) -> usize {
        self.rows
    }
    pub(super) fn cols_len(&self) -> usize {
        self.cols
    }
    pub(super) fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < len
    }
}

/// `dst` (row-major `[lhs.rows, rhs.cols]`) = lhs * rhs, or += with `accumulate`.
pub(super) fn gemm(dst: &mut [f32], lhs: View, rhs: View, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && dst.len() >= m * n && lhs.fits(lhs.data.len()));
    assert!(rhs.fits(rhs.data.len()));
    // SAFETY: the asserts above keep every index gemm touches inside the three slices,
    // and `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `y[n]` = for each group, `w_g [og, k]` * `cols(x[n], g)` `[k, p]`.
fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    if g.narrow_3x3() {
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
    if g.narrow_3x3() {
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
    if g.narrow_3x3() {
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

type FlexTensor = FloatTensor<Flex>;

/// The tensor in row-major order (a copy only when it is strided); read it with `f32s`.
pub(super) fn contiguous(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "our CPU kernels run on f32");
    t.to_contiguous()
}

pub(super) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("contiguous f32")
}

/// A new vector of `len` values, row by row on the threads: `row(i)` gives the values
/// of row `i` (`row_len` of them). The memory is not zeroed first: zeroing new
/// activations was ~4% of a RegNet step, half of it batch norm's outputs. Panics if a
/// row comes out short.
pub(super) fn filled<I: Iterator<Item = f32>>(
    len: usize,
    row_len: usize,
    row: impl Fn(usize) -> I + Sync,
) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.spare_capacity_mut()[..len]
        .par_chunks_mut(row_len.max(1))
        .enumerate()
        .for_each(|(i, out)| {
            let mut written = 0;
            for (o, v) in out.iter_mut().zip(row(i)) {
                o.write(v);
                written += 1;
            }
            assert_eq!(written, out.len(), "row {i} came out short");
        });
    // SAFETY: every row was written in full (the assert above), and `len` is within
    // the capacity.
    unsafe { values.set_len(len) };
    values
}

/// A new activation of `len` floats, zeroed and filled one `chunk` (one image, or a
/// block of them) at a time on the threads: `f(state, i, chunk i)` with a `state` from
/// `init` per thread, its results returned in order. Each chunk is zeroed by the thread
/// that fills it, just before: zeroing whole activations up front ran on the caller's
/// thread alone, with the other core idle (~3% of a RegNetY step's wall time in a
/// profile).
pub(super) fn zeroed_chunks<T, R: Send>(
    (len, chunk): (usize, usize),
    init: impl Fn() -> T + Sync + Send,
    f: impl Fn(&mut T, usize, &mut [f32]) -> R + Sync + Send,
) -> (Vec<f32>, Vec<R>) {
    let mut values = Vec::with_capacity(len);
    let results = values.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .map_init(init, |state, (i, out)| {
            out.iter_mut().for_each(|o| {
                o.write(0.0);
            });
            // SAFETY: every element of `out` was just written.
            let out = unsafe { &mut *(out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
            f(state, i, out)
        })
        .collect();
    // SAFETY: every chunk was written (zeroed) in full, and `len` is within the capacity.
    unsafe { values.set_len(len) };
    (values, results)
}

pub(super) fn tensor(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl ConvOps for Flex {
    fn same_conv(x: FlexTensor, weight: FlexTensor, stride: usize, groups: usize) -> FlexTensor {
        let g = Geometry::new(ConvShape::new(&x.shape(), &weight.shape(), stride, groups));
        let (x, weight) = (contiguous(&x), contiguous(&weight));
        let y = forward(f32s(&x), f32s(&weight), &g);
        tensor(y, [g.batch, g.c_out, g.ho, g.wo])
    }
}

impl ConvGrads for Flex {
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Our kernels against Burn's conv2d on flex: output and both gradients, for a
    /// `k` x `k` kernel over `[batch, c_in, h, w]`.
    fn check(
        k: usize,
        [batch, c_in, h, w]: [usize; 4],
        c_out: usize,
        stride: usize,
        groups: usize,
    ) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random([batch, c_in, h, w], normal, &device);
        let weight = Tensor::<4>::random([c_out, c_in / groups, k, k], normal, &device);
        let out = [batch, c_out, (h - 1) / stride + 1, (w - 1) / stride + 1];
        let upstream = Tensor::<4>::random(out, normal, &device);
        let run = |ours: bool| {
            let (x, weight) = (x.clone().require_grad(), weight.clone().require_grad());
            let y = if ours {
                same_conv(x.clone(), weight.clone(), stride, groups)
            } else {
                let pad = [k / 2; 2];
                let options = ConvOptions::new([stride; 2], pad, [1, 1], groups);
                conv2d(x.clone(), weight.clone(), None, options)
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            let dx = x.grad(&grads).unwrap();
            let dw = weight.grad(&grads).unwrap();
            [y.inner().into_data(), dx.into_data(), dw.into_data()]
        };
        let (ours, burn) = (run(true), run(false));
        let names = ["output", "input gradient", "weight gradient"];
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
            let worst = crate::train::worst_relative_error(a, b);
            assert!(
                worst < 1e-4,
                "{what}: relative error {worst} for {k}x{k}, {c_in} -> {c_out}, \
                 {h}x{w}, stride {stride}, groups {groups}"
            );
        }
    }

    #[test]
    fn conv3x3_matches_burn_dense_grouped_strided() {
        check(3, [2, 3, 6, 6], 8, 1, 1);
        check(3, [3, 12, 5, 7], 12, 1, 3);
        check(3, [2, 16, 8, 8], 16, 2, 4);
        check(3, [2, 6, 7, 5], 6, 2, 2);
        check(3, [1, 4, 1, 1], 8, 1, 1);
    }

    #[test]
    fn conv3x3_direct_blocks_strides_and_wide_groups() {
        // Narrow groups (the direct kernels): outputs filling one block, two blocks
        // with a partial one, a 1-pixel-wide image.
        check(3, [2, 16, 4, 9], 16, 1, 2);
        check(3, [2, 12, 5, 3], 20, 1, 1);
        check(3, [2, 6, 9, 1], 6, 1, 3);
        // At stride 2 (phase planes), with a partial block, odd and even sizes.
        check(3, [2, 24, 7, 6], 24, 2, 2);
        check(3, [2, 8, 6, 9], 16, 2, 1);
        // Rows of whole vector runs, read and written in place: 8 and 16 wide at
        // stride 1, 8 wide out of 16 and 15 at stride 2, with partial blocks.
        check(3, [2, 16, 8, 8], 16, 1, 2);
        check(3, [2, 12, 3, 16], 20, 1, 1);
        check(3, [2, 24, 6, 16], 24, 2, 2);
        check(3, [2, 12, 5, 15], 12, 2, 1);
        // Groups wider than the direct kernels take (im2col and GEMM).
        check(3, [2, 70, 3, 4], 70, 1, 1);
        check(3, [1, 70, 5, 5], 70, 2, 1);
    }

    #[test]
    fn conv1x1_matches_burn_plain_and_strided() {
        check(1, [2, 6, 5, 5], 4, 1, 1);
        check(1, [2, 6, 5, 4], 10, 2, 1);
        check(1, [3, 8, 3, 3], 4, 1, 2);
    }
}
