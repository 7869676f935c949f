//! Batch norm in training mode, with the ReLU that follows most of them, fast on the CPU.
//!
//! Burn builds a training batch norm's statistics and gradients out of generic tensor
//! operations: each reduction first copies the activation with batch and channel axes
//! swapped, and forward plus backward read it about fifteen times. On flex, this one
//! reads it twice each way, and folds the ReLU into the same passes (backward recomputes
//! its mask from the input, so nothing more is kept). Every other backend, and
//! inference, run Burn's own `BatchNorm` and `relu`.

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

use super::conv::{contiguous, f32s, filled, on_flex, tensor};

/// `bn` applied to `x`, then a ReLU when `relu`: what `relu(bn.forward(x))` computes,
/// running statistics included.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let device = x.device();
    if !(device.is_autodiff() && bn.training.is_enabled() && on_flex(&device)) {
        let y = bn.forward(x);
        return if relu { activation::relu(y) } else { y };
    }
    let (y, mean, variance) = <Dispatch as NormOps>::bn_train(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
        relu,
    );
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

/// Training batch norm (+ ReLU) as a backend operation: returns the output and the
/// batch's mean and biased variance per channel. Its gradients are `NormGrads`.
#[backend_extension(Flex, Autodiff)]
pub trait NormOps: Backend {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// What the backward pass of one `bn_train` call keeps besides the input.
#[derive(Clone, Copy, Debug)]
pub struct NormShape {
    pub epsilon: f64,
    pub relu: bool,
}

/// The gradients of `bn_train` for the input, gamma and beta.
pub trait NormGrads: Backend {
    #[allow(clippy::too_many_arguments)]
    fn bn_train_grads(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        shape: NormShape,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl<B: NormOps + NormGrads, C: CheckpointStrategy> NormOps for Autodiff<B, C> {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        #[derive(Debug)]
        struct NormBackward;

        type Kept<B> = ([NodeId; 3], FloatTensor<B>, FloatTensor<B>, NormShape);

        impl<B: NormOps + NormGrads> Backward<B, 3> for NormBackward {
            /// The input, gamma and beta (checkpointed), the batch statistics.
            type State = Kept<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let ([x, gamma, beta], mean, variance, shape) = ops.state;
                let [x, gamma, beta] =
                    [x, gamma, beta].map(|n| checkpointer.retrieve_node_output(n));
                let (dx, dgamma, dbeta) =
                    B::bn_train_grads(x, gamma, beta, mean, variance, grad, shape);
                for (node, g) in ops.parents.into_iter().zip([dx, dgamma, dbeta]) {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, g);
                    }
                }
            }
        }

        let shape = NormShape { epsilon, relu };
        let prepared = NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let untracked = FloatTensor::<Self>::new;
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let kept = [&x, &gamma, &beta].map(|t| prep.checkpoint(t));
                let (y, mean, variance) = B::bn_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    relu,
                );
                let state = (kept, mean.clone(), variance.clone(), shape);
                (prep.finish(state, y), untracked(mean), untracked(variance))
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, variance) = B::bn_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    relu,
                );
                (prep.finish(y), untracked(mean), untracked(variance))
            }
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
struct Layout {
    batch: usize,
    channels: usize,
    plane: usize,
}

