//! A run, fully described before it starts: with its spec, the same code trains the
//! same model on the same images in the same order.

use serde::{Deserialize, Serialize};

use super::recipe::Recipe;
use crate::design::NetSpec;
use crate::space::Model;

/// Names one run among all runs of a page, a worker or a sweep. The page and the CLI
/// take it from the clock in milliseconds, bumped past the last one they issued
/// (`RunId::next`), so ids also sort runs by when they started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub u64);

impl RunId {
    /// An id after `last` (if any), and not before `now_ms`.
    pub fn next(last: Option<RunId>, now_ms: u64) -> RunId {
        RunId(last.map_or(now_ms, |l| now_ms.max(l.0 + 1)))
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {}", self.0)
    }
}

/// Which backend a run asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The GPU when one answers (WebGPU in the browser), else the CPU with a notice.
    #[default]
    Auto,
    /// Burn's flex backend with our own CPU kernels.
    Cpu,
    /// Burn's wgpu backend natively (Vulkan, Metal, DX12); the browser treats it as
    /// `Auto`.
    Wgpu,
}

impl BackendChoice {
    /// The token the URL, the CLI and the records use.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Wgpu => "wgpu",
        }
    }
}

/// Which implementation of the training layers a run uses, where there is a choice
/// (`train::ops`): ours or Burn's own. A speed setting only: every choice trains the
/// same model, to float rounding (the ops' tests check ours against Burn's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layers {
    /// Ours where they are measured faster than Burn's (BENCHMARKS.md; on Mesa's
    /// lavapipe and on an NVIDIA H200): today every one, on flex and on the GPU, so the
    /// same kernels as `Ours`. The GPU's 1x1 layers are ours since session 28 (before,
    /// Burn's matrix products): faster on wide layers, a few milliseconds a step slower
    /// on narrow ones, and with no autotuning, which made the first step several times
    /// longer. A kernel of ours that a later measurement finds slower would run Burn's
    /// layer here again.
    #[default]
    Measured,
    /// Ours wherever we have them, kernels of ours slower than Burn's included. A link
    /// or a record that names it keeps its meaning: the same model, other kernels.
    Ours,
    /// Burn's own operations everywhere: the peer ours are benchmarked against.
    Burn,
}

impl Layers {
    /// Every choice, in the order the page and the CLI list them.
    pub const ALL: [Layers; 3] = [Layers::Measured, Layers::Ours, Layers::Burn];

    /// The token the URL, the CLI and the records use.
    pub fn name(self) -> &'static str {
        match self {
            Layers::Measured => "measured",
            Layers::Ours => "ours",
            Layers::Burn => "burn",
        }
    }

    fn is_measured(&self) -> bool {
        *self == Layers::Measured
    }
}

/// Everything a run needs: the network (its dataset inside), the recipe (its seed
/// inside), the backend and its layers, and an id and a label to find it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub id: RunId,
    /// What a person calls the model ("d=13 w0=24 ...").
    pub label: String,
    pub net: NetSpec,
    pub recipe: Recipe,
    pub backend: BackendChoice,
    /// Absent in records (and messages) of the default, and in those written before
    /// the choice existed.
    #[serde(default, skip_serializing_if = "Layers::is_measured")]
    pub layers: Layers,
    /// Where the run sits in a sweep (`regnet sweep`); absent for single runs and in
    /// records written before sweeps existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Box<SweepSlot>>,
}

/// A sweep's run: which of the sampled models it trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSlot {
    /// The model's place in the sweep's sample, from 0.
    pub index: usize,
    /// The sampled model (its space, stages, RegNet parameters and complexity).
    pub model: Model,
}

impl RunSpec {
    /// Seeds the subsets, the initial weights, the batch order and the augmentation.
    pub fn seed(&self) -> u64 {
        self.recipe.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_even_when_the_clock_does_not() {
        assert_eq!(RunId::next(None, 1_000), RunId(1_000));
        assert_eq!(RunId::next(Some(RunId(1_000)), 1_000), RunId(1_001));
        assert_eq!(RunId::next(Some(RunId(1_000)), 900), RunId(1_001));
        assert_eq!(RunId::next(Some(RunId(1_000)), 5_000), RunId(5_000));
    }

    #[test]
    fn layers_tokens_are_the_serde_names() {
        for l in Layers::ALL {
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.name())
            );
        }
    }

    #[test]
    fn backend_tokens_are_the_serde_names() {
        for b in [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Wgpu] {
            assert_eq!(
                serde_json::to_string(&b).unwrap(),
                format!("\"{}\"", b.name())
            );
        }
    }
}
