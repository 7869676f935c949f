//! Drawing n distinct models from a space within a complexity band, as pycls's sweep
//! set-up does: each try draws, skips a draw seen before, applies the space's rules,
//! standardises the stages (pycls's `scale_model` at factor 1: group widths re-rounded,
//! then the compatibility fix), and keeps the model when its complexity at the dataset's
//! resolution lies in the band. Tries are capped, so a band too narrow for the space ends
//! with a message saying how many models it found.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::random::{standard_group_width, Uniform};
use super::{Ranges, Space, SpaceError};
use crate::design::numpy::round_half_even;
use crate::design::{adjust_compatibility, Complexity, Dataset, NetSpec, ParamError, StageSpec};

/// One side-bounded or two-sided interval on a complexity measure, as pycls's `CX`
/// constraints: `low <= x <= high`, a bound of 0 leaving that side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    pub low: f64,
    pub high: f64,
}

impl Bound {
    /// Whether `x` is within the bound (an open side always is).
    pub fn admits(&self, x: f64) -> bool {
        (self.low == 0.0 || self.low <= x) && (self.high == 0.0 || x <= self.high)
    }

    /// Whether the bound leaves both sides open.
    pub fn is_open(&self) -> bool {
        self.low == 0.0 && self.high == 0.0
    }
}

/// The complexity band models must fall in (flops as multiply-adds, as pycls counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub flops: Bound,
    pub params: Bound,
    pub acts: Bound,
}

impl Band {
    /// Whether a network of complexity `cx` is in the band.
    pub fn admits(&self, cx: &Complexity) -> bool {
        self.flops.admits(cx.flops as f64)
            && self.params.admits(cx.params as f64)
            && self.acts.admits(cx.acts as f64)
    }

    fn validate(&self) -> Result<(), SpaceError> {
        for (name, bound) in [
            ("flops", self.flops),
            ("params", self.params),
            ("acts", self.acts),
        ] {
            let ok = bound.low >= 0.0
                && bound.high >= 0.0
                && (bound.high == 0.0 || bound.low <= bound.high);
            if !ok {
                return Err(SpaceError::Invalid(format!(
                    "the {name} band {}:{} needs 0 <= low <= high (0 leaves a side open)",
                    bound.low, bound.high
                )));
            }
        }
        Ok(())
    }
}

/// One sampled model: its stages after the compatibility fix, the RegNet parameters it
/// was drawn with (RegNet spaces only) and its complexity at the sample's dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub space: Space,
    pub depths: Vec<u32>,
    pub widths: Vec<u32>,
    /// The paper's b per stage (pycls's `BOT_MULS` are their inverses).
    pub bottleneck_ratios: Vec<f64>,
    pub group_widths: Vec<u32>,
    pub d: Option<u32>,
    pub w0: Option<u32>,
    pub wa: Option<f64>,
    pub wm: Option<f64>,
    /// Squeeze-excitation in every block.
    pub se: bool,
    pub flops: u64,
    pub params: u64,
    pub acts: u64,
}

impl Model {
    /// The model's stages (each opens with a stride-2 block, as in pycls).
    pub fn stages(&self) -> Vec<StageSpec> {
        (0..self.depths.len())
            .map(|i| StageSpec {
                depth: self.depths[i],
                width: self.widths[i],
                bottleneck_ratio: self.bottleneck_ratios[i],
                group_width: self.group_widths[i],
                stride: 2,
            })
            .collect()
    }

    /// The model's network at `dataset`.
    pub fn net(&self, dataset: Dataset) -> Result<NetSpec, ParamError> {
        NetSpec::from_stages(&self.stages(), dataset, self.se)
    }

