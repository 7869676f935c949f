//! Squeeze-and-excitation's kernels on flex: pooling and scaling on the threads, the
//! two small layers as GEMMs.

use burn::backend::{Flex, TensorMetadata};

use super::{SeGradients, SeKept, SeOps, SeOutput, SeParams};
use crate::train::cpu::{self, contiguous, f32s, filled, gemm, tensor, FlexTensor, Layout, View};

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
    fn se_train(x: FlexTensor, params: SeParams<Flex>) -> SeOutput<Flex> {
        let SeParams { w1, b1, w2, b2 } = params;
        let (l, r) = sizes(&x, &w1);
        let [x, w1, b1, w2, b2] = [x, w1, b1, w2, b2].map(|t| contiguous(&t));
        let xs = f32s(&x);
        let pooled = filled(l.batch * l.channels, l.channels, |i| {
            (0..l.channels)
                .map(move |c| l.row(xs, i * l.channels + c).iter().sum::<f32>() / l.plane as f32)
        });
        let mut hidden = layer(&pooled, (l.batch, l.channels), f32s(&w1), f32s(&b1));
        hidden.iter_mut().for_each(|h| *h = cpu::relu(*h));
        let mut gate = layer(&hidden, (l.batch, r), f32s(&w2), f32s(&b2));
        gate.iter_mut().for_each(|g| *g = 1.0 / (1.0 + (-*g).exp()));
        let y = filled(xs.len(), l.plane, |i| {
            let g = gate[i];
            l.row(xs, i).iter().map(move |&v| v * g)
        });
        // Kept as one tensor, the gate then the hidden layer (`SeKept`).
        let mut gate_hidden = gate;
        gate_hidden.extend_from_slice(&hidden);
        let len = gate_hidden.len();
        SeOutput {
            y: tensor(y, x.shape()),
            kept: SeKept {
                pooled: tensor(pooled, [l.batch, l.channels]),
                gate_hidden: tensor(gate_hidden, [len]),
            },
        }
    }

    fn se_train_grads(
        x: FlexTensor,
        w1: FlexTensor,
        w2: FlexTensor,
        kept: SeKept<Flex>,
        grad: FlexTensor,
    ) -> SeGradients<Flex> {
        let SeKept {
            pooled,
            gate_hidden,
        } = kept;
        let (l, r) = sizes(&x, &w1);
        let [x, w1, w2, pooled, gate_hidden, grad] =
            [x, w1, w2, pooled, gate_hidden, grad].map(|t| contiguous(&t));
        let (xs, dy, p) = (f32s(&x), f32s(&grad), f32s(&pooled));
        let (g, h) = f32s(&gate_hidden).split_at(l.batch * l.channels);
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
        SeGradients {
            x: tensor(dx, x.shape()),
            params: SeParams {
                w1: tensor(dw1, w1.shape()),
                b1: tensor(db1, [r]),
                w2: tensor(dw2, w2.shape()),
                b2: tensor(db2, [l.channels]),
            },
        }
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
