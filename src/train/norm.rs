//! Batch norm in training mode, with the ReLU that follows most of them (and, at a
//! block's end, the shortcut added before it), fast on the CPU.
//!
//! Burn builds a training batch norm's statistics and gradients out of generic tensor
//! operations: each reduction first copies the activation with batch and channel axes
//! swapped, and forward plus backward read it about fifteen times. On flex, this one
//! reads it twice each way, and folds the shortcut and the ReLU into the same passes
//! (backward recomputes the ReLU's mask from the input and the shortcut, so nothing more
//! is kept). Every other backend, and inference, run Burn's own `BatchNorm` and `relu`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex, TensorMetadata};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation;
use rayon::prelude::*;

use super::conv::{contiguous, f32s, filled, on_flex, tensor, zeroed_chunks};

/// `bn` applied to `x`, then a ReLU when `relu`: what `relu(bn.forward(x))` computes,
/// running statistics included.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    train(bn, x, None, relu)
}

/// `relu(shortcut + bn(x))`, the end of a residual block, in the same passes as the batch
/// norm: on flex, the sum and its ReLU are never written out separately.
pub fn batch_norm_add_relu(bn: &BatchNorm, x: Tensor<4>, shortcut: Tensor<4>) -> Tensor<4> {
    train(bn, x, Some(shortcut), true)
}

fn train(bn: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    let device = x.device();
    if !(device.is_autodiff() && bn.training.is_enabled() && on_flex(&device)) {
        let y = bn.forward(x);
        let y = match residual {
            Some(r) => y + r,
            None => y,
        };
        return if relu { activation::relu(y) } else { y };
    }
    let (x, gamma, beta) = (
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
    );
    let (y, mean, variance, _) = match residual {
        None => <Dispatch as NormOps>::bn_train(x, gamma, beta, bn.epsilon, relu),
        Some(r) => {
            assert!(relu, "a residual comes with its ReLU");
            <Dispatch as NormOps>::bn_add_relu_train(x, gamma, beta, r.into_dispatch(), bn.epsilon)
        }
    };
    // As Burn's `BatchNorm::forward_train` updates them.
    let m = bn.momentum;
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let running = state.value_sync().to_device(&device);
        state.update(
            running
                .mul_scalar(1.0 - m)
                .add(batch.detach().mul_scalar(m))
                .detach(),
        );
    };
    update(&bn.running_mean, Tensor::from_dispatch(mean));
    update(&bn.running_var, Tensor::from_dispatch(variance));
    Tensor::from_dispatch(y)
}

/// Training batch norm (+ ReLU), and batch norm + residual + ReLU, as backend
/// operations: each returns the output, the batch's mean and biased variance per
/// channel, and the mean's offset from the channel's first value (`x[0, c, 0, 0]`): in
/// f32, the mean itself is too coarse far from zero for the backward pass. Their
/// gradients are `NormGrads`.
#[backend_extension(Flex, Autodiff)]
pub trait NormOps: Backend {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    fn bn_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// What the backward pass of one `bn_train` call keeps besides the input.
#[derive(Clone, Copy, Debug)]
pub struct NormShape {
    pub epsilon: f64,
    pub relu: bool,
}

/// The gradients of `bn_train` for the input, gamma, beta and the residual (when there
/// is one: the gradient the ReLU passes).
pub trait NormGrads: Backend {
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn bn_train_grads(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        offset: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        shape: NormShape,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
    );
}

impl<B: NormOps + NormGrads, C: CheckpointStrategy> NormOps for Autodiff<B, C> {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> Outputs<FloatTensor<Self>> {
        tracked::<B, C, 3>([x, gamma, beta], NormShape { epsilon, relu })
    }