    /// The shape explorer's query for a RegNet (`None` for an AnyNet: the shape
    /// explorer draws the quantized linear rule, which an AnyNet does not follow).
    pub fn shape_query(&self) -> Option<String> {
        let (d, w0, wa, wm) = (self.d?, self.w0?, self.wa?, self.wm?);
        let g = self.group_widths.first()?;
        let b = self.bottleneck_ratios.first()?;
        let se = u8::from(self.se);
        Some(format!(
            "d={d}&w0={w0}&wa={wa}&wm={wm}&g={g}&b={b}&se={se}&data=cifar10"
        ))
    }

    /// A short name for lists and plots.
    pub fn label(&self) -> String {
        match (self.d, self.w0, self.wa, self.wm) {
            (Some(d), Some(w0), Some(wa), Some(wm)) => format!(
                "d={d} w0={w0} wa={wa} wm={wm} g={}{}",
                self.group_widths.first().copied().unwrap_or(0),
                if self.se { " SE" } else { "" }
            ),
            _ => format!(
                "d={:?} w={:?} b={:?} g={:?}",
                self.depths, self.widths, self.bottleneck_ratios, self.group_widths
            ),
        }
    }
}

/// What a space is sampled from: the space, its ranges, the band and the dataset whose
/// resolution the band is measured at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampler {
    pub space: Space,
    pub ranges: Ranges,
    pub band: Band,
    pub dataset: Dataset,
}

/// The models drawn and the tries it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub models: Vec<Model>,
    pub tries: u64,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SampleError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(
        "found only {found} of {wanted} models in {tries} tries: widen the complexity band or the ranges, or allow more tries"
    )]
    TooFew {
        found: usize,
        wanted: usize,
        tries: u64,
    },
    #[error(
        "the ordering of {0} could not be met: the ranges leave almost no non-decreasing draws"
    )]
    Unordered(Space),
}

/// Draws `n` models from `sampler` with ChaCha8 seeded by `seed`, in at most `max_tries`
/// tries (the same arguments give the same models on every platform).
pub fn sample(
    sampler: &Sampler,
    n: usize,
    seed: u64,
    max_tries: u64,
) -> Result<Sample, SampleError> {
    sampler.sample_with(n, &mut ChaCha8Rng::seed_from_u64(seed), max_tries)
}

/// One call of `sample` as data (JSON): what a script or a test asks the page's
/// sampler for, so native and wasm builds can be held to the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRequest {
    pub sampler: Sampler,
    pub n: usize,
    pub seed: u64,
    pub tries: u64,
}

impl SampleRequest {
    /// `sample` with these arguments.
    pub fn run(&self) -> Result<Sample, SampleError> {
        sample(&self.sampler, self.n, self.seed, self.tries)
    }
}

impl Sampler {
    /// A space with its default ranges, no band, at `dataset`.
    pub fn new(space: Space, dataset: Dataset) -> Self {
        Sampler {
            space,
            ranges: Ranges::default_for(space),
            band: Band::default(),
            dataset,
        }
    }

    /// Checks the ranges (of the kind the space needs) and the band.
    pub fn validate(&self) -> Result<(), SpaceError> {
        self.band.validate()?;
        match (&self.ranges, self.space.is_regnet()) {
            (Ranges::AnyNet(r), false) => r.validate(),
            (Ranges::RegNet(r), true) => r.validate(),
            (ranges, _) => Err(SpaceError::WrongRanges {
                space: self.space,
                wanted: if self.space.is_regnet() {
                    "RegNet"
                } else {
                    "AnyNet"
                },
                got: match ranges {
                    Ranges::AnyNet(_) => "AnyNet",
                    Ranges::RegNet(_) => "RegNet",
                },
            }),
        }
    }

    /// The number of distinct configurations the ranges allow (before any band).
    pub fn size(&self) -> f64 {
        match &self.ranges {
            Ranges::AnyNet(r) => r.size(self.space),
            Ranges::RegNet(r) => r.size(),
        }
    }

