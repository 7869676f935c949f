//! The RegNet as a Burn module, built from the core's `NetSpec`, the same block
//! specs the complexity count reads, so the two cannot disagree. One code path
//! for every backend: the device picks it.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use super::conv::same_conv;
use super::norm::{batch_norm, batch_norm_add_relu};
use super::se::squeeze_excite;
use crate::design::{BlockSpec, NetSpec};

/// pycls's conv init: normal(0, sqrt(2 / fan_out)), fan_out = k * k * out_channels
/// (not divided by groups).
fn conv(
    w_in: usize,
    w_out: usize,
    k: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    let std = (2.0 / (k * k * w_out) as f64).sqrt();
    Conv2dConfig::new([w_in, w_out], [k, k])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Explicit(
            (k - 1) / 2,
            (k - 1) / 2,
            (k - 1) / 2,
            (k - 1) / 2,
        ))
        .with_bias(bias)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

/// A conv followed by batch norm (no bias: BN has the shift) and, where the block has
/// one, the ReLU. The `Conv2d` and `BatchNorm` hold the parameters and shapes; `forward`
/// runs our own kernels on them (see `conv` and `norm`).
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    fn new(
        w_in: usize,
        w_out: usize,
        k: usize,
        stride: usize,
        groups: usize,
        device: &Device,
    ) -> Self {
        ConvBn {
            conv: conv(w_in, w_out, k, stride, groups, false, device),
            bn: BatchNormConfig::new(w_out).init(device),
        }
    }

    /// Sets the BN scale to zero, so the residual branch starts as nothing.
    fn zero_gamma(mut self) -> Self {
        self.bn.gamma = self.bn.gamma.map(|g| g.zeros_like());
        self
    }

    fn conv(&self, x: Tensor<4>) -> Tensor<4> {
        let c = &self.conv;
        same_conv(x, c.weight.val(), c.stride[0], c.groups)
    }

    fn forward(&self, x: Tensor<4>, relu: bool) -> Tensor<4> {
        batch_norm(&self.bn, self.conv(x), relu)
    }

    /// `relu(shortcut + self.forward(x, false))`: the end of a residual block.
    fn forward_add_relu(&self, x: Tensor<4>, shortcut: Tensor<4>) -> Tensor<4> {
        batch_norm_add_relu(&self.bn, self.conv(x), shortcut)
    }

    /// Elements of BN's running mean and variance: state, not trained parameters.
    fn running_stats(&self) -> usize {
        2 * self.bn.gamma.shape().dims::<1>()[0]
    }
}

/// Squeeze-and-excitation: global pool, 1x1 conv + ReLU, 1x1 conv + sigmoid, scale.
#[derive(Module, Debug)]
pub struct Se {
    reduce: Conv2d,
    expand: Conv2d,
}

impl Se {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        squeeze_excite(x, &self.reduce, &self.expand)
    }
}

/// pycls `ResBottleneckBlock`: 1x1, 3x3 group conv (strided), [SE], 1x1, plus shortcut.
#[derive(Module, Debug)]
pub struct Block {
    a: ConvBn,
    b: ConvBn,
    se: Option<Se>,
    c: ConvBn,
    proj: Option<ConvBn>,
}

impl Block {
    fn new(s: &BlockSpec, zero_final_gamma: bool, device: &Device) -> Self {
        let (w_in, w_out, w_b, w_se) = (
            s.w_in as usize,
            s.w_out as usize,
            s.w_b as usize,
            s.w_se as usize,
        );
        let stride = s.stride as usize;
        let c = ConvBn::new(w_b, w_out, 1, 1, 1, device);
        Block {
            a: ConvBn::new(w_in, w_b, 1, 1, 1, device),
            b: ConvBn::new(w_b, w_b, 3, stride, s.groups as usize, device),
            se: (w_se > 0).then(|| Se {
                reduce: conv(w_b, w_se, 1, 1, 1, true, device),
                expand: conv(w_se, w_b, 1, 1, 1, true, device),
            }),
            c: if zero_final_gamma { c.zero_gamma() } else { c },
            proj: s
                .has_proj()
                .then(|| ConvBn::new(w_in, w_out, 1, stride, 1, device)),
        }
    }

    fn running_stats(&self) -> usize {
        [&self.a, &self.b, &self.c]
            .iter()
            .map(|cb| cb.running_stats())
            .sum::<usize>()
            + self.proj.as_ref().map_or(0, ConvBn::running_stats)
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.proj {
            Some(p) => p.forward(x.clone(), false),
            None => x.clone(),
        };
        let f = self.a.forward(x, true);
        let f = self.b.forward(f, true);
        let f = match &self.se {
            Some(se) => se.forward(f),
            None => f,
        };
        self.c.forward_add_relu(f, shortcut)
    }
}

/// A whole RegNet: stem, blocks, average pool and a linear classifier.
#[derive(Module, Debug)]
pub struct RegNet {
    stem: ConvBn,
    blocks: Vec<Block>,
    fc: Linear,
}

impl RegNet {
    /// Builds the network `spec` describes, initialised as pycls does; with
    /// `zero_final_gamma` the last BN of every residual branch starts at zero.
    pub fn new(spec: &NetSpec, zero_final_gamma: bool, device: &Device) -> Self {
        let stem = ConvBn::new(
            3,
            spec.stem.w_out as usize,
            3,
            spec.stem.stride as usize,
            1,
            device,
        );
        let blocks = spec
            .stages
            .iter()
            .flatten()
            .map(|b| Block::new(b, zero_final_gamma, device))
            .collect();
        let mut fc = LinearConfig::new(spec.head_width() as usize, spec.num_classes as usize)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.01,
            })
            .init(device);
        fc.bias = fc.bias.map(|b| b.map(|t| t.zeros_like()));
        RegNet { stem, blocks, fc }
    }

    /// Trained parameters, as pycls counts them. Burn's `num_params` also counts BN
    /// running statistics (they are visited like parameters), pycls does not.
    pub fn trainable_params(&self) -> usize {
        self.num_params()
            - self.stem.running_stats()
            - self.blocks.iter().map(Block::running_stats).sum::<usize>()
    }

    /// `[batch, 3, h, w]` images to `[batch, classes]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.stem.forward(images, true);
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        let [n, c, _, _] = x.dims();
        self.fc.forward(x.mean_dim(2).mean_dim(3).reshape([n, c]))
    }
}
