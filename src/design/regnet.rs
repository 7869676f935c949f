//! The quantized linear rule (paper section 3.3) and pycls's group/bottleneck
//! compatibility adjustment, reproducing `generate_regnet` and
//! `adjust_block_compatibility` bit for bit (NumPy rounding included).

use serde::{Deserialize, Serialize};

use super::error::ParamError;
use super::numpy::round_half_even;
use super::stage::{adjust_compatibility, StageSpec};

/// Largest depth we accept (the paper samples d < 64; the slider stops at 64).
pub const MAX_D: u32 = 128;
/// Largest initial width w0.
pub const MAX_W0: u32 = 8192;
/// Largest slope wa.
pub const MAX_WA: f64 = 8192.0;
/// Largest width multiplier wm.
pub const MAX_WM: f64 = 16.0;
/// Largest quantum q.
pub const MAX_Q: u32 = 256;
/// Largest group width g.
pub const MAX_G: u32 = 8192;
/// Bottleneck ratio range (paper b; pycls stores 1/b as `bot_mul`).
pub const MIN_B: f64 = 1.0 / 16.0;
pub const MAX_B: f64 = 64.0;
/// No layer may have more channels than this: it keeps every count in `u64` and
/// rejects parameter sets that only describe absurd networks.
pub const MAX_WIDTH: u64 = 65_536;

/// The six RegNet parameters plus the quantum and the X/Y (squeeze-excitation) switch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegNetParams {
    /// Depth: number of blocks.
    pub d: u32,
    /// Initial width, the width of block 0 (a multiple of `q`).
    pub w0: u32,
    /// Slope: how much the continuous width grows per block.
    pub wa: f64,
    /// Width multiplier between consecutive stages (> 1).
    pub wm: f64,
    /// Group width of the 3x3 group convolutions.
    pub g: u32,
    /// Bottleneck ratio (paper's b: block width / bottleneck width; RegNetX uses 1).
    pub b: f64,
    /// Widths are multiples of this quantum (pycls uses 8).
    pub q: u32,
    /// RegNetY: squeeze-excitation in every block.
    pub se: bool,
}

impl Default for RegNetParams {
    /// RegNetX-200MF.
    fn default() -> Self {
        RegNetParams {
            d: 13,
            w0: 24,
            wa: 36.44,
            wm: 2.49,
            g: 8,
            b: 1.0,
            q: 8,
            se: false,
        }
    }
}

/// Per-block result of the quantized linear rule, before the compatibility fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantized {
    /// u_j = w0 + wa * j.
    pub block_widths_continuous: Vec<f64>,
    /// s_j = log(u_j / w0) / log(wm), before rounding.
    pub exponents: Vec<f64>,
    /// w_j = w0 * wm^round(s_j), rounded to a multiple of q.
    pub block_widths: Vec<u32>,
    /// Distinct block widths in increasing order (one per stage).
    pub stage_widths: Vec<u32>,
    /// How many blocks have each of those widths.
    pub depths: Vec<u32>,
    /// Number of distinct widths.
    pub num_stages: u32,
    /// max round(s_j) + 1: larger than `num_stages` when two exponents give one width.
    pub total_stages: u32,
}

/// One stage after the compatibility adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    /// Number of blocks.
    pub depth: u32,
    /// Output width of every block, after adjustment.
    pub width: u32,
    /// Width the quantized rule gave, before adjustment.
    pub raw_width: u32,
    /// Group width after clipping to the bottleneck width.
    pub group_width: u32,
    /// Bottleneck width w * (1/b).
    pub bottleneck_width: u32,
    /// Number of groups of the 3x3 conv: bottleneck width / group width.
    pub groups: u32,
}

/// A RegNet's stage structure: the quantized rule plus the adjusted stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegNetShape {
    pub params: RegNetParams,
    pub quantized: Quantized,
    pub stages: Vec<Stage>,
}

impl RegNetParams {
    /// pycls's `bot_mul`: the inverse of the paper's bottleneck ratio.
    pub fn bot_mul(&self) -> f64 {
        1.0 / self.b
    }

