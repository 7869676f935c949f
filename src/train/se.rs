//! Squeeze-and-excitation in training, fast on the CPU.
//!
//! Burn builds SE from generic tensor operations (a pooling, a broadcast product and
//! their gradients, which add into the input's gradient), and on flex those run on one
//! thread: ~6% of a RegNetY step in a profile, with the other core idle. On flex, this
//! op reads the activation once to pool and once to scale, forward and backward, on the
//! threads, and runs the two small layers in between as GEMMs. Every other backend, and
//! inference, run Burn's operations.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex, TensorMetadata};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use super::conv::{contiguous, f32s, filled, gemm, on_flex, tensor, View};
use super::norm::Layout;

/// pycls's SE on `x`: `x * sigmoid(expand(relu(reduce(mean of each channel))))`, with
/// `reduce` and `expand` 1x1 convolutions (with biases, as pycls's, for the fast path).
pub fn squeeze_excite(x: Tensor<4>, reduce: &Conv2d, expand: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let biases = reduce.bias.as_ref().zip(expand.bias.as_ref());
    let Some((b1, b2)) = biases.filter(|_| device.is_autodiff() && on_flex(&device)) else {
        let s = x.clone().mean_dim(2).mean_dim(3);
        let s = sigmoid(expand.forward(relu(reduce.forward(s))));
        return x * s;
    };
    let (y, ..) = <Dispatch as SeOps>::se_train(
        x.into_dispatch(),
        reduce.weight.val().into_dispatch(),
        b1.val().into_dispatch(),
        expand.weight.val().into_dispatch(),
        b2.val().into_dispatch(),
    );
    Tensor::from_dispatch(y)
}

/// SE in training as a backend operation, on x, the reduce layer's weight `[r, c, 1,
/// 1]` and bias, the expand layer's weight `[c, r, 1, 1]` and bias. Returns the output
/// and, for the backward pass (`SeGrads`), the pooled input `[n, c]`, the hidden layer
/// after its ReLU `[n, r]` and the gate `[n, c]`.
#[backend_extension(Flex, Autodiff)]
pub trait SeOps: Backend {
    fn se_train(
        x: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// The gradients of `se_train` for x, w1, b1, w2 and b2, from the input, the two
/// weights and what the forward pass kept.
pub trait SeGrads: Backend {
    #[allow(clippy::type_complexity)]
    fn se_train_grads(
        inputs: [FloatTensor<Self>; 3],
        kept: Kept<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> [FloatTensor<Self>; 5];
}

/// What the forward pass keeps for the backward one: pooled input, hidden layer, gate.
pub type Kept<T> = [T; 3];

/// What `se_train` returns: the output, the pooled input, the hidden layer, the gate.
type Outputs<T> = (T, T, T, T);

impl<B: SeOps + SeGrads, C: CheckpointStrategy> SeOps for Autodiff<B, C> {
    fn se_train(
        x: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
    ) -> Outputs<FloatTensor<Self>> {
        #[derive(Debug)]
        struct SeBackward;

        impl<B: SeOps + SeGrads> Backward<B, 5> for SeBackward {
            /// x, w1 and w2 (checkpointed), and what the forward pass kept.
            type State = ([NodeId; 3], Kept<FloatTensor<B>>);

            fn backward(
                self,
                ops: Ops<Self::State, 5>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let (inputs, kept) = ops.state;
                let inputs = inputs.map(|n| checkpointer.retrieve_node_output(n));
                let input_grads = B::se_train_grads(inputs, kept, grad);
                for (node, g) in ops.parents.into_iter().zip(input_grads) {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, g);
                    }
                }
            }
        }

        let inputs = [x, w1, b1, w2, b2];
        let prepared = SeBackward
            .prepare::<C>(inputs.each_ref().map(|t| t.node()))
            .compute_bound()
            .stateful();
        let untracked = FloatTensor::<Self>::new;
        let run = |[x, w1, b1, w2, b2]: [FloatTensor<Self>; 5]| {
            B::se_train(
                x.into_primitive(),
                w1.into_primitive(),
                b1.into_primitive(),
                w2.into_primitive(),
                b2.into_primitive(),
            )
        };
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let kept_inputs = [&inputs[0], &inputs[1], &inputs[3]].map(|t| prep.checkpoint(t));
                let (y, pooled, hidden, gate) = run(inputs);
                let kept = [pooled.clone(), hidden.clone(), gate.clone()];
                let y = prep.finish((kept_inputs, kept), y);
                (y, untracked(pooled), untracked(hidden), untracked(gate))
            }
            OpsKind::UnTracked(prep) => {
                let (y, pooled, hidden, gate) = run(inputs);
                let y = prep.finish(y);
                (y, untracked(pooled), untracked(hidden), untracked(gate))
            }
        }
    }
}

