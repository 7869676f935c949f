//! `regnet bench`: training-step (or, with `--eval`, inference) throughput on random
//! batches (the benchmarks' measurement; BENCHMARKS.md).

use std::time::{Duration, Instant};

use clap::Args;
use rand::{RngCore, SeedableRng};
use regnet_playground::data::cifar::{Split, IMAGE_BYTES};
use regnet_playground::data::Cifar10;
use regnet_playground::run::{memory, Recipe};
use regnet_playground::train::ops::{use_layers, Layers};
use regnet_playground::train::Trainer;
use serde_json::json;

use crate::args::{Backend, ModelArgs};
use crate::error::CliError;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps first (autotuning, allocation).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Time inference instead: forward passes of a batch in test mode (BN on its
    /// running statistics, no gradients), as a run's evaluation does.
    #[arg(long)]
    eval: bool,
    /// Which layers run: ours where measured faster ("measured"), ours wherever we
    /// have them ("ours"), or Burn's own ("burn", the peer ours are measured against).
    #[arg(long, value_enum, default_value_t = LayersArg::Measured)]
    layers: LayersArg,
    #[arg(long)]
    json: bool,
}

pub fn run(a: &BenchArgs) -> Result<String, CliError> {
    let report = a.model.cifar_report()?;
    use_layers(a.layers.into());
    let n = a.batch;
    // Training: one epoch of distinct random batches, a step more than are run. The
    // steps run as a run's do, each recorded before the last one's loss is read
    // (`Trainer::losses`), so the last timed step's successor is recorded in the timed
    // span too. Inference: one batch, again and again.
    let steps = if a.eval { 1 } else { a.warmup + a.steps + 1 };
    let split = |images: usize| {
        let mut pixels = vec![0; images * IMAGE_BYTES];
        rand_chacha::ChaCha8Rng::seed_from_u64(0).fill_bytes(&mut pixels);
        Split {
            labels: (0..images).map(|i| (i % 10) as u8).collect(),
            pixels,
        }
    };
    let data = Cifar10 {
        train: split(n * steps),
        test: split(n),
    };
    let recipe = Recipe {
        epochs: 1,
        train_images: n * steps,
        test_images: n,
        batch: n,
        ..Recipe::default()
    };
    // The first step's time counts from here: the device's start, the model's
    // initialisation, and the first step's kernel compilation and autotuning.
    let begin = Instant::now();
    let device = a.backend.device()?;
    let mut trainer = Trainer::new(&report.net, recipe, &data, &device)?;
    let (first_step, seconds) = if a.eval {
        timed(a.warmup, a.steps, begin, || {
            trainer.test_correct(n);
        })
    } else {
        let mut losses = trainer.losses();
        timed(a.warmup, a.steps, begin, || {
            losses.next();
        })
    };
    let first_step_ms = first_step.map(|t| 1000.0 * t.as_secs_f64());
    let images_per_s = (n * a.steps) as f64 / seconds;
    let ms_per_step = 1000.0 * seconds / a.steps as f64;
    if a.json {
        let out = json!({
            "backend": a.backend.name(),
            "mode": if a.eval { "eval" } else { "train" },
            "layers": a.layers.name(),
            "params": report.complexity.params,
            "batch": n,
            "steps": a.steps,
            "images_per_s": images_per_s,
            "ms_per_step": ms_per_step,
            "first_step_ms": first_step_ms,
            "estimated_bytes": memory::training_bytes(&report.net, n, memory::Target::Native),
            "peak_resident_bytes": peak_resident_bytes(),
        });
        return Ok(out.to_string());
    }
    Ok(format!(
        "{images_per_s:.1} images/s ({ms_per_step:.1} ms per {} of {n}) on {}",
        if a.eval { "forward pass" } else { "step" },
        a.backend.name()
    ))
}

/// The process's peak resident set (Linux's `VmHWM`), the figure the memory estimate
/// is calibrated against (scripts/bench-memory); `None` where /proc is not there.
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LayersArg {
    Measured,
    Ours,
    Burn,
}

impl LayersArg {
    fn name(self) -> &'static str {
        Layers::from(self).name()
    }
}

impl From<LayersArg> for Layers {
    fn from(a: LayersArg) -> Layers {
        match a {
            LayersArg::Measured => Layers::Measured,
            LayersArg::Ours => Layers::Ours,
            LayersArg::Burn => Layers::Burn,
        }
    }
}

/// Runs `step` `warmup` times, then `steps` times timed: the time from `begin` to the
/// end of the first step, and the timed steps' seconds.
fn timed(
    warmup: usize,
    steps: usize,
    begin: Instant,
    mut step: impl FnMut(),
) -> (Option<Duration>, f64) {
    let mut first_step = None;
    for _ in 0..warmup {
        step();
        first_step.get_or_insert_with(|| begin.elapsed());
    }
    let start = Instant::now();
    for _ in 0..steps {
        step();
        first_step.get_or_insert_with(|| begin.elapsed());
    }
    (first_step, start.elapsed().as_secs_f64())
}
