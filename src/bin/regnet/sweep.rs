//! `regnet sweep`: samples models from a design space and trains each with one recipe,
//! appending each run's record to a file as the run ends. The same command resumes a
//! sweep where it stopped: the sample is a function of the flags, and the file says
//! which of its models are done, so Ctrl-C or a crash loses at most the run in flight.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use regnet_playground::data::Cifar10;
use regnet_playground::design::Dataset;
use regnet_playground::run::{Recipe, RunId, RunRecord, RunSpec, RunStatus, SweepSlot};
use regnet_playground::space::{sample, Model, Sampler};
use regnet_playground::stats::Edf;
use regnet_playground::sweep::pycls_sweep;
use regnet_playground::train::Trainer;

use crate::args::{Backend, RecipeArgs};
use crate::error::CliError;
use crate::sample::SpaceArgs;
use crate::train::run_steps;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// How many models to sample and train.
    #[arg(long, default_value_t = 32)]
    n: usize,
    /// Seed of the model draws (`--seed` seeds the training).
    #[arg(long, default_value_t = 0)]
    sample_seed: u64,
    /// Give up sampling after this many tries.
    #[arg(long, default_value_t = 1_000_000)]
    tries: u64,
    /// Train only the first K sampled models (with another --seed: the seed-noise
    /// reference, the same models trained again).
    #[arg(long)]
    first: Option<usize>,
    /// cifar-10-binary.tar.gz, or a directory of its extracted .bin batches.
    #[arg(long, required_unless_present = "emit_pycls")]
    data: Option<PathBuf>,
    #[command(flatten)]
    recipe: RecipeArgs,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// The sweep's file: one run record (JSON) per line, appended as each run ends.
    /// Run the same command again to resume.
    #[arg(long, required_unless_present = "emit_pycls")]
    out: Option<PathBuf>,
    /// Instead of training, write the sampled models and the recipe as a pycls sweep in
    /// DIR (cfgs/, cfgs_summary.yaml, sweep_cfg.yaml), to train with pycls's
    /// sweep_launch.py on a cluster; DIR's name becomes the sweep's NAME.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    emit_pycls: Option<PathBuf>,
}

pub fn run(a: &SweepArgs) -> Result<String, CliError> {
    let sampler = a.space.sampler()?;
    if sampler.dataset != Dataset::Cifar10 {
        return Err(CliError::NotCifar);
    }
    let models = sample(&sampler, a.n, a.sample_seed, a.tries)?.models;
    let count = a.first.map_or(models.len(), |k| k.min(models.len()));
    let recipe = a.recipe.recipe();
    let out = match (&a.out, &a.emit_pycls) {
        (_, Some(dir)) => return emit_pycls(dir, &sampler, &models[..count], &recipe),
        (Some(out), None) => out.as_path(),
        (None, None) => return Err(CliError::Flag("give --out FILE or --emit-pycls DIR".into())),
    };
    let device = a.backend.device()?;
    let done = read_records(out)?;
    for record in &done {
        check_same_sweep(out, record, &models, &recipe)?;
    }
    let is_done = |i: usize| {
        done.iter()
            .any(|r| r.spec.sweep.as_ref().is_some_and(|s| s.index == i))
    };
    let todo: Vec<usize> = (0..count).filter(|&i| !is_done(i)).collect();
    if todo.is_empty() {
        return Ok(summary(out, &done, count, 0));
    }
    let Some(data_path) = &a.data else {
        return Err(CliError::Flag("give --data (the CIFAR-10 archive)".into()));
    };
    let data = Cifar10::open(data_path).map_err(|source| CliError::Data {
        path: data_path.clone(),
        source,
    })?;
    let bars = MultiProgress::new();
    let sweep_bar = bars.add(
        ProgressBar::new(count as u64)
            .with_position((count - todo.len()) as u64)
            .with_style(
                ProgressStyle::with_template("sweep {bar:30} {pos}/{len} models  eta {eta}  {msg}")
                    .expect("template"),
            ),
    );
    sweep_bar.reset_eta();
    let mut last_id = None;
    let mut records = done;
    let mut trained = 0;
    // The last run's evaluation runs on its own thread beside the next run's steps
    // (both share the cores; the steps leave some idle). Its record is appended the
    // moment it is ready, so a kill loses at most the runs in flight.
    let mut evaluating: Option<JoinHandle<RunRecord>> = None;
    let land = |record: RunRecord, records: &mut Vec<RunRecord>| -> Result<(), CliError> {
        append_record(out, &record)?;
        records.push(record);
        sweep_bar.inc(1);
        Ok(())
    };
    for i in todo {
        let model = &models[i];
        sweep_bar.set_message(model.label());
        let net = model.net(sampler.dataset)?;
        let trainer = Trainer::new(&net, recipe, &data, &device)?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let id = RunId::next(last_id, now_ms);
        last_id = Some(id);
        let spec = RunSpec {
            id,
            label: model.label(),
            net,
            recipe: trainer.recipe,
            backend: a.backend.choice(),
            layers: Default::default(),
            sweep: Some(Box::new(SweepSlot {
                index: i,
                model: model.clone(),
            })),
        };
        let mut ready = None;
        let steps = run_steps(trainer, spec, a.backend.name(), &bars, &mut || {
            if evaluating.as_ref().is_some_and(JoinHandle::is_finished) {
                ready = evaluating.take();
            }
        });
        if let Some(handle) = ready.or_else(|| evaluating.take()) {
            land(joined(handle)?, &mut records)?;
        }
        match steps {
            Ok(run) => evaluating = Some(std::thread::spawn(move || run.evaluate())),
            // A diverged run is a result too (recorded as failed); the sweep goes on.
            Err(failed) => land(failed.0, &mut records)?,
        }
        trained += 1;
    }
    if let Some(handle) = evaluating.take() {
        land(joined(handle)?, &mut records)?;
    }
    sweep_bar.finish_and_clear();
    Ok(summary(out, &records, count, trained))
}

