//! `regnet train`: trains a RegNet on CIFAR-10 with Burn, with a progress bar, and
//! reports its test error.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use regnet_playground::data::Cifar10;
use regnet_playground::run::protocol::RunEvent;
use regnet_playground::run::{Progress, RunId, RunRecord, RunSpec, RunStatus};
use regnet_playground::train::Trainer;
use serde_json::json;

use crate::args::{Backend, ModelArgs, RecipeArgs};
use crate::error::CliError;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// cifar-10-binary.tar.gz, or a directory of its extracted .bin batches.
    #[arg(long)]
    data: std::path::PathBuf,
    #[command(flatten)]
    recipe: RecipeArgs,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Print one JSON object at the end (progress still goes to stderr).
    #[arg(long)]
    json: bool,
    /// Also write the run's record (the run model's JSON schema) to this file, whether
    /// the run finishes or fails.
    #[arg(long)]
    record: Option<PathBuf>,
}

pub fn run(a: &TrainArgs) -> Result<String, CliError> {
    let report = a.model.cifar_report()?;
    let device = a.backend.device()?;
    let recipe = a.recipe.recipe();
    let data = Cifar10::open(&a.data).map_err(|source| CliError::Data {
        path: a.data.clone(),
        source,
    })?;
    let trainer = Trainer::new(&report.net, recipe, &data, &device)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let spec = RunSpec {
        id: RunId::next(None, now_ms),
        label: a.model.label(&report.shape.params),
        net: report.net.clone(),
        // The trainer's recipe: its data counts are the subsets it really has.
        recipe: trainer.recipe,
        backend: a.backend.choice(),
        layers: Default::default(),
        sweep: None,
    };
    let (record, outcome) = train(trainer, spec, a.backend.name(), &MultiProgress::new());
    if let Some(path) = &a.record {
        write_record(path, &record)?;
    }
    outcome?;
    let result = record.result.expect("a finished run has been evaluated");
    let out = json!({
        "test_error": result.test_error,
        "train_loss": result.train_loss,
        "images_per_s": result.images_per_s,
        "params": report.complexity.params,
        "flops": report.complexity.flops,
        "seconds": record.timings.total_s,
        "train_seconds": record.timings.train_s,
        "backend": a.backend.name(),
        "train_images": record.facts.train_images,
        "test_images": record.facts.test_images,
        "recipe": record.spec.recipe,
        "config": report.shape.params,
    });
    if a.json {
        return Ok(out.to_string());
    }
    Ok(format!(
        "test error {:.2}% on {} images, final-epoch train loss {:.3}, {:.0} images/s on {} ({:.1} s)",
        100.0 * result.test_error,
        record.facts.test_images,
        result.train_loss,
        result.images_per_s,
        a.backend.name(),
        record.timings.train_s
    ))
}

/// Trains to the end with a progress bar among `bars` (evaluating once, after the
/// last step); the record says how the run ended, the outcome why it failed.
pub fn train(
    trainer: Trainer,
    spec: RunSpec,
    backend: &str,
    bars: &MultiProgress,
) -> (RunRecord, Result<(), CliError>) {
    match run_steps(trainer, spec, backend, bars, &mut || {}) {
        Ok(trained) => (trained.evaluate(), Ok(())),
        Err(failed) => (failed.0, Err(failed.1)),
    }
}

/// A run whose steps are done, waiting for its test error. `Send`: `regnet sweep`
/// evaluates it on another thread while the next run trains.
pub struct Trained {
    trainer: Trainer,
    progress: Progress,
    backend: String,
    clock: Instant,
}

impl Trained {
    /// Tests the model on the test subset and writes the finished run's record.
    pub fn evaluate(mut self) -> RunRecord {
        let epochs = self.progress.epochs();
        self.progress
            .evaluated(epochs, self.trainer.test_correct(500));
        let now = self.clock.elapsed().as_secs_f64();
        self.progress
            .record(RunStatus::Finished, &self.backend, now)
    }
}

/// Every step of the run with a progress bar among `bars`, calling `after_step` after
/// each; a diverged run ends early with its record and the reason.
pub fn run_steps(
    mut trainer: Trainer,
    spec: RunSpec,
    backend: &str,
    bars: &MultiProgress,
    after_step: &mut dyn FnMut(),
) -> Result<Trained, Box<(RunRecord, CliError)>> {
    let clock = Instant::now();
    let now = || clock.elapsed().as_secs_f64();
    let total = trainer.recipe.total_steps();
    let mut progress = Progress::new(spec, trainer.facts(), now());
    let bar = bars.add(ProgressBar::new(total as u64)).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}  eta {eta}")
            .expect("template"),
    );
    for loss in trainer.losses() {
        match progress.step(loss, now(), 0) {
            Ok(report) => {
                if let RunEvent::Step { images_per_s, .. } = report.event {
                    bar.set_message(format!("loss {loss:.3}  {images_per_s:.0} img/s"));
                }
                bar.inc(1);
                after_step();
            }
            Err(diverged) => {
                bar.finish_and_clear();
                let status = RunStatus::Failed {
                    message: diverged.to_string(),
                };
                return Err(Box::new((
                    progress.record(status, backend, now()),
                    CliError::Diverged {
                        loss: diverged.loss,
                        step: diverged.step,
                    },
                )));
            }
        }
    }
    bar.finish_and_clear();
    Ok(Trained {
        trainer,
        progress,
        backend: backend.to_string(),
        clock,
    })
}

fn write_record(path: &Path, record: &RunRecord) -> Result<(), CliError> {
    let text = serde_json::to_string(record).expect("a record serialises");
    std::fs::write(path, text + "\n").map_err(|source| CliError::Write {
        path: path.to_path_buf(),
        source,
    })
}
