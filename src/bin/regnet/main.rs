//! `regnet`: the design-space core on the command line, one file per subcommand
//! (`shape.rs`, `fit.rs`, `sample.rs`, `sweep.rs`, `analyze.rs`, `train.rs`, `bench.rs`); the model flags they share in `args.rs`.

#[cfg(not(target_arch = "wasm32"))]
mod analyze;
#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod error;
#[cfg(not(target_arch = "wasm32"))]
mod fit;
#[cfg(not(target_arch = "wasm32"))]
mod sample;
#[cfg(not(target_arch = "wasm32"))]
mod shape;
#[cfg(not(target_arch = "wasm32"))]
mod sweep;
#[cfg(not(target_arch = "wasm32"))]
mod train;

/// The CLI is native only; on wasm32 this binary is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    keep_freed_memory();
    std::process::exit(run());
}

/// glibc maps every large allocation (a batch of activations) from the OS and unmaps
/// it on free, so each training step would page-fault its tensors in again, zeroed.
/// Serving them from the heap and never trimming it avoids that (BENCHMARKS.md).
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
#[derive(clap::Parser)]
#[command(
    name = "regnet",
    version,
    about = "The RegNet design space on the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(clap::Subcommand)]
enum Command {
    /// Stages, widths and complexity of one RegNet (pycls's rule, bit for bit).
    Shape(shape::ShapeArgs),
    /// Fit the quantized linear rule (d, w0, wa, wm) to any network's per-block widths
    /// (paper section 3.3).
    Fit(fit::FitArgs),
    /// Draw distinct models from a design space (AnyNetX A..E, RegNetX/Y) within a
    /// complexity band.
    Sample(sample::SampleArgs),
    /// Sample models from a design space and train each on CIFAR-10, appending each
    /// run's record to a file (the same command resumes).
    Sweep(sweep::SweepArgs),
    /// Compare sweeps by their error EDFs: n, min, mean, median and pairwise KS.
    Analyze(analyze::AnalyzeArgs),
    /// Train a RegNet on CIFAR-10 with Burn and report its test error.
    Train(train::TrainArgs),
    /// Time training steps (forward, backward, SGD update) on random 32x32 batches.
    Bench(bench::BenchArgs),
}

/// Runs the command line; the exit code is 0, or 2 for bad input or a failed run,
/// after one line on stderr.
#[cfg(not(target_arch = "wasm32"))]
fn run() -> i32 {
    use clap::{error::ErrorKind, Parser};

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
    let result = match cli.command {
        Command::Shape(args) => shape::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Sample(args) => sample::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
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