    /// Checks every range pycls asserts, plus our size limits.
    pub fn validate(&self) -> Result<(), ParamError> {
        if !(1..=MAX_D).contains(&self.d) {
            return Err(ParamError::Depth {
                got: self.d,
                max: MAX_D,
            });
        }
        if !(1..=MAX_Q).contains(&self.q) {
            return Err(ParamError::Quantum {
                got: self.q,
                max: MAX_Q,
            });
        }
        if !(1..=MAX_W0).contains(&self.w0) {
            return Err(ParamError::W0Range {
                got: self.w0,
                max: MAX_W0,
            });
        }
        if !self.w0.is_multiple_of(self.q) {
            return Err(ParamError::W0NotMultiple {
                w0: self.w0,
                q: self.q,
            });
        }
        if !(self.wa >= 0.0 && self.wa <= MAX_WA) {
            return Err(ParamError::Slope {
                got: self.wa,
                max: MAX_WA,
            });
        }
        if !(self.wm > 1.0 && self.wm <= MAX_WM) {
            return Err(ParamError::Multiplier {
                got: self.wm,
                max: MAX_WM,
            });
        }
        if !(1..=MAX_G).contains(&self.g) {
            return Err(ParamError::GroupWidth {
                got: self.g,
                max: MAX_G,
            });
        }
        if !(self.b >= MIN_B && self.b <= MAX_B) {
            return Err(ParamError::Bottleneck {
                got: self.b,
                min: MIN_B,
                max: MAX_B,
            });
        }
        let m = self.bot_mul();
        if !(m < 1.0 || m.fract() == 0.0) {
            return Err(ParamError::BottleneckNotInverse { got: self.b });
        }
        Ok(())
    }

    /// The quantized linear rule (pycls `generate_regnet`).
    pub fn quantize(&self) -> Result<Quantized, ParamError> {
        self.validate()?;
        let (w0, q) = (f64::from(self.w0), f64::from(self.q));
        let ln_wm = self.wm.ln();
        let cont: Vec<f64> = (0..self.d).map(|j| f64::from(j) * self.wa + w0).collect();
        let exponents: Vec<f64> = cont.iter().map(|u| (u / w0).ln() / ln_wm).collect();
        let mut block_widths = Vec::with_capacity(cont.len());
        let mut max_k = 0.0f64;
        for s in &exponents {
            let k = round_half_even(*s);
            max_k = max_k.max(k);
            let w = round_half_even(w0 * self.wm.powf(k) / q) * q;
            if w > MAX_WIDTH as f64 {
                return Err(ParamError::TooWide {
                    width: w as u64,
                    max: MAX_WIDTH,
                });
            }
            block_widths.push(w as u32);
        }
        let mut sorted = block_widths.clone();
        sorted.sort_unstable();
        let mut stage_widths: Vec<u32> = Vec::new();
        let mut depths: Vec<u32> = Vec::new();
        for w in sorted {
            if stage_widths.last() == Some(&w) {
                *depths.last_mut().expect("depths follow widths") += 1;
            } else {
                stage_widths.push(w);
                depths.push(1);
            }
        }
        Ok(Quantized {
            num_stages: stage_widths.len() as u32,
            total_stages: (max_k as u32).saturating_add(1),
            block_widths_continuous: cont,
            exponents,
            block_widths,
            stage_widths,
            depths,
        })
    }

    /// A short name for plots and run lists: the four rule parameters, g, and SE.
    pub fn label(&self) -> String {
        format!(
            "d={} w0={} wa={} wm={} g={}{}",
            self.d,
            self.w0,
            self.wa,
            self.wm,
            self.g,
            if self.se { " SE" } else { "" }
        )
    }

    /// Quantized rule followed by the compatibility adjustment.
    pub fn shape(&self) -> Result<RegNetShape, ParamError> {
        let quantized = self.quantize()?;
        let stages = quantized
            .stage_widths
            .iter()
            .zip(&quantized.depths)
            .map(|(&raw_width, &depth)| {
                let fixed = adjust_compatibility(raw_width, self.b, self.g)?;
                Ok(Stage {
                    depth,
                    width: fixed.width,
                    raw_width,
                    group_width: fixed.group_width,
                    bottleneck_width: fixed.bottleneck_width,
                    groups: fixed.groups,
                })
            })
            .collect::<Result<Vec<_>, ParamError>>()?;
        Ok(RegNetShape {
            params: *self,
            quantized,
            stages,
        })
    }
}

impl RegNetShape {
    /// The network's stages as AnyNet stage specs: every stage stride 2, the adjusted
    /// widths, the shared b and the adjusted group widths.
    pub fn stage_specs(&self) -> Vec<StageSpec> {
        self.stages
            .iter()
            .map(|s| StageSpec {
                depth: s.depth,
                width: s.width,
                bottleneck_ratio: self.params.b,
                group_width: s.group_width,
                stride: 2,
            })
            .collect()
    }