    /// Draws `n` models with `rng`, in at most `max_tries` tries.
    pub fn sample_with(
        &self,
        n: usize,
        rng: &mut impl Uniform,
        max_tries: u64,
    ) -> Result<Sample, SampleError> {
        self.validate()?;
        let mut seen = HashSet::new();
        let mut models = Vec::with_capacity(n);
        let mut tries = 0;
        while models.len() < n {
            if tries == max_tries {
                return Err(SampleError::TooFew {
                    found: models.len(),
                    wanted: n,
                    tries,
                });
            }
            tries += 1;
            if let Some(model) = self.try_one(rng, &mut seen)? {
                models.push(model);
            }
        }
        Ok(Sample { models, tries })
    }

    /// One try: a model, or `None` when the draw is a duplicate, breaks a rule or
    /// leaves the band.
    fn try_one(
        &self,
        rng: &mut impl Uniform,
        seen: &mut HashSet<Vec<u64>>,
    ) -> Result<Option<Model>, SampleError> {
        let (stages, regnet) = match &self.ranges {
            Ranges::AnyNet(ranges) => {
                let draw = ranges
                    .draw(self.space, rng)
                    .ok_or(SampleError::Unordered(self.space))?;
                let key = [
                    &draw.depths,
                    &draw.widths,
                    &draw.bottleneck_ratios,
                    &draw.group_widths,
                ]
                .into_iter()
                .flatten()
                .map(|&v| u64::from(v))
                .collect();
                if !seen.insert(key) {
                    return Ok(None);
                }
                let stages = (0..draw.depths.len())
                    .map(|i| StageSpec {
                        depth: draw.depths[i],
                        width: draw.widths[i],
                        bottleneck_ratio: f64::from(draw.bottleneck_ratios[i]),
                        group_width: draw.group_widths[i],
                        stride: 2,
                    })
                    .collect::<Vec<_>>();
                (stages, None)
            }
            Ranges::RegNet(ranges) => {
                let draw = ranges.draw(rng);
                if !seen.insert(draw.key().to_vec()) {
                    return Ok(None);
                }
                let params = draw.params(self.space.se());
                let Ok(shape) = params.shape() else {
                    return Ok(None);
                };
                if !ranges.keeps(&shape.quantized) {
                    return Ok(None);
                }
                (shape.stage_specs(), Some(params))
            }
        };
        let Ok(stages) = standardize(&stages) else {
            return Ok(None);
        };
        let se = self.space.se();
        let Ok(net) = NetSpec::from_stages(&stages, self.dataset, se) else {
            return Ok(None);
        };
        let cx = net.complexity();
        if !self.band.admits(&cx) {
            return Ok(None);
        }
        Ok(Some(Model {
            space: self.space,
            depths: stages.iter().map(|s| s.depth).collect(),
            widths: stages.iter().map(|s| s.width).collect(),
            bottleneck_ratios: stages.iter().map(|s| s.bottleneck_ratio).collect(),
            group_widths: stages.iter().map(|s| s.group_width).collect(),
            d: regnet.map(|p| p.d),
            w0: regnet.map(|p| p.w0),
            wa: regnet.map(|p| p.wa),
            wm: regnet.map(|p| p.wm),
            se,
            flops: cx.flops,
            params: cx.params,
            acts: cx.acts,
        }))
    }
}

