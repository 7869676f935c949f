//! `regnet`: the design-space core on the command line.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    keep_freed_memory();
    std::process::exit(cli::run());
}

/// glibc maps every large allocation (a batch of activations) from the OS and unmaps
/// it on free, so each training step page-faults its tensors in again, zeroed: a
/// quarter of a step went to clearing pages. Serving them from the heap and never
/// trimming it makes steps ~30% faster (BENCHMARKS.md).
#[cfg(target_os = "linux")]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(all(not(target_os = "linux"), not(target_arch = "wasm32")))]
fn keep_freed_memory() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{error::ErrorKind, Args, Parser, Subcommand};
    use regnet_playground::design::{Dataset, ParamError, Preset, RegNetParams};
    use regnet_playground::report::{grouped, human_count, Report};
    use regnet_playground::train::Recipe;

    #[derive(Parser)]
    #[command(
        name = "regnet",
        version,
        about = "The RegNet design space on the command line"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Stages, widths and complexity of one RegNet (pycls's rule, bit for bit).
        Shape(ShapeArgs),
        /// Train a RegNet on CIFAR-10 with Burn and report its test error.
        Train(TrainArgs),
        /// Time training steps (forward, backward, SGD update) on random 32x32 batches.
        Bench(BenchArgs),
    }

    #[derive(Args)]
    #[command(allow_negative_numbers = true)]
    struct BenchArgs {
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
        /// cpu (Burn's flex backend) or wgpu.
        #[arg(long, default_value = "cpu")]
        backend: String,
        #[arg(long)]
        json: bool,
    }

    #[derive(Args)]
    #[command(allow_negative_numbers = true)]
    struct ShapeArgs {
        #[command(flatten)]
        model: ModelArgs,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    }

    #[derive(Args)]
    #[command(allow_negative_numbers = true)]
    struct TrainArgs {
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
        /// cpu (Burn's flex backend) or wgpu (any Vulkan/Metal/DX12 adapter, lavapipe included).
        #[arg(long, default_value = "cpu")]
        backend: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object at the end (progress still goes to stderr).
        #[arg(long)]
        json: bool,
    }

    #[derive(Args)]
    struct ModelArgs {
        /// A published model, e.g. regnetx-200mf .. regnety-32gf (other flags override it).
        #[arg(long)]
        preset: Option<String>,
        /// Depth: number of blocks.
        #[arg(long, required_unless_present = "preset")]
        d: Option<u32>,
        /// Initial width (a multiple of q).
        #[arg(long, required_unless_present = "preset")]
        w0: Option<u32>,
        /// Slope of the continuous widths.
        #[arg(long, required_unless_present = "preset")]
        wa: Option<f64>,
        /// Width multiplier (> 1).
        #[arg(long, required_unless_present = "preset")]
        wm: Option<f64>,
        /// Group width [default: 8, or the preset's].
        #[arg(long)]
        g: Option<u32>,
        /// Bottleneck ratio (paper's b; 1 = no bottleneck).
        #[arg(long)]
        b: Option<f64>,
        /// Width quantum.
        #[arg(long)]
        q: Option<u32>,
        /// Squeeze-excitation (RegNetY).
        #[arg(long)]
        se: bool,
        /// imagenet or cifar10 [default: imagenet for shape, cifar10 for train].
        #[arg(long)]
        dataset: Option<String>,
    }

    /// Exit code: 0, or 2 for bad input (after one line on stderr).
    pub fn run() -> i32 {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
                e.exit()
            }
            Err(e) => {
                let text = e.render().to_string();
                eprintln!(
                    "{}",
                    text.lines().next().unwrap_or("error: invalid arguments")
                );
                return 2;
            }
        };
        match cli.command {
            Command::Shape(args) => finish(shape(&args)),
            Command::Train(args) => finish(train::run(&args)),
            Command::Bench(args) => finish(train::bench(&args)),
        }
    }

    /// Prints the output, or the error as one line with exit code 2.
    fn finish(result: Result<String, String>) -> i32 {
        match result {
            Ok(out) => {
                println!("{out}");
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        }
    }

    fn params(a: &ModelArgs) -> Result<RegNetParams, ParamError> {
        let base = match &a.preset {
            Some(name) => Preset::find(name)?.params(),
            None => RegNetParams::default(),
        };
        Ok(RegNetParams {
            d: a.d.unwrap_or(base.d),
            w0: a.w0.unwrap_or(base.w0),
            wa: a.wa.unwrap_or(base.wa),
            wm: a.wm.unwrap_or(base.wm),
            g: a.g.unwrap_or(base.g),
            b: a.b.unwrap_or(base.b),
            q: a.q.unwrap_or(base.q),
            se: a.se || base.se,
        })
    }

    fn report(a: &ModelArgs, default: Dataset) -> Result<Report, ParamError> {
        let dataset = a.dataset.as_deref().map_or(Ok(default), str::parse)?;
        Report::new(&params(a)?, dataset)
    }

    fn shape(a: &ShapeArgs) -> Result<String, String> {
        let report = report(&a.model, Dataset::Imagenet).map_err(|e| e.to_string())?;
        if a.json {
            return Ok(serde_json::to_string(&report.to_json()).expect("report serialises"));
        }
        Ok(table(&report))
    }

    mod train {
        use std::time::Instant;

        use burn::prelude::*;
        use indicatif::{ProgressBar, ProgressStyle};
        use regnet_playground::data::Cifar10;
        use regnet_playground::design::Dataset;
        use regnet_playground::train::{Recipe, Trainer};
        use serde_json::json;

        use super::{report, BenchArgs, ModelArgs, TrainArgs};
        use regnet_playground::report::Report;

        fn device(backend: &str) -> Result<Device, String> {
            match backend {
                "cpu" => Ok(Device::flex()),
                "wgpu" => Ok(Device::wgpu(Default::default())),
                other => Err(format!("unknown backend '{other}' (use cpu or wgpu)")),
            }
        }

        fn cifar_report(model: &ModelArgs) -> Result<Report, String> {
            let report = report(model, Dataset::Cifar10).map_err(|e| e.to_string())?;
            if report.dataset != Dataset::Cifar10 {
                return Err(
                    "training runs on CIFAR-10: use --dataset cifar10 (the default here)".into(),
                );
            }
            Ok(report)
        }

        pub fn bench(a: &BenchArgs) -> Result<String, String> {
            use rand::{Rng, SeedableRng};
            use regnet_playground::data::cifar::{Split, IMAGE_BYTES};

            let report = cifar_report(&a.model)?;
            let device = device(&a.backend)?;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
            let n = a.batch;
            let split = Split {
                labels: (0..n).map(|i| (i % 10) as u8).collect(),
                pixels: (0..n * IMAGE_BYTES).map(|_| rng.random()).collect(),
            };
            let data = Cifar10 {
                train: split.clone(),
                test: split,
            };
            let recipe = Recipe {
                epochs: (a.warmup + a.steps) as u32,
                train_images: n,
                test_images: n,
                batch: n,
                ..Recipe::default()
            };
            let mut trainer =
                Trainer::new(&report.net, recipe, &data, &device).map_err(|e| e.to_string())?;
            for _ in 0..a.warmup {
                trainer.step_sync();
            }
            let start = Instant::now();
            for _ in 0..a.steps {
                trainer.step_sync();
            }
            let seconds = start.elapsed().as_secs_f64();
            let images_per_s = (n * a.steps) as f64 / seconds;
            let out = json!({
                "backend": a.backend,
                "params": report.complexity.params,
                "batch": n,
                "steps": a.steps,
                "images_per_s": images_per_s,
                "ms_per_step": 1000.0 * seconds / a.steps as f64,
            });
            if a.json {
                return Ok(out.to_string());
            }
            Ok(format!(
                "{images_per_s:.1} images/s ({:.1} ms per step of {n}) on {}",
                1000.0 * seconds / a.steps as f64,
                a.backend
            ))
        }

        pub fn run(a: &TrainArgs) -> Result<String, String> {
            let report = cifar_report(&a.model)?;
            let device = device(&a.backend)?;
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
            let data = Cifar10::open(&a.data).map_err(|e| format!("{}: {e}", a.data.display()))?;
            let mut trainer =
                Trainer::new(&report.net, recipe, &data, &device).map_err(|e| e.to_string())?;
            let total = trainer.recipe.total_steps();
            let bar = ProgressBar::new(total as u64).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}  eta {eta}")
                    .expect("template"),
            );
            let start = Instant::now();
            let mut last_losses = Vec::new();
            while let Some(loss) = trainer.step_sync() {
                if !loss.is_finite() {
                    return Err(format!(
                        "the loss became {loss} at step {}: try a smaller --lr",
                        trainer.step_index()
                    ));
                }
                last_losses.push(loss);
                let per_s = (trainer.step_index() * trainer.recipe.batch) as f64
                    / start.elapsed().as_secs_f64();
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
                "backend": a.backend,
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
                a.backend,
                train_seconds
            ))
        }
    }

    fn table(r: &Report) -> String {
        let p = &r.shape.params;
        let q = &r.shape.quantized;
        let kind = if p.se { "RegNetY" } else { "RegNetX" };
        let mut out = format!(
            "{kind} d={} w0={} wa={} wm={} g={} b={} q={} at {}\n\n",
            p.d,
            p.w0,
            p.wa,
            p.wm,
            p.g,
            p.b,
            p.q,
            r.dataset.label()
        );
        out += "stage  blocks  width  group width  groups  bottleneck\n";
        for (i, s) in r.shape.stages.iter().enumerate() {
            out += &format!(
                "{:>5}  {:>6}  {:>5}  {:>11}  {:>6}  {:>10}\n",
                i + 1,
                s.depth,
                s.width,
                s.group_width,
                s.groups,
                s.bottleneck_width
            );
        }
        let c = &r.complexity;
        out += &format!(
            "\nnum_stages {}  total_stages {}\nflops {} ({})  params {} ({})  acts {} ({})",
            q.num_stages,
            q.total_stages,
            human_count(c.flops),
            grouped(c.flops),
            human_count(c.params),
            grouped(c.params),
            human_count(c.acts),
            grouped(c.acts)
        );
        for note in r.notes() {
            out += &format!("\nnote: {note}");
        }
        out
    }
}
