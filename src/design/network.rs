//! A whole network as a list of block specs, each with its one list of layers, read by
//! both the complexity count and the Burn model (`train::model`), so the two cannot
//! drift apart. Built from per-stage specs (pycls's AnyNet); a RegNet is one way to
//! make those.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::complexity::Complexity;
use super::error::ParamError;
use super::numpy::round_half_even;
use super::regnet::RegNetShape;
use super::stage::StageSpec;

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

impl StemSpec {
    /// The stem's conv (followed by BN and ReLU).
    pub fn conv(&self) -> ConvSpec {
        ConvSpec {
            w_in: 3,
            w_out: self.w_out,
            k: 3,
            stride: self.stride,
            groups: 1,
            bias: false,
        }
    }
}

/// A k x k convolution with "same" padding ((k - 1) / 2 on every side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    pub w_in: u32,
    pub w_out: u32,
    /// Kernel size.
    pub k: u32,
    pub stride: u32,
    pub groups: u32,
    pub bias: bool,
}

impl ConvSpec {
    /// A 1x1 conv without bias.
    fn pointwise(w_in: u32, w_out: u32, stride: u32) -> Self {
        ConvSpec {
            w_in,
            w_out,
            k: 1,
            stride,
            groups: 1,
            bias: false,
        }
    }
}

/// Squeeze-and-excitation on `w` channels: global average pool, `reduce` + ReLU,
/// `expand` + sigmoid, then the block's features scaled by the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeSpec {
    /// 1x1 conv with bias, w -> w_se.
    pub reduce: ConvSpec,
    /// 1x1 conv with bias, w_se -> w.
    pub expand: ConvSpec,
}

/// The layers of one residual bottleneck block, in the order they run. The complexity
/// count and the Burn model both read this one list. Each conv but SE's is followed by
/// batch norm; `a` and `b` by ReLU; the sum `c + proj` (or `c + x`) by ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLayers {
    /// The shortcut's 1x1 projection (strided), when the shape changes.
    pub proj: Option<ConvSpec>,
    /// 1x1, w_in -> w_b.
    pub a: ConvSpec,
    /// 3x3 group conv, w_b -> w_b, strided.
    pub b: ConvSpec,
    pub se: Option<SeSpec>,
    /// 1x1, w_b -> w_out.
    pub c: ConvSpec,
}

/// One residual bottleneck block (pycls `ResBottleneckBlock`), X or Y.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    pub w_in: u32,
    pub w_out: u32,
    /// The stage's stride on its first block, else 1.
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

    /// The block's layers.
    pub fn layers(&self) -> BlockLayers {
        let (w_b, w_se) = (self.w_b, self.w_se);
        BlockLayers {
            proj: self
                .has_proj()
                .then(|| ConvSpec::pointwise(self.w_in, self.w_out, self.stride)),
            a: ConvSpec::pointwise(self.w_in, w_b, 1),
            b: ConvSpec {
                w_in: w_b,
                w_out: w_b,
                k: 3,
                stride: self.stride,
                groups: self.groups,
                bias: false,
            },
            se: (w_se > 0).then(|| {
                let bias = |c: ConvSpec| ConvSpec { bias: true, ..c };
                SeSpec {
                    reduce: bias(ConvSpec::pointwise(w_b, w_se, 1)),
                    expand: bias(ConvSpec::pointwise(w_se, w_b, 1)),
                }
            }),
            c: ConvSpec::pointwise(w_b, self.w_out, 1),
        }
    }

    fn complexity(&self, cx: Complexity) -> Complexity {
        let layers = self.layers();
        let cx = match layers.proj {
            Some(proj) => cx.branch(|c| c.conv(&proj).norm2d(proj.w_out)),
            None => cx,
        };
        let cx = cx
            .conv(&layers.a)
            .norm2d(layers.a.w_out)
            .conv(&layers.b)
            .norm2d(layers.b.w_out);
        let cx = match layers.se {
            Some(se) => cx.branch(|c| c.gap2d().conv(&se.reduce).conv(&se.expand)),
            None => cx,
        };
        cx.conv(&layers.c).norm2d(layers.c.w_out)
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
        // The compatibility fix made every stage valid: no check needed.
        Self::place(&shape.stage_specs(), dataset, shape.params.se)
    }

    /// pycls's AnyNet: the dataset's stem and head around `stages`, squeeze-excitation
    /// in every block when `se`. Checks each stage (`StageSpec::validate`) first; the
    /// compatibility fix is the caller's choice (`adjust_compatibility`), as in pycls.
    pub fn from_stages(
        stages: &[StageSpec],
        dataset: Dataset,
        se: bool,
    ) -> Result<Self, ParamError> {
        for (i, stage) in stages.iter().enumerate() {
            stage.validate(i)?;
        }
        Ok(Self::place(stages, dataset, se))
    }

    fn place(stages: &[StageSpec], dataset: Dataset, se: bool) -> Self {
        let stem = dataset.stem();
        let mut w_in = stem.w_out;
        let stages = stages
            .iter()
            .map(|stage| {
                let (w_b, groups) = (stage.bottleneck_width(), stage.groups());
                (0..stage.depth)
                    .map(|i| {
                        let block = BlockSpec {
                            w_in,
                            w_out: stage.width,
                            stride: if i == 0 { stage.stride } else { 1 },
                            w_b: w_b as u32,
                            groups: groups as u32,
                            w_se: if se {
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
        let stem = self.stem.conv();
        let cx = Complexity::input(u64::from(self.dataset.resolution()))
            .conv(&stem)
            .norm2d(stem.w_out);
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
