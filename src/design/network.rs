//! A whole network as a list of block specs, computed once and read by both the
//! complexity count and (later) the Burn model, so the two cannot drift apart.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::complexity::Complexity;
use super::error::ParamError;
use super::numpy::round_half_even;
use super::regnet::RegNetShape;

/// pycls's SE ratio: the SE width is this fraction of the block's input width.
pub const SE_RATIO: f64 = 0.25;

/// Which network family (stem, head, input size) the stages are placed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// 224 px input, `simple_stem_in` (3x3 stride-2 conv, 32 channels), 1000 classes.
    #[default]
    Imagenet,
    /// 32 px input, `res_stem_cifar` (3x3 stride-1 conv, 16 channels), 10 classes.
    Cifar10,
}

impl Dataset {
    pub const ALL: [Dataset; 2] = [Dataset::Cifar10, Dataset::Imagenet];

    pub fn key(self) -> &'static str {
        match self {
            Dataset::Imagenet => "imagenet",
            Dataset::Cifar10 => "cifar10",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dataset::Imagenet => "ImageNet (224 px)",
            Dataset::Cifar10 => "CIFAR-10 (32 px)",
        }
    }

    pub fn resolution(self) -> u32 {
        match self {
            Dataset::Imagenet => 224,
            Dataset::Cifar10 => 32,
        }
    }

    pub fn num_classes(self) -> u32 {
        match self {
            Dataset::Imagenet => 1000,
            Dataset::Cifar10 => 10,
        }
    }

    pub fn stem(self) -> StemSpec {
        match self {
            Dataset::Imagenet => StemSpec {
                w_out: 32,
                stride: 2,
            },
            Dataset::Cifar10 => StemSpec {
                w_out: 16,
                stride: 1,
            },
        }
    }

    /// Stage count the paper's spaces use: 4 at ImageNet, 2 in pycls's CIFAR sweeps.
    pub fn paper_stages(self) -> u32 {
        match self {
            Dataset::Imagenet => 4,
            Dataset::Cifar10 => 2,
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Dataset {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dataset::ALL
            .into_iter()
            .find(|d| d.key() == s)
            .ok_or_else(|| ParamError::UnknownDataset(s.to_string()))
    }
}

/// The stem: one 3x3 conv + BN + ReLU from the 3 input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StemSpec {
    pub w_out: u32,
    pub stride: u32,
}

/// One residual bottleneck block (pycls `ResBottleneckBlock`), X or Y.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    pub w_in: u32,
    pub w_out: u32,
    /// 2 on a stage's first block, else 1.
    pub stride: u32,
    /// Bottleneck width: channels of the 1x1 -> 3x3 -> 1x1 middle.
    pub w_b: u32,
    /// Groups of the 3x3 conv.
    pub groups: u32,
    /// Squeeze-excitation width; 0 for X blocks.
    pub w_se: u32,
}

impl BlockSpec {
    /// A 1x1 projection shortcut is needed when the shape changes.
    pub fn has_proj(&self) -> bool {
        self.w_in != self.w_out || self.stride != 1
    }

    fn complexity(&self, cx: Complexity) -> Complexity {
        let (w_in, w_out, w_b, w_se) = (
            u64::from(self.w_in),
            u64::from(self.w_out),
            u64::from(self.w_b),
            u64::from(self.w_se),
        );
        let stride = u64::from(self.stride);
        let cx = if self.has_proj() {
            cx.branch(|c| c.conv2d(w_in, w_out, 1, stride, 1, false).norm2d(w_out))
        } else {
            cx
        };
        let cx = cx
            .conv2d(w_in, w_b, 1, 1, 1, false)
            .norm2d(w_b)
            .conv2d(w_b, w_b, 3, stride, u64::from(self.groups), false)
            .norm2d(w_b);
        let cx = if w_se > 0 {
            cx.branch(|c| {
                c.gap2d()
                    .conv2d(w_b, w_se, 1, 1, 1, true)
                    .conv2d(w_se, w_b, 1, 1, 1, true)
            })
        } else {
            cx
        };
        cx.conv2d(w_b, w_out, 1, 1, 1, false).norm2d(w_out)
    }
}

/// A complete network: stem, stages of blocks, avg-pool + fc head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    pub dataset: Dataset,
    pub stem: StemSpec,
    pub stages: Vec<Vec<BlockSpec>>,
    pub num_classes: u32,
}

impl NetSpec {
    /// Places a RegNet's stages into the dataset's network (every stage stride 2).
    pub fn new(shape: &RegNetShape, dataset: Dataset) -> Self {
        let stem = dataset.stem();
        let mut w_in = stem.w_out;
        let stages = shape
            .stages
            .iter()
            .map(|stage| {
                (0..stage.depth)
                    .map(|i| {
                        let block = BlockSpec {
                            w_in,
                            w_out: stage.width,
                            stride: if i == 0 { 2 } else { 1 },
                            w_b: stage.bottleneck_width,
                            groups: stage.groups,
                            w_se: if shape.params.se {
                                round_half_even(f64::from(w_in) * SE_RATIO) as u32
                            } else {
                                0
                            },
                        };
                        w_in = stage.width;
                        block
                    })
                    .collect()
            })
            .collect();
        NetSpec {
            dataset,
            stem,
            stages,
            num_classes: dataset.num_classes(),
        }
    }

    /// Channels entering the head.
    pub fn head_width(&self) -> u32 {
        self.stages
            .iter()
            .flatten()
            .last()
            .map_or(self.stem.w_out, |b| b.w_out)
    }

    /// Flops, params and acts of the whole network at the dataset's resolution.
    pub fn complexity(&self) -> Complexity {
        let stem = self.stem;
        let cx = Complexity::input(u64::from(self.dataset.resolution()))
            .conv2d(
                3,
                u64::from(stem.w_out),
                3,
                u64::from(stem.stride),
                1,
                false,
            )
            .norm2d(u64::from(stem.w_out));
        let cx = self
            .stages
            .iter()
            .flatten()
            .fold(cx, |cx, block| block.complexity(cx));
        cx.gap2d().linear(
            u64::from(self.head_width()),
            u64::from(self.num_classes),
            true,
        )
    }
}