    fn bn_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> Outputs<FloatTensor<Self>> {
        let shape = NormShape {
            epsilon,
            relu: true,
        };
        tracked::<B, C, 4>([x, gamma, beta, residual], shape)
    }
}

/// The backward pass of a `bn_train` call with `N` inputs: x, gamma, beta [, residual].
#[derive(Debug)]
struct NormBackward<const N: usize>;

impl<B: NormOps + NormGrads, const N: usize> Backward<B, N> for NormBackward<N> {
    /// The inputs (checkpointed), the mean's offset and the variance.
    type State = ([NodeId; N], FloatTensor<B>, FloatTensor<B>, NormShape);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (inputs, offset, variance, shape) = ops.state;
        let mut inputs = inputs
            .map(|n| checkpointer.retrieve_node_output(n))
            .into_iter();
        let mut next = || inputs.next().expect("x, gamma and beta");
        let (x, gamma, beta) = (next(), next(), next());
        let residual = inputs.next();
        let (dx, dgamma, dbeta, dr) =
            B::bn_train_grads(x, gamma, beta, residual, offset, variance, grad, shape);
        let input_grads = [Some(dx), Some(dgamma), Some(dbeta), dr]
            .into_iter()
            .flatten();
        for (node, g) in ops.parents.into_iter().zip(input_grads) {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// What `bn_train` returns: the output, mean, variance and the mean's offset.
type Outputs<T> = (T, T, T, T);

/// `bn_train` on `inputs` (x, gamma, beta [, residual]), recorded for autodiff.
fn tracked<B: NormOps + NormGrads, C: CheckpointStrategy, const N: usize>(
    inputs: [FloatTensor<Autodiff<B, C>>; N],
    shape: NormShape,
) -> Outputs<FloatTensor<Autodiff<B, C>>> {
    let prepared = NormBackward::<N>
        .prepare::<C>(inputs.each_ref().map(|t| t.node()))
        .compute_bound()
        .stateful();
    let run = |inputs: [FloatTensor<Autodiff<B, C>>; N]| {
        let mut inputs = inputs.into_iter().map(|t| t.into_primitive());
        let mut next = || inputs.next().expect("x, gamma and beta");
        let (x, gamma, beta) = (next(), next(), next());
        match inputs.next() {
            None => B::bn_train(x, gamma, beta, shape.epsilon, shape.relu),
            Some(r) => B::bn_add_relu_train(x, gamma, beta, r, shape.epsilon),
        }
    };
    let untracked = FloatTensor::<Autodiff<B, C>>::new;
    match prepared {
        OpsKind::Tracked(mut prep) => {
            let kept = inputs.each_ref().map(|t| prep.checkpoint(t));
            let (y, mean, variance, offset) = run(inputs);
            let state = (kept, offset.clone(), variance.clone(), shape);
            let y = prep.finish(state, y);
            (y, untracked(mean), untracked(variance), untracked(offset))
        }
        OpsKind::UnTracked(prep) => {
            let (y, mean, variance, offset) = run(inputs);
            let y = prep.finish(y);
            (y, untracked(mean), untracked(variance), untracked(offset))
        }
    }
}

/// Partial sums kept per lane, so the compiler vectorises the reductions (float
/// addition in one running sum cannot be reordered).
const LANES: usize = 16;

/// Two running sums, `LANES` partial sums each.
type Lanes = [[f32; LANES]; 2];

/// Adds `f(x_i, y_i)` over two rows of one (image, channel) to `acc`, both halves of
/// `f`'s result. The lanes are summed once per block of images, not per row: on 8 x 8
/// planes a per-row reduction made the pass 3-4x slower in a probe.
fn add_lanes(x: &[f32], y: &[f32], acc: &mut Lanes, f: impl Fn(f32, f32) -> [f32; 2]) {
    let (xs, ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
    for (xc, yc) in xs.zip(ys) {
        for i in 0..LANES {
            let [a, b] = f(xc[i], yc[i]);
            acc[0][i] += a;
            acc[1][i] += b;
        }
    }
    for (i, (&xv, &yv)) in x_tail.iter().zip(y_tail).enumerate() {
        let [a, b] = f(xv, yv);
        acc[0][i] += a;
        acc[1][i] += b;
    }
}

/// An activation `[batch, channels, plane]` as rows of one (image, channel) each.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub(super) batch: usize,
    pub(super) channels: usize,
    pub(super) plane: usize,
}

impl Layout {
    pub(super) fn of(shape: &burn::tensor::Shape) -> Self {
        Layout {
            batch: shape[0],
            channels: shape[1],
            plane: shape.num_elements() / (shape[0] * shape[1]).max(1),
        }
    }

    /// Row `r` (image `r / channels`, channel `r % channels`) of activation `xs`.
    pub(super) fn row<'a>(&self, xs: &'a [f32], r: usize) -> &'a [f32] {
        &xs[r * self.plane..][..self.plane]
    }

    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// Per channel, the sums `rows(image, channel, lanes, out)` adds up, over the images.
    /// Threads take fixed blocks of images and read them front to back; each block's
    /// lanes are summed in f64 and the blocks added in order, so the result does not
    /// depend on the thread count. With `write`, also a new activation whose (image,
    /// channel) rows `rows` write (zeroed before); without, `out` is empty.
    fn channel_sums(
        &self,
        write: bool,
        rows: impl Fn(usize, usize, &mut Lanes, &mut [f32]) + Sync,
    ) -> (Vec<[f64; 2]>, Vec<f32>) {
        const IMAGES: usize = 8;
        let block_sums = |block: usize, out: &mut [f32]| {
            let mut lanes = vec![[[0.0; LANES]; 2]; self.channels];
            let mut out_rows = out.chunks_mut(self.plane.max(1));
            for n in block * IMAGES..((block + 1) * IMAGES).min(self.batch) {
                for (c, acc) in lanes.iter_mut().enumerate() {
                    rows(n, c, acc, out_rows.next().unwrap_or_default());
                }
            }
            let sum = |l: &[f32; LANES]| l.iter().map(|&v| v as f64).sum::<f64>();
            lanes
                .iter()
                .map(|[a, b]| [sum(a), sum(b)])
                .collect::<Vec<_>>()
        };
        let (out, blocks) = if write {
            let len = self.batch * self.channels * self.plane;
            let block_len = IMAGES * self.channels * self.plane;
            zeroed_chunks((len, block_len), || (), |_, b, out| block_sums(b, out))
        } else {
            let blocks = self.batch.div_ceil(IMAGES);
            let sums = (0..blocks).into_par_iter().map(|b| block_sums(b, &mut []));
            (vec![], sums.collect())
        };
        let zero = vec![[0.0; 2]; self.channels];
        let sums = blocks.into_iter().fold(zero, |mut total, block| {
            for (t, b) in total.iter_mut().zip(block) {
                *t = [t[0] + b[0], t[1] + b[1]];
            }
            total
        });
        (sums, out)
    }