/// The record an evaluation thread made.
fn joined(handle: JoinHandle<RunRecord>) -> Result<RunRecord, CliError> {
    handle
        .join()
        .map_err(|_| CliError::Flag("a run's evaluation failed unexpectedly".into()))
}

/// Writes the pycls sweep of `models` into `dir` (created if missing). A sweep pycls has
/// already launched there (it has `logs/`) is refused, as pycls's own set-up does.
fn emit_pycls(
    dir: &Path,
    sampler: &Sampler,
    models: &[Model],
    recipe: &Recipe,
) -> Result<String, CliError> {
    let write_err = |source| CliError::Write {
        path: dir.to_path_buf(),
        source,
    };
    if dir.join("logs").exists() {
        return Err(CliError::Flag(format!(
            "{}: pycls has already launched this sweep (it has logs/); choose another directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir.join("cfgs")).map_err(write_err)?;
    let abs = std::path::absolute(dir).map_err(write_err)?;
    let name = abs
        .file_name()
        .map_or("sweep".into(), |n| n.to_string_lossy());
    let root = abs.parent().map_or("/".into(), |p| p.to_string_lossy());
    let files = pycls_sweep(&name, &root, sampler, models, recipe);
    for file in &files {
        let path = dir.join(&file.path);
        std::fs::write(&path, &file.text).map_err(|source| CliError::Write { path, source })?;
    }
    Ok(format!(
        "wrote {} pycls configs to {}; from a pycls checkout: python tools/sweep_launch.py --sweep-cfg {}",
        models.len(),
        dir.join("cfgs").display(),
        dir.join("sweep_cfg.yaml").display()
    ))
}

/// One line on where the sweep stands and its error distribution so far.
fn summary(out: &Path, records: &[RunRecord], count: usize, trained: usize) -> String {
    let errors: Vec<f64> = records
        .iter()
        .filter_map(|r| r.result.as_ref())
        .map(|r| 100.0 * r.test_error)
        .collect();
    let failed = records
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Failed { .. }))
        .count();
    let stats = match Edf::new(&errors) {
        Ok(edf) => format!(
            "test error n|min|mean {} (median {:.1})",
            edf.legend().trim(),
            edf.median()
        ),
        Err(_) => "no finished runs yet".into(),
    };
    format!(
        "{} of {count} runs done ({trained} now, {failed} failed): {stats}; records in {}",
        records.len(),
        out.display()
    )
}

/// Refuses a file whose runs belong to another sweep (other flags or seed): resuming
/// into it would mix two samples.
fn check_same_sweep(
    out: &Path,
    record: &RunRecord,
    models: &[Model],
    recipe: &Recipe,
) -> Result<(), CliError> {
    let other = |why: String| {
        Err(CliError::Flag(format!(
            "{} holds runs of another sweep ({why}): give the same flags to resume it, or another --out",
            out.display()
        )))
    };
    let Some(slot) = &record.spec.sweep else {
        return other(format!("{} is not a sweep run", record.spec.label));
    };
    if models.get(slot.index) != Some(&slot.model) {
        return other(format!(
            "its model {} was {}",
            slot.index + 1,
            slot.model.label()
        ));
    }
    // The trainer may shrink the data counts to what the archive has; the rest must match.
    let mut theirs = record.spec.recipe;
    theirs.train_images = recipe.train_images;
    theirs.test_images = recipe.test_images;
    if &theirs != recipe {
        return other("it was trained with another recipe".into());
    }
    Ok(())
}

/// The records in `path` (none if it does not exist). A last line cut short by a kill
/// mid-write is dropped from the file, so the run is trained again.
fn read_records(path: &Path) -> Result<Vec<RunRecord>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(CliError::Write {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut records = vec![];
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            eprintln!(
                "{}: dropping a record cut short at line {}",
                path.display(),
                n + 1
            );
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(offset as u64))
                .map_err(|source| CliError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
            break;
        }
        if !line.trim().is_empty() {
            let record = RunRecord::from_json(line.trim_end())
                .map_err(|e| CliError::Flag(format!("{} line {}: {e}", path.display(), n + 1)))?;
            records.push(record);
        }
        offset += line.len();
    }
    Ok(records)
}

/// Appends one record as one line, on disk before the next run starts.
fn append_record(path: &Path, record: &RunRecord) -> Result<(), CliError> {
    let line = serde_json::to_string(record).expect("a record serialises") + "\n";
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    };
    write().map_err(|source| CliError::Write {
        path: path.to_path_buf(),
        source,
    })
}
