//! The RegNet as a Burn module, built from the core's `NetSpec`, the same block
//! specs the complexity count reads, so the two cannot disagree. One code path
//! for every backend: the device picks it.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use super::ops::{batch_norm, batch_norm_add_relu, same_conv, squeeze_excite};
use crate::design::{BlockSpec, ConvSpec, NetSpec};

/// The conv `spec` describes, with pycls's init: normal(0, sqrt(2 / fan_out)),
/// fan_out = k * k * out_channels (not divided by groups).
fn conv(spec: &ConvSpec, device: &Device) -> Conv2d {
    let (k, w_out) = (spec.k as usize, spec.w_out as usize);
    let std = (2.0 / (k * k * w_out) as f64).sqrt();
    let pad = (k - 1) / 2;
    Conv2dConfig::new([spec.w_in as usize, w_out], [k, k])
        .with_stride([spec.stride as usize; 2])
        .with_groups(spec.groups as usize)
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(spec.bias)
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
    fn new(spec: &ConvSpec, device: &Device) -> Self {
        ConvBn {
            conv: conv(spec, device),
            bn: BatchNormConfig::new(spec.w_out as usize).init(device),
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
    /// The block's layers as `s.layers()` lists them (the list the complexity count
    /// reads too).
    fn new(s: &BlockSpec, zero_final_gamma: bool, device: &Device) -> Self {
        let layers = s.layers();
        let c = ConvBn::new(&layers.c, device);
        Block {
            a: ConvBn::new(&layers.a, device),
            b: ConvBn::new(&layers.b, device),
            se: layers.se.map(|se| Se {
                reduce: conv(&se.reduce, device),
                expand: conv(&se.expand, device),
            }),
            c: if zero_final_gamma { c.zero_gamma() } else { c },
            proj: layers.proj.map(|p| ConvBn::new(&p, device)),
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
        let stem = ConvBn::new(&spec.stem.conv(), device);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Complexity, Dataset, RegNetParams, StageSpec};

    /// A conv's spec read back from the built module: weight `[out, in / groups, k, k]`,
    /// stride, groups, bias; "same" padding checked.
    fn built(c: &Conv2d) -> ConvSpec {
        let [w_out, w_in_per_group, k, k2] = c.weight.shape().dims::<4>();
        assert_eq!(k, k2, "square kernel");
        let pad = (k - 1) / 2;
        assert_eq!(
            format!("{:?}", c.padding),
            format!("{:?}", PaddingConfig2d::Explicit(pad, pad, pad, pad)),
        );
        ConvSpec {
            w_in: (w_in_per_group * c.groups) as u32,
            w_out: w_out as u32,
            k: k as u32,
            stride: c.stride[0] as u32,
            groups: c.groups as u32,
            bias: c.bias.is_some(),
        }
    }

    fn conv_bn(cx: Complexity, cb: &ConvBn) -> Complexity {
        let width = cb.bn.gamma.shape().dims::<1>()[0];
        cx.conv(&built(&cb.conv)).norm2d(width as u32)
    }

    /// pycls's complexity count, walking the built Burn model's own layers.
    fn count_built(model: &RegNet, resolution: u64) -> Complexity {
        let cx = conv_bn(Complexity::input(resolution), &model.stem);
        let cx = model.blocks.iter().fold(cx, |cx, block| {
            let cx = match &block.proj {
                Some(p) => cx.branch(|c| conv_bn(c, p)),
                None => cx,
            };
            let cx = conv_bn(conv_bn(cx, &block.a), &block.b);
            let cx = match &block.se {
                Some(se) => {
                    cx.branch(|c| c.gap2d().conv(&built(&se.reduce)).conv(&built(&se.expand)))
                }
                None => cx,
            };
            conv_bn(cx, &block.c)
        });
        let [w_in, w_out] = model.fc.weight.shape().dims::<2>();
        cx.gap2d()
            .linear(w_in as u64, w_out as u64, model.fc.bias.is_some())
    }

    #[test]
    fn complexity_of_the_built_layers_matches_the_count() {
        let device = Device::flex();
        let stage = |depth, width, b, g, stride| StageSpec {
            depth,
            width,
            bottleneck_ratio: b,
            group_width: g,
            stride,
        };
        let mut nets = vec![
            NetSpec::new(&RegNetParams::default().shape().unwrap(), Dataset::Cifar10),
            NetSpec::new(
                &RegNetParams {
                    se: true,
                    b: 2.0,
                    ..RegNetParams::default()
                }
                .shape()
                .unwrap(),
                Dataset::Imagenet,
            ),
        ];
        // AnyNet: widths that fall, a stride-1 stage, its own b and g per stage,
        // pycls's floored groups (w_b = 40, g = 16: 2 groups).
        for se in [false, true] {
            let stages = [
                stage(2, 64, 1.0, 8, 2),
                stage(1, 32, 2.0, 16, 1),
                stage(2, 40, 1.0, 16, 2),
                stage(1, 48, 0.5, 4, 2),
            ];
            nets.push(NetSpec::from_stages(&stages, Dataset::Cifar10, se).unwrap());
        }
        for net in &nets {
            let model = RegNet::new(net, false, &device);
            let built = count_built(&model, u64::from(net.dataset.resolution()));
            assert_eq!(built, net.complexity(), "{net:?}");
            assert_eq!(model.trainable_params() as u64, built.params);
        }
    }
}