    /// Stage depths.
    pub fn depths(&self) -> Vec<u32> {
        self.stages.iter().map(|s| s.depth).collect()
    }

    /// Stage widths after adjustment.
    pub fn widths(&self) -> Vec<u32> {
        self.stages.iter().map(|s| s.width).collect()
    }

    /// Stage group widths after adjustment.
    pub fn group_widths(&self) -> Vec<u32> {
        self.stages.iter().map(|s| s.group_width).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(d: u32, w0: u32, wa: f64, wm: f64) -> RegNetParams {
        RegNetParams {
            d,
            w0,
            wa,
            wm,
            ..RegNetParams::default()
        }
    }

    #[test]
    fn paper_worked_example() {
        let s = p(4, 32, 8.0, 2.0).shape().unwrap();
        assert_eq!(
            s.quantized.block_widths_continuous,
            vec![32.0, 40.0, 48.0, 56.0]
        );
        assert_eq!(s.quantized.block_widths, vec![32, 32, 64, 64]);
        assert_eq!(s.depths(), vec![2, 2]);
        assert_eq!(s.widths(), vec![32, 64]);
        assert_eq!((s.quantized.num_stages, s.quantized.total_stages), (2, 2));
        let rounded: Vec<f64> = s
            .quantized
            .exponents
            .iter()
            .map(|e| (e * 100.0).round() / 100.0)
            .collect();
        assert_eq!(rounded, vec![0.0, 0.32, 0.58, 0.81]);
    }

    #[test]
    fn quantization_rounds_half_to_even() {
        // u_1 = 20 = w0 * wm exactly; 20 / 8 = 2.5 -> 2 under NumPy, 3 under f64::round.
        let s = p(2, 8, 12.0, 2.5).shape().unwrap();
        assert_eq!(s.quantized.block_widths, vec![8, 16]);
    }

    #[test]
    fn exponent_rounds_half_to_even() {
        // s_1 = log(2) / log(4) = 0.5 exactly -> 0: both blocks in one stage.
        let s = p(2, 8, 8.0, 4.0).shape().unwrap();
        assert_eq!(s.quantized.exponents[1], 0.5);
        assert_eq!(s.depths(), vec![2]);
        assert_eq!(s.quantized.total_stages, 1);
    }

    #[test]
    fn compatibility_clips_and_rounds_group_width() {
        // Raw widths [24, 32, 56, 80] with g = 16: 24 / 16 = 1.5 rounds to 2 -> 32,
        // 56 / 16 = 3.5 rounds to 4 -> 64.
        let s = RegNetParams {
            g: 16,
            ..p(8, 24, 8.0, 1.5)
        }
        .shape()
        .unwrap();
        assert_eq!(s.quantized.stage_widths, vec![24, 32, 56, 80]);
        assert_eq!(s.widths(), vec![32, 32, 64, 80]);
        let small = RegNetParams {
            g: 64,
            ..p(1, 8, 0.0, 2.0)
        }
        .shape()
        .unwrap();
        assert_eq!(
            small.group_widths(),
            vec![8],
            "g is clipped to the bottleneck width"
        );
    }

    #[test]
    fn invalid_parameters_are_typed_errors() {
        let base = RegNetParams::default();
        let cases = [
            RegNetParams { d: 0, ..base },
            RegNetParams { w0: 20, ..base },
            RegNetParams { wa: -1.0, ..base },
            RegNetParams {
                wa: f64::NAN,
                ..base
            },
            RegNetParams { wm: 1.0, ..base },
            RegNetParams {
                wm: f64::INFINITY,
                ..base
            },
            RegNetParams { g: 0, ..base },
            RegNetParams { b: 0.0, ..base },
            RegNetParams { b: -2.0, ..base },
            RegNetParams { b: 0.3, ..base },
            RegNetParams { q: 0, ..base },
            RegNetParams {
                d: 128,
                w0: 8192,
                wa: 8192.0,
                ..base
            },
        ];
        for c in cases {
            let err = c.shape().expect_err(&format!("{c:?} should be rejected"));
            assert!(!err.to_string().is_empty());
        }
        assert!(matches!(
            RegNetParams { w0: 20, ..base }.shape(),
            Err(ParamError::W0NotMultiple { w0: 20, q: 8 })
        ));
    }
}