    /// A new activation filled one (image, channel) row at a time on the threads:
    /// `f(row, channel)` gives the row's values.
    fn map_rows<I: Iterator<Item = f32>>(&self, f: impl Fn(usize, usize) -> I + Sync) -> Vec<f32> {
        let len = self.batch * self.channels * self.plane;
        filled(len, self.plane, |r| f(r, r % self.channels))
    }
}

type FlexTensor = FloatTensor<Flex>;

/// A per-channel vector's values (a few hundred floats: a copy is nothing).
fn channel_values(t: &FlexTensor) -> Vec<f32> {
    f32s(&contiguous(t)).to_vec()
}

fn channel_tensor(values: Vec<f32>) -> FlexTensor {
    let n = values.len();
    tensor(values, [n])
}

/// The residual's rows, or a row of zeros to add where there is none (one code path;
/// the zeros stay in L1).
struct Residual {
    tensor: Option<FlexTensor>,
    zeros: Vec<f32>,
    layout: Layout,
}

impl Residual {
    fn new(tensor: Option<&FlexTensor>, l: Layout) -> Self {
        let zeros = if tensor.is_some() {
            vec![]
        } else {
            vec![0.0; l.plane]
        };
        let tensor = tensor.map(contiguous);
        Residual {
            tensor,
            zeros,
            layout: l,
        }
    }

    fn present(&self) -> bool {
        self.tensor.is_some()
    }