type FlexTensor = FloatTensor<Flex>;

/// The activation's layout and the hidden layer's width (`w1` is `[r, c, 1, 1]`).
fn sizes(x: &FlexTensor, w1: &FlexTensor) -> (Layout, usize) {
    (Layout::of(&x.shape()), w1.shape()[0])
}

/// `a . b`, in 8 partial sums so it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A layer on a batch: `input [rows, cols] * weight^T + bias`, `weight` `[bias.len(),
/// cols]`.
fn layer(input: &[f32], (rows, cols): (usize, usize), weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = (0..rows).flat_map(|_| bias.iter().copied()).collect();
    let (input, weight) = (
        View::rows(input, rows, cols),
        View::rows(weight, bias.len(), cols),
    );
    gemm(&mut out, input, weight.t(), true);
    out
}

impl SeOps for Flex {
    fn se_train(
        x: FlexTensor,
        w1: FlexTensor,
        b1: FlexTensor,
        w2: FlexTensor,
        b2: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let (l, r) = sizes(&x, &w1);
        let [x, w1, b1, w2, b2] = [x, w1, b1, w2, b2].map(|t| contiguous(&t));
        let xs = f32s(&x);
        let pooled = filled(l.batch * l.channels, l.channels, |i| {
            (0..l.channels)
                .map(move |c| l.row(xs, i * l.channels + c).iter().sum::<f32>() / l.plane as f32)
        });
        let mut hidden = layer(&pooled, (l.batch, l.channels), f32s(&w1), f32s(&b1));
        hidden.iter_mut().for_each(|h| *h = h.max(0.0));
        let mut gate = layer(&hidden, (l.batch, r), f32s(&w2), f32s(&b2));
        gate.iter_mut().for_each(|g| *g = 1.0 / (1.0 + (-*g).exp()));
        let y = filled(xs.len(), l.plane, |i| {
            let g = gate[i];
            l.row(xs, i).iter().map(move |&v| v * g)
        });
        (
            tensor(y, x.shape()),
            tensor(pooled, [l.batch, l.channels]),
            tensor(hidden, [l.batch, r]),
            tensor(gate, [l.batch, l.channels]),
        )
    }
}