impl Layout {
    fn of(shape: &burn::tensor::Shape) -> Self {
        Layout {
            batch: shape[0],
            channels: shape[1],
            plane: shape.num_elements() / (shape[0] * shape[1]).max(1),
        }
    }

    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// Per channel, the sums `rows(image, channel, lanes)` adds up, over the images.
    /// Threads take fixed blocks of images and read them front to back; each block's
    /// lanes are summed in f64 and the blocks added in order, so the result does not
    /// depend on the thread count.
    fn channel_sums(&self, rows: impl Fn(usize, usize, &mut Lanes) + Sync) -> Vec<[f64; 2]> {
        const IMAGES: usize = 8;
        let blocks: Vec<Vec<[f64; 2]>> = (0..self.batch.div_ceil(IMAGES))
            .into_par_iter()
            .map(|block| {
                let mut lanes = vec![[[0.0; LANES]; 2]; self.channels];
                for n in block * IMAGES..((block + 1) * IMAGES).min(self.batch) {
                    for (c, acc) in lanes.iter_mut().enumerate() {
                        rows(n, c, acc);
                    }
                }
                let sum = |l: &[f32; LANES]| l.iter().map(|&v| v as f64).sum::<f64>();
                lanes.iter().map(|[a, b]| [sum(a), sum(b)]).collect()
            })
            .collect();
        let zero = vec![[0.0; 2]; self.channels];
        blocks.into_iter().fold(zero, |mut total, block| {
            for (t, b) in total.iter_mut().zip(block) {
                *t = [t[0] + b[0], t[1] + b[1]];
            }
            total
        })
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

impl NormOps for Flex {
    fn bn_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape();
        let l = Layout::of(&shape);
        let x = contiguous(&x);
        let xs = f32s(&x);
        let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
        let row = |n: usize, c: usize| &xs[(n * l.channels + c) * l.plane..][..l.plane];
        // Sums of x - k with k one of the channel's values, near its mean: the f32
        // lanes then lose nothing to the cancellation in E[x^2] - E[x]^2.
        let shift: Vec<f32> = (0..l.channels).map(|c| row(0, c)[0]).collect();
        let sums = l.channel_sums(|n, c, acc| {
            let (r, k) = (row(n, c), shift[c]);
            add_lanes(r, r, acc, |v, _| [v - k, (v - k) * (v - k)])
        });
        let mut mean = Vec::with_capacity(l.channels);
        let mut variance = Vec::with_capacity(l.channels);
        let mut affine = Vec::with_capacity(l.channels);
        for (c, [s, s2]) in sums.into_iter().enumerate() {
            let d = s / l.count();
            let (m, var) = (shift[c] as f64 + d, (s2 / l.count() - d * d).max(0.0));
            let a = gamma[c] as f64 / (var + epsilon).sqrt();
            mean.push(m as f32);
            variance.push(var as f32);
            affine.push([a as f32, (beta[c] as f64 - m * a) as f32]);
        }
        let y = l.map_rows(|r, c| {
            let [a, b] = affine[c];
            xs[r * l.plane..][..l.plane].iter().map(move |&v| {
                let t = v * a + b;
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
        )
    }
}

impl NormGrads for Flex {
    fn bn_train_grads(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        grad: FlexTensor,
        shape: NormShape,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let x_shape = x.shape();
        let l = Layout::of(&x_shape);
        let (x, grad) = (contiguous(&x), contiguous(&grad));
        let (xs, dy) = (f32s(&x), f32s(&grad));
        let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
        let (mean, variance) = (channel_values(&mean), channel_values(&variance));
        let inv_std: Vec<f64> = variance
            .iter()
            .map(|&v| 1.0 / (v as f64 + shape.epsilon).sqrt())
            .collect();
        // The ReLU passes the gradient where its input `x * a + b` was positive; without
        // one, a gate (0, 1) passes everything. Branch-free, so the loops vectorise.
        let gates: Vec<[f32; 2]> = (0..l.channels)
            .map(|c| {
                let a = gamma[c] as f64 * inv_std[c];
                let b = beta[c] as f64 - mean[c] as f64 * a;
                if shape.relu {
                    [a as f32, b as f32]
                } else {
                    [0.0, 1.0]
                }
            })
            .collect();
        // Sums of g and g * (x - mean), g the gradient the ReLU passes.
        let rows = |n: usize, c: usize, acc: &mut Lanes| {
            let at = (n * l.channels + c) * l.plane;
            let ([ga, gb], m) = (gates[c], mean[c]);
            add_lanes(&xs[at..][..l.plane], &dy[at..][..l.plane], acc, |v, d| {
                let g = if v * ga + gb > 0.0 { d } else { 0.0 };
                [g, g * (v - m)]
            })
        };
        let sums = l.channel_sums(rows);
        let mut dgamma = Vec::with_capacity(l.channels);
        let mut dbeta = Vec::with_capacity(l.channels);
        // dx = a * (g - mean(g) - xhat * mean(g * xhat)), g the masked gradient,
        // written as a * g + k1 * x + k0 per channel.
        let mut coef = Vec::with_capacity(l.channels);
        for (c, [s, s_centred]) in sums.into_iter().enumerate() {
            let (m, is) = (mean[c] as f64, inv_std[c]);
            let g_xhat = s_centred * is;
            let a = gamma[c] as f64 * is;
            let k1 = -a * is * g_xhat / l.count();
            let k0 = -a * s / l.count() - k1 * m;
            dgamma.push(g_xhat as f32);
            dbeta.push(s as f32);
            coef.push([a as f32, k1 as f32, k0 as f32]);
        }
        let dx = l.map_rows(|r, c| {
            let ([a, k1, k0], [ga, gb]) = (coef[c], gates[c]);
            let at = r * l.plane;
            let (x_row, dy_row) = (&xs[at..][..l.plane], &dy[at..][..l.plane]);
            x_row.iter().zip(dy_row).map(move |(&v, &d)| {
                let g = if v * ga + gb > 0.0 { d } else { 0.0 };
                a * g + k1 * v + k0
            })
        });
        (
            tensor(dx, x_shape),
            channel_tensor(dgamma),
            channel_tensor(dbeta),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    /// Ours against Burn's `BatchNorm` (+ `relu`) on flex: output, the three
    /// gradients and the running statistics after one step, on an input drawn around
    /// `mean`.
    fn check(shape: [usize; 4], mean: f64, relu: bool) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.5, 2.0);
        let x = Tensor::<4>::random(shape, Distribution::Normal(mean, 2.0), &device);
        let upstream = Tensor::<4>::random(shape, normal, &device);
        let gamma = Tensor::<1>::random([shape[1]], normal, &device);
        let beta = Tensor::<1>::random([shape[1]], normal, &device);
        let run = |ours: bool| {
            // A fresh layer per run: clones share their running statistics.
            let mut bn = BatchNormConfig::new(shape[1]).init(&device);
            bn.gamma = bn.gamma.map(|_| gamma.clone().require_grad());
            bn.beta = bn.beta.map(|_| beta.clone().require_grad());
            let x = x.clone().require_grad();
            let y = if ours {
                batch_norm(&bn, x.clone(), relu)
            } else {
                let y = bn.forward(x.clone());
                if relu {
                    activation::relu(y)
                } else {
                    y
                }
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            let flat = |t: Tensor<1>| t.into_data();
            [
                y.inner().into_data(),
                x.grad(&grads).unwrap().into_data(),
                flat(bn.gamma.grad(&grads).unwrap()),
                flat(bn.beta.grad(&grads).unwrap()),
                flat(bn.running_mean.value().inner()),
                flat(bn.running_var.value().inner()),
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
        ];
        for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
            let worst = crate::train::worst_relative_error(a, b);
            assert!(
                worst < 1e-3,
                "{what}: relative error {worst} for {shape:?}, relu {relu}"
            );
        }
    }

    #[test]
    fn batch_norm_matches_burn_with_and_without_relu() {
        check([4, 3, 5, 5], 0.5, false);
        check([4, 3, 5, 5], 0.5, true);
        check([3, 5, 6, 7], 0.5, true);
        check([2, 4, 1, 1], 0.5, false);
        // Several blocks of images, rows longer than the lanes, a mean far from zero
        // (the sums must not cancel).
        check([19, 6, 4, 5], 1000.0, true);
        check([17, 3, 6, 6], -1000.0, false);
    }
}
