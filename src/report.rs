//! Everything the page and the CLI show about one model: its shape, network,
//! complexity, and notes on where it sits relative to the paper's design space.

use serde::Serialize;

use crate::design::{Complexity, Dataset, NetSpec, ParamError, RegNetParams, RegNetShape};

/// One model, fully analysed.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub dataset: Dataset,
    pub shape: RegNetShape,
    pub net: NetSpec,
    pub complexity: Complexity,
}

/// The CLI's `--json` object (keys are part of the CLI's contract).
#[derive(Debug, Serialize)]
pub struct ShapeJson<'a> {
    pub config: &'a RegNetParams,
    pub dataset: Dataset,
    pub depths: Vec<u32>,
    pub widths: Vec<u32>,
    pub group_widths: Vec<u32>,
    pub bottleneck_widths: Vec<u32>,
    pub groups: Vec<u32>,
    pub raw_widths: &'a [u32],
    pub num_stages: u32,
    pub total_stages: u32,
    pub block_widths: &'a [u32],
    pub block_widths_continuous: &'a [f64],
    pub flops: u64,
    #[serde(rename = "params")]
    pub params_count: u64,
    pub acts: u64,
    pub notes: Vec<String>,
    /// Stem and every block, for peers that rebuild the network (bench/torch_regnet.py).
    pub net: &'a NetSpec,
}

impl Report {
    pub fn new(params: &RegNetParams, dataset: Dataset) -> Result<Self, ParamError> {
        let shape = params.shape()?;
        let net = NetSpec::new(&shape, dataset);
        let complexity = net.complexity();
        Ok(Report {
            dataset,
            shape,
            net,
            complexity,
        })
    }

    /// Ways this model leaves the paper's RegNet space, or was changed by pycls's
    /// compatibility fix, in plain words.
    pub fn notes(&self) -> Vec<String> {
        let p = &self.shape.params;
        let q = &self.shape.quantized;
        let mut notes = Vec::new();
        let want = self.dataset.paper_stages();
        if q.num_stages != want {
            notes.push(format!(
                "{} stage{}: the paper's RegNets have {want} at {} (pycls's sweeps reject other counts).",
                q.num_stages,
                if q.num_stages == 1 { "" } else { "s" },
                self.dataset.label()
            ));
        }
        if q.num_stages != q.total_stages {
            notes.push(format!(
                "Two exponents quantized to the same width: total_stages = {} but only {} distinct widths; pycls's sampler rejects such models.",
                q.total_stages, q.num_stages
            ));
        }
        if p.d >= 64 {
            notes.push(format!(
                "d = {} is outside the paper's range (d < 64).",
                p.d
            ));
        }
        if p.w0 >= 256 || p.wa >= 256.0 {
            notes.push("w0 and wa are below 256 in the paper's RegNet space.".to_string());
        }
        if !(1.5..=3.0).contains(&p.wm) {
            notes.push(format!(
                "wm = {} is outside the paper's range 1.5 <= wm <= 3.",
                p.wm
            ));
        }
        for (i, s) in self.shape.stages.iter().enumerate() {
            if s.width != s.raw_width {
                notes.push(format!(
                    "Stage {}: width {} became {} so that its bottleneck is a multiple of the group width {} (pycls's compatibility fix).",
                    i + 1,
                    s.raw_width,
                    s.width,
                    s.group_width
                ));
            } else if s.group_width != p.g {
                notes.push(format!(
                    "Stage {}: group width {} was clipped to the bottleneck width {}.",
                    i + 1,
                    p.g,
                    s.group_width
                ));
            }
        }
        notes
    }

    pub fn to_json(&self) -> ShapeJson<'_> {
        let stages = &self.shape.stages;
        let q = &self.shape.quantized;
        ShapeJson {
            config: &self.shape.params,
            dataset: self.dataset,
            depths: self.shape.depths(),
            widths: self.shape.widths(),
            group_widths: self.shape.group_widths(),
            bottleneck_widths: stages.iter().map(|s| s.bottleneck_width).collect(),
            groups: stages.iter().map(|s| s.groups).collect(),
            raw_widths: &q.stage_widths,
            num_stages: q.num_stages,
            total_stages: q.total_stages,
            block_widths: &q.block_widths,
            block_widths_continuous: &q.block_widths_continuous,
            flops: self.complexity.flops,
            params_count: self.complexity.params,
            acts: self.complexity.acts,
            notes: self.notes(),
            net: &self.net,
        }
    }
}

/// `1234567` -> `1.23M`: counts as a person reads them (pycls reports MF/GF).
pub fn human_count(n: u64) -> String {
    let x = n as f64;
    let (v, unit) = if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "K")
    } else {
        return n.to_string();
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{unit}")
}

/// `1234567` -> `1,234,567`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_like_pycls() {
        assert_eq!(human_count(199_040_872), "199M");
        assert_eq!(human_count(2_684_792), "2.68M");
        assert_eq!(human_count(15_287_914), "15.3M");
        assert_eq!(human_count(1_600_000_000), "1.60G");
        assert_eq!(human_count(512), "512");
        assert_eq!(grouped(2_684_792), "2,684,792");
        assert_eq!(grouped(100), "100");
    }

    #[test]
    fn notes_flag_models_outside_the_paper_space() {
        let paper = Report::new(&RegNetParams::default(), Dataset::Imagenet).unwrap();
        assert!(paper.notes().is_empty(), "{:?}", paper.notes());
        // The paper's worked example has 2 stages: outside the ImageNet space, inside pycls's CIFAR one.
        let example = RegNetParams {
            d: 4,
            w0: 32,
            wa: 8.0,
            wm: 2.0,
            ..Default::default()
        };
        let two = Report::new(&example, Dataset::Imagenet).unwrap();
        assert!(two.notes()[0].starts_with("2 stages"), "{:?}", two.notes());
        let cifar = Report::new(&example, Dataset::Cifar10).unwrap();
        assert!(cifar.notes().is_empty(), "{:?}", cifar.notes());
    }
}
