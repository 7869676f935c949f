//! Reading sweeps from files: our run records (one JSON per line, `regnet sweep`),
//! pycls's collected `sweep.json` (`tools/sweep_collect.py`), and the NDS paper's
//! records. The format is recognised from the text.

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::{Sweep, SweepModel};
use crate::run::{EpochPoint, RunCurves, RunRecord};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Record { line: usize, message: String },
    #[error("not a sweep: {0}")]
    Format(String),
    #[error("model {index}: {message}")]
    Model { index: usize, message: String },
}

impl Sweep {
    /// The sweep in `text`, named `name`: run records (JSON lines), a pycls
    /// `sweep.json` (an array of jobs with `cfg`), or NDS records (an array of models
    /// with `min_test_top1`).
    pub fn read(name: &str, text: &str) -> Result<Sweep, ImportError> {
        if !text.trim_start().starts_with('[') {
            let records = text
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .map(|(n, line)| {
                    RunRecord::from_json(line).map_err(|e| ImportError::Record {
                        line: n + 1,
                        message: e.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Sweep::from_records(name, &records));
        }
        let items: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| ImportError::Format(format!("a JSON array that does not parse ({e})")))?;
        let first = items
            .first()
            .ok_or_else(|| ImportError::Format("an empty array".into()))?;
        if first.get("cfg").is_some() {
            from_pycls(name, &items)
        } else if first.get("min_test_top1").is_some() {
            from_nds(name, &items)
        } else {
            Err(ImportError::Format(
                "expected run records (JSON lines), pycls's sweep.json (jobs with \"cfg\") or NDS records (models with \"min_test_top1\")".into(),
            ))
        }
    }
}

/// pycls's collected jobs. The error is the lowest `min_top1_err` of `test_ema_epoch`,
/// as pycls's own analysis takes it; where a job has no EMA evaluation we fall back to
/// `test_epoch` (pycls drops such jobs). Jobs with neither (crashed before testing)
/// count as unfinished. The parameters come from `cfg.DESC`, which pycls's sweep set-up
/// writes as the sampled "KEY value" pairs (`REGNET.DEPTH 20 REGNET.W0 48 ...`), named
/// by their last part in lower case; without one, from the AnyNet per-stage lists.
fn from_pycls(name: &str, jobs: &[Value]) -> Result<Sweep, ImportError> {
    let mut sweep = Sweep {
        name: name.to_string(),
        models: vec![],
        unfinished: 0,
    };
    for (index, job) in jobs.iter().enumerate() {
        let best = |phase: &str| {
            job.get(phase)?
                .get("min_top1_err")?
                .as_array()?
                .iter()
                .filter_map(Value::as_f64)
                .reduce(f64::min)
        };
        let Some(error) = best("test_ema_epoch").or_else(|| best("test_epoch")) else {
            sweep.unfinished += 1;
            continue;
        };
        let count = |key: &str| {
            job.get("complexity")
                .and_then(|c| c.get(key))
                .and_then(Value::as_f64)
                .map(|x| x as u64)
                .ok_or_else(|| ImportError::Model {
                    index,
                    message: format!("no complexity.{key}"),
                })
        };
        let cfg = &job["cfg"];
        let mut values = desc_values(cfg.get("DESC").and_then(Value::as_str).unwrap_or(""));
        if values.is_empty() {
            values = anynet_values(&cfg["ANYNET"]["DEPTHS"], &cfg["ANYNET"]["WIDTHS"], 0);
        }
        // The test curve the error came from: EMA where pycls kept one.
        let test = if job.get("test_ema_epoch").is_some() {
            &job["test_ema_epoch"]
        } else {
            &job["test_epoch"]
        };
        sweep.models.push(SweepModel {
            id: index,
            error,
            flops: count("flops")?,
            params: count("params")?,
            acts: count("acts")?,
            values,
            shape: None,
            curves: Some(RunCurves {
                train_loss: epoch_points(
                    &job["train_epoch"]["epoch_ind"],
                    &job["train_epoch"]["loss"],
                    1.0,
                ),
                test_error: epoch_points(&test["epoch_ind"], &test["top1_err"], 0.01),
            }),
        });
    }
    Ok(sweep)
}

/// Per-epoch points from a list of values, `scale`d (percent to a fraction), against
/// a list of 1-based epochs, or 1, 2, ... when there is none; non-numbers skipped.
fn epoch_points(epochs: &Value, values: &Value, scale: f64) -> Vec<EpochPoint> {
    let Some(values) = values.as_array() else {
        return vec![];
    };
    let epochs = epochs.as_array();
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let epoch = match epochs {
                Some(e) => e.get(i)?.as_u64()?,
                None => i as u64 + 1,
            };
            Some(EpochPoint {
                epoch: u32::try_from(epoch).ok()?,
                value: v.as_f64()? * scale,
            })
        })
        .collect()
}

/// "REGNET.DEPTH 20 REGNET.W0 48" -> [("depth", 20), ("w0", 48)]; non-numbers skipped.
fn desc_values(desc: &str) -> Vec<(String, f64)> {
    let words: Vec<&str> = desc.split_whitespace().collect();
    words
        .chunks(2)
        .filter_map(|pair| match pair {
            [key, value] => {
                let name = key.rsplit('.').next().unwrap_or(key).to_lowercase();
                value.parse::<f64>().ok().map(|v| (name, v))
            }
            _ => None,
        })
        .collect()
}

