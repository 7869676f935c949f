//! Batch norm's kernels on flex: one pass over the activation for the statistics and
//! one for the output, forward and backward, the residual and the ReLU folded in; in
//! inference, the output's pass alone.

use burn::backend::{Flex, TensorMetadata};
use rayon::prelude::*;

use super::{BnInputs, BnOutput, BnRunning, BnStats, NormOps, NormShape};
use crate::train::cpu::{self, contiguous, f32s, tensor, zeroed_chunks, FlexTensor, Layout};

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

/// Per channel, the sums `rows(image, channel, lanes, out)` adds up, over the images.
/// Threads take fixed blocks of images and read them front to back; each block's
/// lanes are summed in f64 and the blocks added in order, so the result does not
/// depend on the thread count. With `write`, also a new activation whose (image,
/// channel) rows `rows` write (zeroed before); without, `out` is empty.
fn channel_sums(
    l: Layout,
    write: bool,
    rows: impl Fn(usize, usize, &mut Lanes, &mut [f32]) + Sync,
) -> (Vec<[f64; 2]>, Vec<f32>) {
    const IMAGES: usize = 8;
    let block_sums = |block: usize, out: &mut [f32]| {
        let mut lanes = vec![[[0.0; LANES]; 2]; l.channels];
        let mut out_rows = out.chunks_mut(l.plane.max(1));
        for n in block * IMAGES..((block + 1) * IMAGES).min(l.batch) {
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
        let len = l.batch * l.channels * l.plane;
        let block_len = IMAGES * l.channels * l.plane;
        zeroed_chunks((len, block_len), || (), |_, b, out| block_sums(b, out))
    } else {
        let blocks = l.batch.div_ceil(IMAGES);
        let sums = (0..blocks).into_par_iter().map(|b| block_sums(b, &mut []));
        (vec![], sums.collect())
    };
    let zero = vec![[0.0; 2]; l.channels];
    let sums = blocks.into_iter().fold(zero, |mut total, block| {
        for (t, b) in total.iter_mut().zip(block) {
            *t = [t[0] + b[0], t[1] + b[1]];
        }
        total
    });
    (sums, out)
}

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
    ) -> BnOutput<Flex> {
        let inputs = BnInputs {
            x,
            gamma,
            beta,
            residual: None,
        };
        forward(inputs, NormShape { epsilon, relu })
    }

    fn bn_add_relu_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        epsilon: f64,
    ) -> BnOutput<Flex> {
        let inputs = BnInputs {
            x,
            gamma,
            beta,
            residual: Some(residual),
        };
        forward(
            inputs,
            NormShape {
                epsilon,
                relu: true,
            },
        )
    }

    fn bn_infer(x: FlexTensor, params: BnRunning<Flex>, epsilon: f64, relu: bool) -> FlexTensor {
        infer(x, params, None, NormShape { epsilon, relu })
    }

    fn bn_add_relu_infer(
        x: FlexTensor,
        params: BnRunning<Flex>,
        residual: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        let shape = NormShape {
            epsilon,
            relu: true,
        };
        infer(x, params, Some(residual), shape)
    }

    fn bn_train_grads(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        offset: FlexTensor,
        variance: FlexTensor,
        grad: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let inputs = BnInputs {
            x,
            gamma,
            beta,
            residual: None,
        };
        let stats = BnStats { offset, variance };
        let d = backward(inputs, stats, grad, NormShape { epsilon, relu });
        (d.x, d.gamma, d.beta)
    }

    fn bn_add_relu_train_grads(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        offset: FlexTensor,
        variance: FlexTensor,
        grad: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let inputs = BnInputs {
            x,
            gamma,
            beta,
            residual: Some(residual),
        };
        let stats = BnStats { offset, variance };
        let shape = NormShape {
            epsilon,
            relu: true,
        };
        let d = backward(inputs, stats, grad, shape);
        let dr = d.residual.expect("a residual's gradient comes with it");
        (d.x, d.gamma, d.beta, dr)
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

/// `bn_train` on flex: one pass for the statistics, one for the output.
fn forward(inputs: BnInputs<Flex>, shape: NormShape) -> BnOutput<Flex> {
    let BnInputs {
        x,
        gamma,
        beta,
        residual,
    } = inputs;
    let NormShape { epsilon, relu } = shape;
    let x_shape = x.shape();
    let l = Layout::of(&x_shape);
    let x = contiguous(&x);
    let xs = f32s(&x);
    let residual = Residual::new(residual.as_ref(), l);
    let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
    // Sums of x - k with k the channel's first value, near its mean: the f32 lanes
    // then lose nothing to the cancellation in E[x^2] - E[x]^2.
    let first = firsts(xs, l);
    let (sums, _) = channel_sums(l, false, |n, c, acc, _| {
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
    BnOutput {
        y: tensor(output(xs, l, &affine, &residual, relu), x_shape),
        mean: channel_tensor(mean),
        variance: channel_tensor(variance),
        offset: channel_tensor(offset),
    }
}

/// Each channel's map applied to `xs`, plus the residual, then the ReLU when `relu`.
fn output(xs: &[f32], l: Layout, affine: &[Affine], residual: &Residual, relu: bool) -> Vec<f32> {
    l.map_rows(|r, c| {
        let f = affine[c];
        let x_row = l.row(xs, r).iter();
        x_row.zip(residual.row(r)).map(move |(&v, &res)| {
            let t = f.at(v) + res;
            if relu {
                cpu::relu(t)
            } else {
                t
            }
        })
    })
}

/// `bn_infer` on flex: the running statistics' map, in one pass.
fn infer(
    x: FlexTensor,
    params: BnRunning<Flex>,
    residual: Option<FlexTensor>,
    shape: NormShape,
) -> FlexTensor {
    let x_shape = x.shape();
    let l = Layout::of(&x_shape);
    let x = contiguous(&x);
    let residual = Residual::new(residual.as_ref(), l);
    let BnRunning {
        gamma,
        beta,
        mean,
        variance,
    } = params;
    let [gamma, beta, mean, variance] = [gamma, beta, mean, variance].map(|t| channel_values(&t));
    let affine: Vec<Affine> = (0..l.channels)
        .map(|c| {
            let centre = Centre {
                first: mean[c],
                offset: 0.0,
            };
            let var = variance[c] as f64;
            Affine::new(centre, var, gamma[c], beta[c], shape.epsilon)
        })
        .collect();
    tensor(output(f32s(&x), l, &affine, &residual, shape.relu), x_shape)
}

/// The gradients of `bn_train` on flex: one pass for the sums, one for the input's
/// gradient (with a residual, the first also writes the gradient the ReLU passes).
fn backward(
    inputs: BnInputs<Flex>,
    stats: BnStats<Flex>,
    grad: FlexTensor,
    shape: NormShape,
) -> BnInputs<Flex> {
    let BnInputs {
        x,
        gamma,
        beta,
        residual,
    } = inputs;
    let BnStats { offset, variance } = stats;
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
    let (sums, passed) = channel_sums(l, residual.present(), |n, c, acc, passed| {
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
    BnInputs {
        x: tensor(dx, x_shape),
        gamma: channel_tensor(dgamma),
        beta: channel_tensor(dbeta),
        residual: dr,
    }
}