impl SeGrads for Flex {
    fn se_train_grads(
        [x, w1, w2]: [FlexTensor; 3],
        [pooled, hidden, gate]: Kept<FlexTensor>,
        grad: FlexTensor,
    ) -> [FlexTensor; 5] {
        let (l, r) = sizes(&x, &w1);
        let [x, w1, w2, pooled, hidden, gate, grad] =
            [x, w1, w2, pooled, hidden, gate, grad].map(|t| contiguous(&t));
        let (xs, dy, g) = (f32s(&x), f32s(&grad), f32s(&gate));
        let (p, h) = (f32s(&pooled), f32s(&hidden));
        // Through the gate's product and sigmoid: dz = (dy . x) * g * (1 - g).
        let dz = filled(l.batch * l.channels, l.channels, |i| {
            (0..l.channels).map(move |c| {
                let row = i * l.channels + c;
                dot(l.row(dy, row), l.row(xs, row)) * g[row] * (1.0 - g[row])
            })
        });
        let dz_v = View::rows(&dz, l.batch, l.channels);
        let dw2 = product(dz_v.t(), View::rows(h, l.batch, r));
        let db2 = column_sums(&dz, l.channels);
        // Through the expand layer and the ReLU.
        let mut da = product(dz_v, View::rows(f32s(&w2), l.channels, r));
        da.iter_mut()
            .zip(h)
            .for_each(|(d, &h)| *d = if h > 0.0 { *d } else { 0.0 });
        let da_v = View::rows(&da, l.batch, r);
        let dw1 = product(da_v.t(), View::rows(p, l.batch, l.channels));
        let db1 = column_sums(&da, r);
        // Through the reduce layer and the pooling, plus the gate's product.
        let dp = product(da_v, View::rows(f32s(&w1), r, l.channels));
        let dx = filled(xs.len(), l.plane, |i| {
            let (gi, pi) = (g[i], dp[i] / l.plane as f32);
            l.row(dy, i).iter().map(move |&d| d * gi + pi)
        });
        [
            tensor(dx, x.shape()),
            tensor(dw1, w1.shape()),
            tensor(db1, [r]),
            tensor(dw2, w2.shape()),
            tensor(db2, [l.channels]),
        ]
    }
}

/// `lhs * rhs`, a new row-major matrix.
fn product(lhs: View, rhs: View) -> Vec<f32> {
    let mut out = vec![0.0; lhs.rows_len() * rhs.cols_len()];
    gemm(&mut out, lhs, rhs, false);
    out
}

/// Sums over the rows of a row-major matrix `cols` wide.
fn column_sums(m: &[f32], cols: usize) -> Vec<f32> {
    let mut sums = vec![0.0; cols];
    for row in m.chunks_exact(cols) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    /// Ours against Burn's operations on flex: output and every gradient.
    #[test]
    fn squeeze_excite_matches_burn() {
        let device = Device::flex().autodiff();
        for [n, c, h, w, r] in [[3, 6, 5, 4, 2], [2, 16, 8, 8, 4], [4, 10, 3, 3, 3]] {
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([n, c, h, w], normal, &device);
            let upstream = Tensor::<4>::random([n, c, h, w], normal, &device);
            let reduce = Conv2dConfig::new([c, r], [1, 1]).init(&device);
            let expand = Conv2dConfig::new([r, c], [1, 1]).init(&device);
            let run = |ours: bool| {
                let x = x.clone().require_grad();
                let y = if ours {
                    squeeze_excite(x.clone(), &reduce, &expand)
                } else {
                    let s = x.clone().mean_dim(2).mean_dim(3);
                    x.clone() * sigmoid(expand.forward(relu(reduce.forward(s))))
                };
                let grads = (y.clone() * upstream.clone()).sum().backward();
                let flat = |t: Tensor<4>| t.into_data();
                let bias = |t: Tensor<1>| t.into_data();
                [
                    y.inner().into_data(),
                    x.grad(&grads).unwrap().into_data(),
                    flat(reduce.weight.grad(&grads).unwrap()),
                    bias(reduce.bias.as_ref().unwrap().grad(&grads).unwrap()),
                    flat(expand.weight.grad(&grads).unwrap()),
                    bias(expand.bias.as_ref().unwrap().grad(&grads).unwrap()),
                ]
            };
            let (ours, burn) = (run(true), run(false));
            let names = [
                "output",
                "x",
                "reduce weight",
                "reduce bias",
                "expand weight",
                "expand bias",
            ];
            for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burn)) {
                let worst = crate::train::worst_relative_error(a, b);
                assert!(
                    worst < 1e-4,
                    "{what}: relative error {worst} for {n}x{c}x{h}x{w}, r {r}"
                );
            }
        }
    }
}
