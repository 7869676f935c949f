//! Sweeps as populations: the trained models of one design space, read from our run
//! records, and their comparison (the EDF summaries and pairwise KS distances that
//! `regnet analyze` prints and the page will draw). Pure: no Burn, no I/O.

pub mod export;
pub mod import;
pub mod noise;
pub mod plan;
pub mod queue;

pub use export::{pycls_sweep, ExportFile};
pub use import::ImportError;
pub use noise::{holds_all, seed_noise, NoiseError, SeedNoise};

use serde::Serialize;

use crate::run::{RunCurves, RunRecord, RunStatus};
use crate::stats::{
    best_of_resamples, good_range, ks_critical, ks_distance, normalized_weights, random_search,
    Edf, GoodRange, SearchPoint, StatsError,
};

/// One trained model of a sweep: its error in percent (as pycls reports it), its
/// complexity and the parameters it was drawn with, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepModel {
    /// The model's number in its sweep: its place in the sample for a run a sweep drew,
    /// else its place in the file. Stable across reloads, so a link can name a model.
    pub id: usize,
    pub error: f64,
    pub flops: u64,
    pub params: u64,
    pub acts: u64,
    /// (name, value): d, w0, wa, wm and g for RegNets; per-stage depth and width
    /// (d1, w1, ...), b and g for AnyNets.
    pub values: Vec<(String, f64)>,
    /// The shape explorer's query, for a RegNet a sweep drew (the page links its marks).
    #[serde(skip)]
    pub shape: Option<String>,
    /// Training loss and test error per epoch, where the file has them.
    #[serde(skip)]
    pub curves: Option<RunCurves>,
}

/// A sweep: its name (the file's stem), the models that finished, and how many runs
/// did not (diverged, cancelled), which no EDF can include.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    pub name: String,
    pub models: Vec<SweepModel>,
    pub unfinished: usize,
}

impl SweepModel {
    /// The model in words, from its drawn values ("d=13 w0=24 wa=36.4 wm=2.5 g=8").
    pub fn label(&self) -> String {
        let values: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        values.join(" ")
    }
}

impl Sweep {
    /// The sweep of `records` (`regnet sweep`'s lines): finished runs become models,
    /// their parameters taken from the sweep slot when the record has one.
    pub fn from_records(name: &str, records: &[RunRecord]) -> Sweep {
        let mut sweep = Sweep {
            name: name.to_string(),
            models: vec![],
            unfinished: 0,
        };
        for (position, record) in records.iter().enumerate() {
            let (RunStatus::Finished, Some(result)) = (&record.status, &record.result) else {
                sweep.unfinished += 1;
                continue;
            };
            let cx = record.spec.net.complexity();
            let slot = record.spec.sweep.as_ref();
            let values = slot.map(|s| model_values(&s.model)).unwrap_or_default();
            sweep.models.push(SweepModel {
                id: slot.map_or(position, |s| s.index),
                error: 100.0 * result.test_error,
                flops: cx.flops,
                params: cx.params,
                acts: cx.acts,
                values,
                shape: slot.and_then(|s| s.model.shape_query()),
                curves: Some(record.curves.clone()),
            });
        }
        sweep
    }

    /// The model numbered `id`.
    pub fn model(&self, id: usize) -> Option<&SweepModel> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The errors, in percent.
    pub fn errors(&self) -> Vec<f64> {
        self.models.iter().map(|m| m.error).collect()
    }
}

fn model_values(model: &crate::space::Model) -> Vec<(String, f64)> {
    let mut values = vec![];
    if let (Some(d), Some(w0), Some(wa), Some(wm)) = (model.d, model.w0, model.wa, model.wm) {
        values.extend([
            ("d".to_string(), f64::from(d)),
            ("w0".to_string(), f64::from(w0)),
            ("wa".to_string(), wa),
            ("wm".to_string(), wm),
        ]);
    } else {
        for (i, (d, w)) in model.depths.iter().zip(&model.widths).enumerate() {
            values.push((format!("d{}", i + 1), f64::from(*d)));
            values.push((format!("w{}", i + 1), f64::from(*w)));
        }
        if let Some(b) = model.bottleneck_ratios.first() {
            values.push(("b".to_string(), *b));
        }
    }
    if let Some(g) = model.group_widths.first() {
        values.push(("g".to_string(), f64::from(*g)));
    }
    values
}

/// The complexity measure an EDF can be normalised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Flops,
    Params,
}

impl Measure {
    /// The measure's name in labels ("flops", "params").
    pub fn name(self) -> &'static str {
        match self {
            Measure::Flops => "flops",
            Measure::Params => "params",
        }
    }

    fn of(self, model: &SweepModel) -> f64 {
        match self {
            Measure::Flops => model.flops as f64,
            Measure::Params => model.params as f64,
        }
    }
}

