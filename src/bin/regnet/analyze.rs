//! `regnet analyze`: sweeps (`regnet sweep`'s files, pycls's sweep.json, NDS records) compared by their
//! error EDFs: per sweep n, min, mean and median error, and the KS distance of every
//! pair, plain or complexity-normalised.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use regnet_playground::chart::svg::{edf_plot, escape, search_plot, values_plot};
use regnet_playground::stats::{Edf, SearchPoint};
use regnet_playground::sweep::{
    compare, holds_all, seed_noise, Comparison, KsPair, Measure, Normalize, ParamRange, SeedNoise,
    Sweep,
};
use serde_json::json;

use crate::error::CliError;

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Sweep files, each named by its file stem: `regnet sweep`'s run records (one per
    /// line), pycls's collected sweep.json, or NDS records.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Normalise each EDF by this complexity measure (NDS): every complexity bin
    /// weighs the same in every sweep.
    #[arg(long, value_enum)]
    normalize: Option<MeasureArg>,
    /// Sweeps that trained the same models again with other seeds (`regnet sweep
    /// --first K --seed S`): the seed-noise reference each KS distance is read against.
    /// The sweeps among FILES that hold those models count as one more seed.
    #[arg(long, num_args = 1..)]
    noise: Vec<PathBuf>,
    /// Bins of the normalisation.
    #[arg(long, default_value_t = 5)]
    bins: usize,
    /// Bootstrap samples for each parameter's good range (pycls: 2,500).
    #[arg(long, default_value_t = 2_500)]
    resamples: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the plots as SVG files into this folder: the EDFs (edf.svg), the
    /// random-search efficiency (search.svg) and, per sweep, error against each
    /// parameter with its good range (SWEEP-PARAM.svg).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Also write one self-contained HTML report (pycls's `sweep_analyze`): the tables
    /// and every plot inline.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum MeasureArg {
    Flops,
    Params,
}

pub fn run(a: &AnalyzeArgs) -> Result<String, CliError> {
    let sweeps = a
        .files
        .iter()
        .map(read_sweep)
        .collect::<Result<Vec<_>, _>>()?;
    let normalize = a.normalize.map(|m| Normalize {
        measure: match m {
            MeasureArg::Flops => Measure::Flops,
            MeasureArg::Params => Measure::Params,
        },
        bins: a.bins,
        range: None,
    });
    let comparison = compare(&sweeps, normalize)?;
    let noise = noise_reference(&a.noise, &sweeps)?;
    let good: Vec<Vec<ParamRange>> = sweeps
        .iter()
        .map(|s| s.good_ranges(a.resamples, &mut ChaCha8Rng::seed_from_u64(a.seed)))
        .collect();
    let searches: Vec<Vec<SearchPoint>> = sweeps
        .iter()
        .map(|s| s.search_curve(1_000, &mut ChaCha8Rng::seed_from_u64(a.seed)))
        .collect();
    let plots = plots(&sweeps, &comparison, &good, &searches, normalize);
    if let Some(dir) = &a.svg {
        for (name, svg) in &plots {
            write_file(&dir.join(name), svg)?;
        }
    }
    if let Some(path) = &a.html {
        write_file(
            path,
            &html(&table(&comparison, &good, noise.as_ref()), &plots),
        )?;
    }
    if a.json {
        let summaries: Vec<_> = comparison
            .sweeps
            .iter()
            .zip(&good)
            .zip(&searches)
            .map(|((s, g), search)| {
                let mut v = serde_json::to_value(s).expect("summary serialises");
                v["good"] = serde_json::to_value(g).expect("ranges serialise");
                v["search"] = serde_json::to_value(search).expect("curve serialises");
                v
            })
            .collect();
        let ks: Vec<_> = comparison
            .ks
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).expect("pair serialises");
                v["beyond_noise"] = json!(beyond_noise(p, noise.as_ref()));
                v
            })
            .collect();
        return Ok(json!({
            "sweeps": summaries,
            "ks": ks,
            "noise": noise,
            "normalize": normalize,
        })
        .to_string());
    }
    Ok(table(&comparison, &good, noise.as_ref()))
}

/// The seed-noise reference of the `--noise` files, with every sweep of `sweeps` that
/// holds their models as one more seed; None without `--noise`.
fn noise_reference(files: &[PathBuf], sweeps: &[Sweep]) -> Result<Option<SeedNoise>, CliError> {
    if files.is_empty() {
        return Ok(None);
    }
    let extra = files
        .iter()
        .map(read_sweep)
        .collect::<Result<Vec<_>, _>>()?;
    let mut replicas: Vec<&Sweep> = extra.iter().collect();
    replicas.extend(sweeps.iter().filter(|s| holds_all(s, &extra[0])));
    seed_noise(&replicas)
        .map(Some)
        .map_err(|e| CliError::Flag(format!("--noise: {e}")))
}

