//! `regnet train`: trains a RegNet on CIFAR-10 with Burn, with a progress bar, and
//! reports its test error.

use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use regnet_playground::data::Cifar10;
use regnet_playground::train::{Recipe, Trainer};
use serde_json::json;

use crate::args::{Backend, ModelArgs};
use crate::error::CliError;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// cifar-10-binary.tar.gz, or a directory of its extracted .bin batches.
    #[arg(long)]
    data: std::path::PathBuf,
    #[arg(long, default_value_t = Recipe::default().epochs)]
    epochs: u32,
    #[arg(long, default_value_t = Recipe::default().batch)]
    batch: usize,
    #[arg(long, default_value_t = Recipe::default().lr)]
    lr: f64,
    #[arg(long, default_value_t = Recipe::default().weight_decay)]
    wd: f64,
    /// Warm-up length in epochs.
    #[arg(long, default_value_t = Recipe::default().warmup_epochs)]
    warmup: f64,
    #[arg(long, default_value_t = Recipe::default().label_smoothing)]
    label_smoothing: f64,
    #[arg(long, default_value_t = Recipe::default().train_images)]
    train_images: usize,
    /// Start the last BN scale of every residual branch at zero (true or false).
    #[arg(long, default_value_t = Recipe::default().zero_final_gamma, action = clap::ArgAction::Set)]
    zero_gamma: bool,
    /// Nesterov momentum (true or false).
    #[arg(long, default_value_t = Recipe::default().nesterov, action = clap::ArgAction::Set)]
    nesterov: bool,
    #[arg(long, default_value_t = Recipe::default().test_images)]
    test_images: usize,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object at the end (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

pub fn run(a: &TrainArgs) -> Result<String, CliError> {
    let report = a.model.cifar_report()?;
    let device = a.backend.device()?;
    let recipe = Recipe {
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        weight_decay: a.wd,
        warmup_epochs: a.warmup,
        label_smoothing: a.label_smoothing,
        train_images: a.train_images,
        test_images: a.test_images,
        seed: a.seed,
        zero_final_gamma: a.zero_gamma,
        nesterov: a.nesterov,
        ..Recipe::default()
    };
    let data = Cifar10::open(&a.data).map_err(|source| CliError::Data {
        path: a.data.clone(),
        source,
    })?;
    let mut trainer = Trainer::new(&report.net, recipe, &data, &device)?;
    let total = trainer.recipe.total_steps();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}  eta {eta}")
            .expect("template"),
    );
    let start = Instant::now();
    let mut last_losses = Vec::new();
    while let Some(loss) = trainer.step_sync() {
        if !loss.is_finite() {
            return Err(CliError::Diverged {
                loss,
                step: trainer.step_index(),
            });
        }
        last_losses.push(loss);
        let per_s =
            (trainer.step_index() * trainer.recipe.batch) as f64 / start.elapsed().as_secs_f64();
        bar.set_message(format!("loss {loss:.3}  {per_s:.0} img/s"));
        bar.inc(1);
    }
    let train_seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let test_error = trainer.test_error(500);
    let tail = &last_losses[last_losses
        .len()
        .saturating_sub(trainer.recipe.steps_per_epoch())..];
    let train_loss = tail.iter().sum::<f32>() / tail.len().max(1) as f32;
    let images_per_s = (total * trainer.recipe.batch) as f64 / train_seconds;
    let out = json!({
        "test_error": test_error,
        "train_loss": train_loss,
        "images_per_s": images_per_s,
        "params": report.complexity.params,
        "flops": report.complexity.flops,
        "seconds": start.elapsed().as_secs_f64(),
        "train_seconds": train_seconds,
        "backend": a.backend.name(),
        "train_images": trainer.train_images(),
        "test_images": trainer.test_images(),
        "recipe": trainer.recipe,
        "config": report.shape.params,
    });
    if a.json {
        return Ok(out.to_string());
    }
    Ok(format!(
        "test error {:.2}% on {} images, final-epoch train loss {train_loss:.3}, {images_per_s:.0} images/s on {} ({:.1} s)",
        100.0 * test_error,
        trainer.test_images(),
        a.backend.name(),
        train_seconds
    ))
}