/// pycls's `scale_model` at scale factor 1, which its sweep set-up runs on every sampled
/// AnyNet or RegNet: widths to the nearest multiple of 8 (at least 8), group widths
/// re-rounded (`standard_group_width`), then the compatibility fix per stage.
pub fn standardize(stages: &[StageSpec]) -> Result<Vec<StageSpec>, ParamError> {
    stages
        .iter()
        .map(|stage| {
            let width = (round_half_even(f64::from(stage.width) / 8.0) as u32).max(1) * 8;
            let g = standard_group_width(stage.group_width);
            let fixed = adjust_compatibility(width, stage.bottleneck_ratio, g)?;
            Ok(StageSpec {
                width: fixed.width,
                group_width: fixed.group_width,
                ..*stage
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::Dataset;
    use crate::space::{AnyNetRanges, Range, RegNetRanges};

    #[test]
    fn the_same_seed_gives_the_same_models_and_another_seed_others() {
        for space in Space::ALL {
            let sampler = Sampler::new(space, Dataset::Cifar10);
            let a = sample(&sampler, 20, 1, 100_000).unwrap();
            let b = sample(&sampler, 20, 1, 100_000).unwrap();
            let c = sample(&sampler, 20, 2, 100_000).unwrap();
            assert_eq!(a, b, "{space}");
            assert_ne!(a.models, c.models, "{space}");
            assert_eq!(a.models.len(), 20);
            assert!(a
                .models
                .iter()
                .all(|m| m.space == space && m.se == space.se()));
        }
    }

    #[test]
    fn every_model_is_in_the_band_and_its_counts_are_its_networks() {
        let mut sampler = Sampler::new(Space::RegNetY, Dataset::Cifar10);
        // pycls's CIFAR sweep: two stages, group widths 1..32, 120-130 MF, <= 2M params.
        sampler.ranges = Ranges::RegNet(RegNetRanges {
            depth: Range::new(6, 16),
            group_width: Range::new(1, 32),
            stages: Range::new(2, 2),
            ..RegNetRanges::default()
        });
        sampler.band.flops = Bound {
            low: 0.12e9,
            high: 0.13e9,
        };
        sampler.band.params = Bound {
            low: 0.0,
            high: 2e6,
        };
        sampler.band.acts = Bound {
            low: 0.0,
            high: 1e6,
        };
        let got = sample(&sampler, 16, 0, 1_000_000).unwrap();
        for model in &got.models {
            assert!(
                (0.12e9..=0.13e9).contains(&(model.flops as f64)),
                "{model:?}"
            );
            assert!(model.params <= 2_000_000 && model.acts <= 1_000_000);
            assert_eq!(model.depths.len(), 2);
            let cx = model.net(Dataset::Cifar10).unwrap().complexity();
            assert_eq!(
                (cx.flops, cx.params, cx.acts),
                (model.flops, model.params, model.acts)
            );
            assert_eq!(model.depths.iter().sum::<u32>(), model.d.unwrap());
        }
    }

    #[test]
    fn a_band_too_narrow_says_how_many_it_found() {
        let mut sampler = Sampler::new(Space::AnyNetXA, Dataset::Cifar10);
        sampler.band.flops = Bound {
            low: 1.0,
            high: 2.0,
        };
        let err = sample(&sampler, 5, 0, 2_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "found only 0 of 5 models in 2000 tries: widen the complexity band or the ranges, or allow more tries"
        );
    }

    #[test]
    fn ranges_must_fit_the_space() {
        let mut sampler = Sampler::new(Space::RegNetX, Dataset::Cifar10);
        sampler.ranges = Ranges::AnyNet(AnyNetRanges::default());
        assert!(matches!(
            sample(&sampler, 1, 0, 10),
            Err(SampleError::Space(SpaceError::WrongRanges { .. }))
        ));
    }

    #[test]
    fn standardizing_fixes_group_widths_like_pycls() {
        let stage = |width, b, g| StageSpec {
            depth: 1,
            width,
            bottleneck_ratio: b,
            group_width: g,
            stride: 2,
        };
        // b = 4 on width 8: bottleneck 2, so a group width of 32 is clipped to 2.
        let fixed = standardize(&[stage(8, 4.0, 32), stage(24, 1.0, 16)]).unwrap();
        assert_eq!((fixed[0].width, fixed[0].group_width), (8, 2));
        // 24 / 16 = 1.5 rounds to 2 groups of 16: the width becomes 32.
        assert_eq!((fixed[1].width, fixed[1].group_width), (32, 16));
    }
}