/// Per-stage depths and widths as d1, w1, d2, w2, ...; `skip` leading entries (NDS
/// lists the stem first).
fn anynet_values(depths: &Value, widths: &Value, skip: usize) -> Vec<(String, f64)> {
    let list = |v: &Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().skip(skip).filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (ds, ws) = (list(depths), list(widths));
    ds.iter()
        .zip(&ws)
        .enumerate()
        .flat_map(|(i, (d, w))| [(format!("d{}", i + 1), *d), (format!("w{}", i + 1), *w)])
        .collect()
}

/// One model of the NDS paper's data.
#[derive(Deserialize)]
struct NdsModel {
    /// Best test top-1 error, in percent.
    min_test_top1: f64,
    flops: f64,
    params: f64,
    #[serde(default)]
    net: Value,
    /// Per-epoch test error (percent) and training loss.
    #[serde(default)]
    test_ep_top1: Value,
    #[serde(default)]
    train_ep_loss: Value,
}

/// NDS records: `min_test_top1` is the error; `net.ds` and `net.ws` (index 0 the stem)
/// give the per-stage values. NDS has no activation counts (0 here).
fn from_nds(name: &str, items: &[Value]) -> Result<Sweep, ImportError> {
    let models = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let m: NdsModel =
                serde_json::from_value(item.clone()).map_err(|e| ImportError::Model {
                    index,
                    message: e.to_string(),
                })?;
            Ok(SweepModel {
                id: index,
                error: m.min_test_top1,
                flops: m.flops as u64,
                params: m.params as u64,
                acts: 0,
                values: anynet_values(&m.net["ds"], &m.net["ws"], 1),
                shape: None,
                curves: Some(RunCurves {
                    train_loss: epoch_points(&Value::Null, &m.train_ep_loss, 1.0),
                    test_error: epoch_points(&Value::Null, &m.test_ep_top1, 0.01),
                }),
            })
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    Ok(Sweep {
        name: name.to_string(),
        models,
        unfinished: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyclss_collected_sweep_reads_with_its_errors() {
        // Made by pycls's own logging and collection code (tests/golden/gen_pycls_sweep.py).
        let text = include_str!("../../tests/golden/pycls_sweep.json");
        let sweep = Sweep::read("cifar_regnet", text).unwrap();
        let errors: Vec<f64> = sweep.errors();
        // The lowest EMA error per job; job 5 has no EMA (test_epoch instead); job 4
        // crashed before testing.
        assert_eq!(errors, [22.9, 23.63, 28.93, 21.86, 24.71]);
        assert_eq!(sweep.unfinished, 1);
        let first = &sweep.models[0];
        assert_eq!(
            (first.flops, first.params, first.acts),
            (120_000_000, 1_500_000, 900_000)
        );
        let names: Vec<&str> = first.values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["depth", "w0", "wa", "wm", "group_w", "bot_mul"]);
        assert_eq!(first.values[2].1, 25.6);
        // Models keep their job's number (job 4 crashed, so the fifth model is job 5),
        // and their curves: pycls's per-epoch loss and EMA error (percent to a fraction).
        let ids: Vec<usize> = sweep.models.iter().map(|m| m.id).collect();
        assert_eq!(ids, [0, 1, 2, 3, 5]);
        let curves = first.curves.as_ref().unwrap();
        let epochs: Vec<u32> = curves.train_loss.iter().map(|p| p.epoch).collect();
        assert_eq!(epochs, [1, 2, 3]);
        let errors: Vec<f64> = curves.test_error.iter().map(|p| p.value * 100.0).collect();
        for (got, want) in errors.iter().zip([26.03, 22.9, 34.63]) {
            assert!((got - want).abs() < 1e-9, "{errors:?}");
        }
        assert_eq!(errors.len(), 3);
    }

    #[test]
    fn nds_records_read_with_per_stage_values() {
        let text = r#"[
            {"min_test_top1": 7.5, "flops": 400.5, "params": 3.1e6, "rng_seed": 1, "job_id": "a",
             "net": {"block_type": "res_bottleneck_block", "ds": [1, 2, 3], "ws": [16, 32, 64],
                     "ss": [1, 1, 2], "bot_muls": [0, 1, 1], "num_gs": [0, 1, 2]}},
            {"min_test_top1": 9.0, "flops": 380, "params": 2e6, "net": {"ds": [1, 1, 1], "ws": [16, 24, 48]},
             "test_ep_top1": [20.0, 9.0], "train_ep_loss": [1.5, 0.75]}
        ]"#;
        let sweep = Sweep::read("nds", text).unwrap();
        assert_eq!(sweep.errors(), [7.5, 9.0]);
        assert_eq!(sweep.models[0].flops, 400);
        let values: Vec<(&str, f64)> = sweep.models[0]
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            values,
            [("d1", 2.0), ("w1", 32.0), ("d2", 3.0), ("w2", 64.0)]
        );
        let curves = sweep.models[1].curves.as_ref().unwrap();
        let points = |c: &[EpochPoint]| c.iter().map(|p| (p.epoch, p.value)).collect::<Vec<_>>();
        assert_eq!(points(&curves.test_error), [(1, 0.2), (2, 0.09)]);
        assert_eq!(points(&curves.train_loss), [(1, 1.5), (2, 0.75)]);
        assert!(sweep.models[0]
            .curves
            .as_ref()
            .unwrap()
            .test_error
            .is_empty());
    }

    #[test]
    fn unknown_text_is_named() {
        let err = Sweep::read("x", r#"[{"foo": 1}]"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not a sweep: expected run records"),
            "{err}"
        );
        let err = Sweep::read("x", "{\"schema\": 1}\n").unwrap_err();
        assert!(err.to_string().starts_with("line 1:"), "{err}");
    }
}
