//! The published models of the paper's comparison (its figures and tables setting
//! RegNetX and RegNetY against ResNet, ResNeXt and EfficientNet): the pycls model
//! zoo's ImageNet results, and for the RegNets our own complexity beside them.
//!
//! The numbers are pycls's `dev/model_complexity.json`, `dev/model_error.json` and
//! `dev/model_timing.json` (facebookresearch/pycls, commit 5719de6), the files behind
//! its MODEL_ZOO.md, copied into `published-models.csv` next to this file: flops,
//! params and activations at the training resolution (224 px, except EfficientNet),
//! top-1 and top-5 error in percent (mean of 5 runs, 100 epochs, 8 V100 GPUs), the
//! forward time of 64 images on one GPU and a training step's forward and backward
//! time, in seconds.

use super::presets::Preset;
use super::{Complexity, Dataset, NetSpec};

/// pycls's MODEL_ZOO.md, which the page cites beside the numbers.
pub const SOURCE: &str = "https://github.com/facebookresearch/pycls/blob/main/MODEL_ZOO.md";

/// The table as shipped (compiled in, so the page and the CLI need no file).
const CSV: &str = include_str!("published-models.csv");

/// The families in the order the page lists them.
pub const FAMILIES: [&str; 5] = ["RegNetX", "RegNetY", "ResNet", "ResNeXt", "EfficientNet"];

/// One model's published results.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// e.g. `RegNetX-200MF`, `ResNet-50`.
    pub model: String,
    /// One of `FAMILIES`.
    pub family: String,
    /// Its pycls config, e.g. `configs/dds_baselines/regnetx/RegNetX-200MF_dds_8gpu.yaml`.
    pub config: String,
    pub flops: u64,
    pub params: u64,
    pub acts: u64,
    /// Percent.
    pub top1_err: f64,
    pub top5_err: f64,
    /// Seconds for a forward pass of 64 images on one GPU.
    pub test_time_s: f64,
    /// Seconds for a training step (forward and backward) of 64 images on one GPU.
    pub train_time_s: f64,
}

impl Published {
    /// Our preset of the same name: every published RegNet has one.
    pub fn preset(&self) -> Option<&'static Preset> {
        Preset::find(&self.model).ok()
    }

    /// Our complexity of the model at ImageNet resolution, where it is a RegNet.
    pub fn ours(&self) -> Option<Complexity> {
        let shape = self.preset()?.params().shape().ok()?;
        Some(NetSpec::new(&shape, Dataset::Imagenet).complexity())
    }

    /// Whether our flops, params and activations are exactly the published ones
    /// (`None` for a model that is not a RegNet).
    pub fn agrees(&self) -> Option<bool> {
        let ours = self.ours()?;
        Some((ours.flops, ours.params, ours.acts) == (self.flops, self.params, self.acts))
    }
}

/// The columns read, in the order `published` reads them.
const COLUMNS: [&str; 10] = [
    "model",
    "family",
    "pycls_config",
    "flops",
    "params",
    "acts",
    "top1_err",
    "top5_err",
    "test_fw_time_s",
    "train_fw_bw_time_s",
];

/// The 36 published models, family by family in `FAMILIES`' order, each family by
/// size. An error names the line that could not be read.
pub fn published() -> Result<Vec<Published>, String> {
    let mut lines = CSV.lines().enumerate();
    let (_, header) = lines.next().ok_or("the table is empty")?;
    let columns: Vec<&str> = header.split(',').collect();
    let mut at_column = [0; COLUMNS.len()];
    for (slot, name) in at_column.iter_mut().zip(COLUMNS) {
        *slot = columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("the table has no column '{name}'"))?;
    }
    let mut models = lines
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            let field = |i: usize| fields.get(at_column[i]).copied().unwrap_or("");
            let wrong = |what: &str| format!("line {}: {what} is not a number", n + 1);
            let count = |i: usize, what: &str| field(i).parse::<u64>().map_err(|_| wrong(what));
            let real = |i: usize, what: &str| field(i).parse::<f64>().map_err(|_| wrong(what));
            let family = field(1).to_string();
            if !FAMILIES.contains(&family.as_str()) {
                return Err(format!("line {}: unknown family '{family}'", n + 1));
            }
            Ok(Published {
                model: field(0).to_string(),
                family,
                config: field(2).to_string(),
                flops: count(3, "flops")?,
                params: count(4, "params")?,
                acts: count(5, "acts")?,
                top1_err: real(6, "top-1 error")?,
                top5_err: real(7, "top-5 error")?,
                test_time_s: real(8, "the inference time")?,
                train_time_s: real(9, "the training time")?,
            })
        })
        .collect::<Result<Vec<Published>, String>>()?;
    let family = |m: &Published| FAMILIES.iter().position(|f| *f == m.family);
    models.sort_by_key(|m| (family(m), m.flops));
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::PRESETS;

    #[test]
    fn the_table_reads_whole() {
        let models = published().unwrap();
        assert_eq!(models.len(), 36);
        assert_eq!(models[0].model, "RegNetX-200MF");
        assert_eq!(models[35].model, "EfficientNet-B5");
        for family in FAMILIES {
            assert!(models.iter().any(|m| m.family == family), "{family}");
        }
        let r50 = models.iter().find(|m| m.model == "ResNet-50").unwrap();
        assert_eq!((r50.flops, r50.top1_err), (4_089_185_256, 23.19));
        assert!(r50.preset().is_none() && r50.agrees().is_none());
    }

    #[test]
    fn every_published_regnet_is_a_preset_whose_complexity_agrees() {
        let models = published().unwrap();
        let regnets: Vec<&Published> = models.iter().filter(|m| m.preset().is_some()).collect();
        assert_eq!(regnets.len(), PRESETS.len());
        for m in regnets {
            let ours = m.ours().unwrap();
            assert_eq!(
                (ours.flops, ours.params, ours.acts),
                (m.flops, m.params, m.acts),
                "{}",
                m.model
            );
            assert_eq!(m.agrees(), Some(true));
        }
    }
}
