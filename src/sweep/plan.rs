//! A sweep the page trains: which design spaces, how many models from each, the flops
//! band, the sample seed and the recipe; the models it draws and the queue's jobs. The
//! spaces use the reference sweep's ranges (`scripts/reference-sweep`: AnyNetX with 1-4
//! blocks and widths 8-128 per stage, RegNets with d 4-16 and group widths 1-32), so a
//! sweep trained here can be read against the reference on the same plot.
//!
//! A plan's sweeps are named `SPACE-KEY`, KEY a hash of the whole plan: the same plan
//! (a link opened again, a reload) finds its stored runs, and another plan never mixes
//! its runs into them.

use serde::{Deserialize, Serialize};

use super::queue::{Job, JobState};
use crate::design::Dataset;
use crate::run::{BackendChoice, Recipe, RunId, RunSpec, SweepSlot};
use crate::space::{sample, Bound, Model, Range, Ranges, SampleError, Sampler, Space};

/// How many draws a plan's sampler may take per space.
pub const MAX_TRIES: u64 = 1_000_000;

/// The most models per space the page trains in one sweep.
pub const MAX_MODELS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub spaces: Vec<Space>,
    /// Models per space.
    pub n: usize,
    /// The flops band (multiply-adds at 32 px; 0 leaves a side open).
    pub flops: Bound,
    pub sample_seed: u64,
    pub recipe: Recipe,
}

impl Default for SweepPlan {
    /// RegNetX against AnyNetX-A, 8 models each, with the reference sweep's band and
    /// recipe.
    fn default() -> Self {
        SweepPlan {
            spaces: vec![Space::AnyNetXA, Space::RegNetX],
            n: 8,
            flops: Bound {
                low: 3e6,
                high: 6e6,
            },
            sample_seed: 0,
            recipe: Recipe {
                epochs: 3,
                train_images: 6000,
                test_images: 2000,
                ..Recipe::default()
            },
        }
    }
}

/// A space of the plan and the models it drew.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSweep {
    pub space: Space,
    /// `SPACE-KEY`.
    pub name: String,
    pub models: Vec<Model>,
}

impl SweepPlan {
    /// `space` at CIFAR-10 with the reference sweep's ranges and this plan's band.
    pub fn sampler(&self, space: Space) -> Sampler {
        let mut sampler = Sampler::new(space, Dataset::Cifar10);
        match &mut sampler.ranges {
            Ranges::AnyNet(r) => {
                r.depth = Range::new(1, 4);
                r.width = Range::new(8, 128);
            }
            Ranges::RegNet(r) => {
                r.depth = Range::new(4, 16);
                r.group_width = Range::new(1, 32);
            }
        }
        sampler.band.flops = self.flops;
        sampler
    }

    /// Eight hex digits that change with any part of the plan (FNV-1a over its JSON,
    /// the same on every platform).
    pub fn key(&self) -> String {
        let json = serde_json::to_string(self).expect("a plan serialises");
        let hash = json.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        format!("{hash:08x}")
    }

    /// The sweep's name for `space`.
    pub fn sweep_name(&self, space: Space) -> String {
        format!("{}-{}", space.key(), self.key())
    }

    /// Draws each space's models (seeded: the same plan draws the same models).
    pub fn draw(&self) -> Result<Vec<PlannedSweep>, SampleError> {
        self.spaces
            .iter()
            .map(|&space| {
                let got = sample(&self.sampler(space), self.n, self.sample_seed, MAX_TRIES)?;
                Ok(PlannedSweep {
                    space,
                    name: self.sweep_name(space),
                    models: got.models,
                })
            })
            .collect()
    }

    /// The queue's jobs for `sweeps`, ids from `first` on, one space after another
    /// interleaved model by model (so a stopped sweep leaves the spaces equally far).
    pub fn jobs(&self, sweeps: &[PlannedSweep], first: RunId) -> Vec<Job> {
        let mut jobs = vec![];
        let longest = sweeps.iter().map(|s| s.models.len()).max().unwrap_or(0);
        for index in 0..longest {
            for sweep in sweeps {
                let Some(model) = sweep.models.get(index) else {
                    continue;
                };
                let Ok(net) = model.net(Dataset::Cifar10) else {
                    continue;
                };
                let spec = RunSpec {
                    id: RunId(first.0 + jobs.len() as u64),
                    label: model.label(),
                    net,
                    recipe: self.recipe,
                    backend: BackendChoice::Cpu,
                    layers: Default::default(),
                    sweep: Some(Box::new(SweepSlot {
                        index,
                        model: model.clone(),
                    })),
                };
                jobs.push(Job {
                    sweep: sweep.name.clone(),
                    spec,
                    state: JobState::Waiting,
                });
            }
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_draws_reference_like_models_and_interleaves_the_spaces() {
        let plan = SweepPlan {
            n: 3,
            ..SweepPlan::default()
        };
        let sweeps = plan.draw().unwrap();
        assert_eq!(sweeps.len(), 2);
        for s in &sweeps {
            assert_eq!(s.models.len(), 3);
            assert!(s.name.starts_with(s.space.key()));
            for m in &s.models {
                assert!((3e6..=6e6).contains(&(m.flops as f64)), "{}", m.flops);
            }
        }
        let jobs = plan.jobs(&sweeps, RunId(100));
        let order: Vec<(&str, usize)> = jobs
            .iter()
            .map(|j| (j.sweep.as_str(), j.spec.sweep.as_ref().unwrap().index))
            .collect();
        let (a, x) = (sweeps[0].name.as_str(), sweeps[1].name.as_str());
        assert_eq!(order, [(a, 0), (x, 0), (a, 1), (x, 1), (a, 2), (x, 2)]);
        assert_eq!(jobs[5].spec.id, RunId(105));
        // The same plan draws the same models.
        assert_eq!(plan.draw().unwrap(), sweeps);
    }

    #[test]
    fn any_change_to_the_plan_changes_the_sweep_names() {
        let plan = SweepPlan::default();
        let mut other = plan.clone();
        other.recipe.seed = 1;
        assert_ne!(plan.key(), other.key());
        assert_eq!(plan.key(), SweepPlan::default().key());
        assert_eq!(plan.key().len(), 8);
    }
}