/// Whether a KS distance exceeds both what sampling alone gives (5%) and what
/// retraining the same models with other seeds gave.
fn beyond_noise(pair: &KsPair, noise: Option<&SeedNoise>) -> bool {
    pair.d > pair.critical && noise.is_none_or(|n| pair.d > n.ks_max)
}

fn read_sweep(path: &PathBuf) -> Result<Sweep, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Write {
        path: path.clone(),
        source,
    })?;
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    Sweep::read(&name, &text).map_err(|e| CliError::Flag(format!("{}: {e}", path.display())))
}

/// Every plot as (file name, SVG): the EDFs, then error against each parameter.
fn plots(
    sweeps: &[Sweep],
    c: &Comparison,
    good: &[Vec<ParamRange>],
    searches: &[Vec<SearchPoint>],
    normalize: Option<Normalize>,
) -> Vec<(String, String)> {
    let series: Vec<(&str, &Edf)> = c
        .sweeps
        .iter()
        .map(|s| s.name.as_str())
        .zip(&c.edfs)
        .collect();
    let (title, x_label) = match normalize {
        Some(n) => (
            format!("Error EDFs, normalised by {}", n.measure.name()),
            format!("error | {}", n.measure.name()),
        ),
        None => ("Error EDFs".to_string(), "error".to_string()),
    };
    let curves: Vec<(&str, &[SearchPoint])> = c
        .sweeps
        .iter()
        .map(|s| s.name.as_str())
        .zip(searches.iter().map(Vec::as_slice))
        .collect();
    let mut out = vec![
        ("edf.svg".to_string(), edf_plot(&title, &x_label, &series)),
        (
            "search.svg".to_string(),
            search_plot("Random search: best error of k models", &curves),
        ),
    ];
    for (sweep, ranges) in sweeps.iter().zip(good) {
        for p in ranges {
            let points: Vec<(f64, f64)> = sweep
                .models
                .iter()
                .filter_map(|m| {
                    m.values
                        .iter()
                        .find(|(n, _)| *n == p.name)
                        .map(|(_, v)| (*v, m.error))
                })
                .collect();
            let title = format!("{}: error against {}", sweep.name, p.name);
            let svg = values_plot(&title, &p.name, &points, Some(p.range));
            out.push((format!("{}-{}.svg", sweep.name, p.name), svg));
        }
    }
    out
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    dir.map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, text))
        .map_err(|source| CliError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// The report page: the text tables, then the plots inline.
fn html(tables: &str, plots: &[(String, String)]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sweep analysis</title>\
         <style>body{font-family:sans-serif;max-width:1320px;margin:2em auto}pre{background:#f6f6f6;padding:1em}\
         figure{display:inline-block;margin:8px}</style></head><body><h1>Sweep analysis</h1>\n",
    );
    out += &format!("<pre>{}</pre>\n", escape(tables));
    for (name, svg) in plots {
        out += &format!(
            "<figure>{svg}<figcaption>{}</figcaption></figure>\n",
            escape(name)
        );
    }
    out + "</body></html>\n"
}

fn table(c: &Comparison, good: &[Vec<ParamRange>], noise: Option<&SeedNoise>) -> String {
    let width = c
        .sweeps
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!("{:width$}    n    min   mean  median  (error %)\n", "sweep");
    for s in &c.sweeps {
        out += &format!(
            "{:width$}  {:>3}  {:>5.1}  {:>5.1}  {:>6.1}{}\n",
            s.name,
            s.n,
            s.min,
            s.mean,
            s.median,
            if s.unfinished > 0 {
                format!("  ({} unfinished runs left out)", s.unfinished)
            } else {
                String::new()
            }
        );
    }
    for (s, ranges) in c.sweeps.iter().zip(good) {
        if ranges.is_empty() {
            continue;
        }
        out += &format!(
            "\n{}: good ranges (bootstrap 95% interval, median)\n",
            s.name
        );
        for p in ranges {
            let r = p.range;
            out += &format!(
                "  {:>8}  {:>9.3} .. {:<9.3} median {:.3}\n",
                p.name, r.low, r.high, r.median
            );
        }
    }
    if let Some(n) = noise {
        out += &format!(
            "\nseed noise: {} models trained with {} seeds; one model's error varies by {:.2} points (sd); \
             KS between seeds mean {:.3}, max {:.3}\n",
            n.models, n.seeds, n.sd, n.ks_mean, n.ks_max
        );
    }
    if !c.ks.is_empty() {
        out += &format!(
            "\nKS distance (0: the same EDF, 1: no overlap), against the 5% sampling bound{}\n",
            if noise.is_some() {
                " and the seed noise"
            } else {
                ""
            }
        );
        for p in &c.ks {
            out += &format!(
                "  {} vs {}: {:.3}  (bound {:.3})  {}\n",
                p.a,
                p.b,
                p.d,
                p.critical,
                if beyond_noise(p, noise) {
                    "a real difference"
                } else {
                    "within noise"
                }
            );
        }
    }
    out.trim_end().to_string()
}