/// How to normalise: by `measure`, in `bins` bins over (low, high); without a range,
/// over the complexity all sweeps share (the overlap of their ranges).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Normalize {
    pub measure: Measure,
    pub bins: usize,
    pub range: Option<(f64, f64)>,
}

/// One sweep's summary: errors in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub name: String,
    pub n: usize,
    pub min: f64,
    pub mean: f64,
    pub median: f64,
    /// Runs that did not finish (not in the EDF).
    pub unfinished: usize,
}

/// The KS distance between two sweeps' EDFs, and the distance sampling alone would
/// exceed one time in twenty at their (effective) sizes: a `d` below `critical` is no
/// evidence that the spaces differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KsPair {
    pub a: String,
    pub b: String,
    pub d: f64,
    pub critical: f64,
}

/// Sweeps compared: each one's EDF and summary, and the KS distance of every pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub sweeps: Vec<Summary>,
    pub ks: Vec<KsPair>,
    #[serde(skip)]
    pub edfs: Vec<Edf>,
}

/// Compares `sweeps` by their error EDFs, plain or complexity-normalised. An error
/// names the sweep it comes from.
pub fn compare(sweeps: &[Sweep], normalize: Option<Normalize>) -> Result<Comparison, SweepError> {
    let range = normalize.map(|n| n.range.unwrap_or_else(|| shared_range(sweeps, n.measure)));
    let mut edfs = vec![];
    for sweep in sweeps {
        let named = |source| SweepError {
            sweep: sweep.name.clone(),
            source,
        };
        let edf = match (normalize, range) {
            (Some(n), Some((low, high))) => {
                let measure: Vec<f64> = sweep.models.iter().map(|m| n.measure.of(m)).collect();
                let (kept, weights) =
                    normalized_weights(&measure, low, high, n.bins).map_err(named)?;
                let errors: Vec<f64> = kept.iter().map(|&i| sweep.models[i].error).collect();
                Edf::weighted(&errors, &weights)
            }
            _ => Edf::new(&sweep.errors()),
        }
        .map_err(named)?;
        edfs.push(edf);
    }
    let summaries = sweeps
        .iter()
        .zip(&edfs)
        .map(|(sweep, edf)| Summary {
            name: sweep.name.clone(),
            n: edf.n(),
            min: edf.min(),
            mean: edf.mean(),
            median: edf.median(),
            unfinished: sweep.unfinished,
        })
        .collect();
    let mut ks = vec![];
    for i in 0..sweeps.len() {
        for j in i + 1..sweeps.len() {
            ks.push(KsPair {
                a: sweeps[i].name.clone(),
                b: sweeps[j].name.clone(),
                d: ks_distance(&edfs[i], &edfs[j]),
                critical: ks_critical(edfs[i].effective_n(), edfs[j].effective_n(), 0.05),
            });
        }
    }
    Ok(Comparison {
        sweeps: summaries,
        ks,
        edfs,
    })
}

/// The complexity range every sweep covers, widened by a hair so its end models stay
/// inside the open interval the normalisation keeps.
fn shared_range(sweeps: &[Sweep], measure: Measure) -> (f64, f64) {
    let mut low = f64::NEG_INFINITY;
    let mut high = f64::INFINITY;
    for sweep in sweeps {
        let values = sweep.models.iter().map(|m| measure.of(m));
        low = low.max(values.clone().fold(f64::INFINITY, f64::min));
        high = high.min(values.fold(f64::NEG_INFINITY, f64::max));
    }
    let pad = (high - low).abs() * 1e-9 + 1e-9;
    (low - pad, high + pad)
}

/// A parameter's good range in one sweep (pycls's bootstrap).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamRange {
    pub name: String,
    #[serde(flatten)]
    pub range: GoodRange,
}

impl Sweep {
    /// The NDS random-search efficiency of the sweep: the best error of k random
    /// models (k = 1, 2, 4, ... up to the sweep's size), over `trials` draws each.
    pub fn search_curve(&self, trials: usize, rng: &mut impl rand::Rng) -> Vec<SearchPoint> {
        let n = self.models.len();
        let sizes: Vec<usize> = (0..).map(|p| 1usize << p).take_while(|&k| k <= n).collect();
        random_search(
            &self.errors(),
            &vec![1.0 / n.max(1) as f64; n],
            &sizes,
            trials,
            rng,
        )
        .unwrap_or_default()
    }