    fn row(&self, r: usize) -> &[f32] {
        match &self.tensor {
            Some(t) => self.layout.row(f32s(t), r),
            None => &self.zeros,
        }
    }
}

impl NormOps for Flex {
    fn bn_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        forward(x, gamma, beta, None, epsilon, relu)
    }

    fn bn_add_relu_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        forward(x, gamma, beta, Some(residual), epsilon, true)
    }
}

/// Where a channel's mean lies: `offset` past `first`, the channel's first value. The
/// sums are taken of `x - first`, and `x - mean` is computed as `(x - first) -
/// offset`: both exact or nearly, where `x - mean` with the mean rounded to f32 is not
/// far from zero (the rounding alone moved gradients by 0.3% on inputs around 1000).
#[derive(Clone, Copy)]
struct Centre {
    first: f32,
    offset: f32,
}

impl Centre {
    #[inline(always)]
    fn of(self, x: f32) -> f32 {
        (x - self.first) - self.offset
    }
}

/// Batch norm's map of one channel, `(x - mean) * a + b`.
#[derive(Clone, Copy)]
struct Affine {
    centre: Centre,
    a: f32,
    b: f32,
}

impl Affine {
    fn new(centre: Centre, variance: f64, gamma: f32, beta: f32, epsilon: f64) -> Self {
        let a = gamma as f64 / (variance + epsilon).sqrt();
        Affine {
            centre,
            a: a as f32,
            b: beta,
        }
    }

    /// A map that is positive everywhere (finite inputs): the gate of no ReLU.
    const OPEN: Affine = Affine {
        centre: Centre {
            first: 0.0,
            offset: 0.0,
        },
        a: 0.0,
        b: f32::INFINITY,
    };

    #[inline(always)]
    fn at(self, x: f32) -> f32 {
        self.centre.of(x) * self.a + self.b
    }
}

/// Each channel's first value, `x[0, c, 0, 0]`.
fn firsts(xs: &[f32], l: Layout) -> Vec<f32> {
    (0..l.channels).map(|c| xs[c * l.plane]).collect()
}

/// `bn_train` (+ residual) on flex: one pass for the statistics, one for the output.
fn forward(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    residual: Option<FlexTensor>,
    epsilon: f64,
    relu: bool,
) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.shape();
    let l = Layout::of(&shape);
    let x = contiguous(&x);
    let xs = f32s(&x);
    let residual = Residual::new(residual.as_ref(), l);
    let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
    // Sums of x - k with k the channel's first value, near its mean: the f32 lanes
    // then lose nothing to the cancellation in E[x^2] - E[x]^2.
    let first = firsts(xs, l);
    let (sums, _) = l.channel_sums(false, |n, c, acc, _| {
        let (r, k) = (l.row(xs, n * l.channels + c), first[c]);
        add_lanes(r, r, acc, |v, _| [v - k, (v - k) * (v - k)])
    });
    let mut mean = Vec::with_capacity(l.channels);
    let mut variance = Vec::with_capacity(l.channels);
    let mut offset = Vec::with_capacity(l.channels);
    let mut affine = Vec::with_capacity(l.channels);
    for (c, [s, s2]) in sums.into_iter().enumerate() {
        let d = s / l.count();
        let var = (s2 / l.count() - d * d).max(0.0);
        mean.push((first[c] as f64 + d) as f32);
        variance.push(var as f32);
        offset.push(d as f32);
        let centre = Centre {
            first: first[c],
            offset: d as f32,
        };
        affine.push(Affine::new(centre, var, gamma[c], beta[c], epsilon));
    }
    let y = l.map_rows(|r, c| {
        let f = affine[c];
        let x_row = l.row(xs, r).iter();
        x_row.zip(residual.row(r)).map(move |(&v, &res)| {
            let t = f.at(v) + res;
            if relu {
                t.max(0.0)
            } else {
                t
            }
        })
    });
    (
        tensor(y, shape),
        channel_tensor(mean),
        channel_tensor(variance),
        channel_tensor(offset),
    )
}

impl NormGrads for Flex {
    fn bn_train_grads(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: Option<FlexTensor>,
        offset: FlexTensor,
        variance: FlexTensor,
        grad: FlexTensor,
        shape: NormShape,
    ) -> (FlexTensor, FlexTensor, FlexTensor, Option<FlexTensor>) {
        let x_shape = x.shape();
        let l = Layout::of(&x_shape);
        let (x, grad) = (contiguous(&x), contiguous(&grad));
        let (xs, dy) = (f32s(&x), f32s(&grad));
        let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
        let (offset, variance) = (channel_values(&offset), channel_values(&variance));
        let centres: Vec<Centre> = (firsts(xs, l).into_iter().zip(offset))
            .map(|(first, offset)| Centre { first, offset })
            .collect();
        let inv_std: Vec<f64> = variance
            .iter()
            .map(|&v| 1.0 / (v as f64 + shape.epsilon).sqrt())
            .collect();
        // The ReLU passes the gradient where its input (the batch norm's output, plus
        // the residual) was positive; without one, an open gate passes everything.
        // Branch-free, so the loops vectorise.
        let gates: Vec<Affine> = (0..l.channels)
            .map(|c| {
                let (v, e) = (variance[c] as f64, shape.epsilon);
                match shape.relu {
                    true => Affine::new(centres[c], v, gamma[c], beta[c], e),
                    false => Affine::OPEN,
                }
            })
            .collect();
        // Sums of g and g * (x - mean), g the gradient the ReLU passes. With a residual,
        // g is also the residual's gradient: written out here, and read back (instead
        // of recomputing the gate) by the last pass.
        let residual = Residual::new(residual.as_ref(), l);
        let (sums, passed) = l.channel_sums(residual.present(), |n, c, acc, passed| {
            let at = n * l.channels + c;
            let (gate, centre) = (gates[c], centres[c]);
            let (x_row, dy_row) = (l.row(xs, at), l.row(dy, at));
            if !residual.present() {
                return add_lanes(x_row, dy_row, acc, |v, d| {
                    let g = if gate.at(v) > 0.0 { d } else { 0.0 };
                    [g, g * centre.of(v)]
                });
            }
            let res_row = residual.row(at);
            for (((g, &v), &d), &r) in passed.iter_mut().zip(x_row).zip(dy_row).zip(res_row) {
                *g = if gate.at(v) + r > 0.0 { d } else { 0.0 };
            }
            add_lanes(x_row, passed, acc, |v, g| [g, g * centre.of(v)])
        });
        let mut dgamma = Vec::with_capacity(l.channels);
        let mut dbeta = Vec::with_capacity(l.channels);
        // dx = a * (g - mean(g) - xhat * mean(g * xhat)), g the masked gradient,
        // written as a * g + k1 * (x - mean) + k0 per channel.
        let mut coef = Vec::with_capacity(l.channels);
        for (c, [s, s_centred]) in sums.into_iter().enumerate() {
            let is = inv_std[c];
            let g_xhat = s_centred * is;
            let a = gamma[c] as f64 * is;
            let k1 = -a * is * g_xhat / l.count();
            let k0 = -a * s / l.count();
            dgamma.push(g_xhat as f32);
            dbeta.push(s as f32);
            coef.push([a as f32, k1 as f32, k0 as f32]);
        }
        let dx = l.map_rows(|r, c| {
            let ([a, k1, k0], centre) = (coef[c], centres[c]);
            let (x_row, dy_row) = (l.row(xs, r), l.row(dy, r));
            let passed_row = residual.present().then(|| l.row(&passed, r));
            // Either the passed gradient as is, or dy gated here.
            let (g_row, gate) = match passed_row {
                Some(p) => (p, Affine::OPEN),
                None => (dy_row, gates[c]),
            };
            x_row.iter().zip(g_row).map(move |(&v, &d)| {
                let g = if gate.at(v) > 0.0 { d } else { 0.0 };
                a * g + k1 * centre.of(v) + k0
            })
        });
        let dr = residual.present().then(|| tensor(passed, x_shape.clone()));
        (
            tensor(dx, x_shape),
            channel_tensor(dgamma),
            channel_tensor(dbeta),
            dr,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    /// What follows the batch norm.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Tail {
        Nothing,
        Relu,
        /// A residual added, then the ReLU.
        AddRelu,
    }

    /// Ours against Burn's `BatchNorm` (+ residual) (+ `relu`) on flex: output, the
    /// gradients (the residual's too) and the running statistics after one step, on an
    /// input drawn around `mean`. Burn gets the input minus `mean` (batch norm does not
    /// see the shift, but for the running mean): in f32 its own results lose too much
    /// far from zero to be the reference. The input is on a grid of 1/64, so adding
    /// `mean` (an integer) is exact.
    fn check(shape: [usize; 4], mean: f64, tail: Tail) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.5, 2.0);
        let centred = Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), &device);
        let centred = centred.mul_scalar(64.0).round().div_scalar(64.0);
        let shortcut = Tensor::<4>::random(shape, normal, &device);
        let upstream = Tensor::<4>::random(shape, normal, &device);
        let gamma = Tensor::<1>::random([shape[1]], normal, &device);
        let beta = Tensor::<1>::random([shape[1]], normal, &device);
        let run = |ours: bool| {
            // A fresh layer per run: clones share their running statistics.
            let mut bn = BatchNormConfig::new(shape[1]).init(&device);
            bn.gamma = bn.gamma.map(|_| gamma.clone().require_grad());
            bn.beta = bn.beta.map(|_| beta.clone().require_grad());
            let x = if ours {
                centred.clone().add_scalar(mean)
            } else {
                centred.clone()
            };
            let (x, shortcut) = (x.require_grad(), shortcut.clone().require_grad());
            let y = match (ours, tail) {
                (true, Tail::AddRelu) => batch_norm_add_relu(&bn, x.clone(), shortcut.clone()),
                (true, _) => batch_norm(&bn, x.clone(), tail == Tail::Relu),
                (false, Tail::Nothing) => bn.forward(x.clone()),
                (false, Tail::Relu) => activation::relu(bn.forward(x.clone())),
                (false, Tail::AddRelu) => {
                    activation::relu(bn.forward(x.clone()) + shortcut.clone())
                }
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            let flat = |t: Tensor<1>| t.into_data();
            let shortcut_grad = match tail {
                Tail::AddRelu => shortcut.grad(&grads).unwrap().into_data(),
                _ => TensorData::from([0.0f32]),
            };
            [
                y.inner().into_data(),
                x.grad(&grads).unwrap().into_data(),
                flat(bn.gamma.grad(&grads).unwrap()),
                flat(bn.beta.grad(&grads).unwrap()),
                // Ours saw the input shifted by `mean`.
                flat(bn.running_mean.value_sync().inner().sub_scalar(match ours {
                    true => bn.momentum * mean,
                    false => 0.0,
                })),
                flat(bn.running_var.value_sync().inner()),
                shortcut_grad,
            ]
        };
        let (ours, burn) = (run(true), run(false));
        let names = [
            "output",
            "input gradient",
            "gamma gradient",
            "beta gradient",
            "running mean",
            "running var",
            "residual gradient",
        ];
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
            let worst = crate::train::worst_relative_error(a, b);
            assert!(
                worst < 1e-3,
                "{what}: relative error {worst} for {shape:?}, {tail:?}"
            );
        }
    }

    #[test]
    fn batch_norm_matches_burn_with_and_without_relu_and_residual() {
        use Tail::*;
        check([4, 3, 5, 5], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, Relu);
        check([3, 5, 6, 7], 0.5, Relu);
        check([2, 4, 1, 1], 0.5, Nothing);
        check([4, 3, 5, 5], 0.5, AddRelu);
        check([2, 4, 1, 1], 0.5, AddRelu);
        // Several blocks of images, rows longer than the lanes, a mean far from zero
        // (the sums must not cancel).
        check([19, 6, 4, 5], 1000.0, Relu);
        check([17, 3, 6, 6], -1000.0, Nothing);
        check([18, 5, 7, 5], 0.5, AddRelu);
    }
}