    /// The good range of every parameter all its models carry: pycls's bootstrap
    /// (`resamples` samples of a quarter of the models, the best of each), seeded by
    /// `rng`. Empty for a sweep without models.
    pub fn good_ranges(&self, resamples: usize, rng: &mut impl rand::Rng) -> Vec<ParamRange> {
        let Ok(best) = best_of_resamples(&self.errors(), resamples, 0.25, rng) else {
            return vec![];
        };
        let Some(first) = self.models.first() else {
            return vec![];
        };
        first
            .values
            .iter()
            .filter_map(|(name, _)| {
                let values: Option<Vec<f64>> = self
                    .models
                    .iter()
                    .map(|m| m.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                    .collect();
                let range = good_range(&values?, &best).ok()?;
                Some(ParamRange {
                    name: name.clone(),
                    range,
                })
            })
            .collect()
    }
}

/// A statistic that failed on one sweep.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{sweep}: {source}")]
pub struct SweepError {
    pub sweep: String,
    pub source: StatsError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(name: &str, errors: &[f64], flops: &[u64]) -> Sweep {
        Sweep {
            name: name.into(),
            models: errors
                .iter()
                .zip(flops)
                .map(|(&error, &flops)| SweepModel {
                    error,
                    flops,
                    ..SweepModel::default()
                })
                .collect(),
            unfinished: 0,
        }
    }

    #[test]
    fn records_keep_their_place_in_the_sample_and_their_curves() {
        let text = include_str!("../../public/sweeps/reference/regnetx.jsonl");
        let sweep = Sweep::read("regnetx", text).unwrap();
        let mut ids: Vec<usize> = sweep.models.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), sweep.models.len(), "one number per model");
        let model = sweep.model(ids[0]).unwrap();
        let curves = model.curves.as_ref().unwrap();
        // The error is the last evaluation's, in percent.
        let last = curves.test_error.last().unwrap();
        assert!((last.value * 100.0 - model.error).abs() < 1e-9, "{last:?}");
        assert!(!curves.train_loss.is_empty());
        assert!(model.shape.is_some());
        assert!(sweep.model(usize::MAX).is_none());
    }

    #[test]
    fn comparisons_summarise_and_measure_every_pair() {
        let a = sweep("a", &[10.0, 20.0, 30.0, 40.0], &[1, 2, 3, 4]);
        let b = sweep("b", &[30.0, 40.0, 50.0, 60.0], &[1, 2, 3, 4]);
        let c = sweep("c", &[10.0, 20.0, 30.0, 40.0], &[1, 2, 3, 4]);
        let got = compare(&[a, b, c], None).unwrap();
        assert_eq!(got.sweeps[0].n, 4);
        assert_eq!(
            (got.sweeps[0].min, got.sweeps[0].mean, got.sweeps[0].median),
            (10.0, 25.0, 20.0)
        );
        let d: Vec<_> = got
            .ks
            .iter()
            .map(|p| (p.a.as_str(), p.b.as_str(), p.d))
            .collect();
        assert_eq!(d, [("a", "b", 0.5), ("a", "c", 0.0), ("b", "c", 0.5)]);
        // 4 against 4 models: 1.358 * sqrt(8 / 16).
        assert!((got.ks[0].critical - 0.960_322).abs() < 1e-6);
    }

    #[test]
    fn good_ranges_cover_each_shared_parameter() {
        let mut s = sweep("s", &[30.0, 10.0, 20.0, 40.0], &[1, 2, 3, 4]);
        for (m, d) in s.models.iter_mut().zip([4.0, 8.0, 6.0, 2.0]) {
            m.values = vec![("d".into(), d)];
        }
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let ranges = s.good_ranges(1_000, &mut rng);
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].name, "d");
        // One model per resample (a quarter of 4): the winners are uniform, so the
        // interval spans the values and the median sits in the middle.
        assert_eq!((ranges[0].range.low, ranges[0].range.high), (2.0, 8.0));
    }

    #[test]
    fn normalising_reweights_by_complexity_and_names_the_failing_sweep() {
        // Sweep a has three cheap models with high error and one costly model with a
        // low error; normalised over two bins, the costly model carries half the mass.
        let a = sweep("a", &[50.0, 50.0, 50.0, 10.0], &[2, 3, 4, 8]);
        let b = sweep("b", &[30.0, 30.0, 30.0, 30.0], &[2, 3, 6, 8]);
        let n = Normalize {
            measure: Measure::Flops,
            bins: 2,
            range: Some((1.0, 9.0)),
        };
        let got = compare(&[a.clone(), b.clone()], Some(n)).unwrap();
        assert_eq!(got.edfs[0].at(10.0), 0.5);
        assert!((got.sweeps[0].mean - 30.0).abs() < 1e-12);
        let err = compare(&[a, b], Some(Normalize { bins: 8, ..n })).unwrap_err();
        assert!(err.to_string().starts_with("a: complexity bin"), "{err}");
    }
}
