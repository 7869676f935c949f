//! RegNetX and RegNetY as pycls samples them (`regnet_sampler`, `sweep_setup`,
//! `check_regnet_constraints`): six parameters drawn with pycls's quantized random
//! functions in pycls's order, kept only when the rule gives as many stages as its
//! exponents span and a stage count within range.

use serde::{Deserialize, Serialize};

use super::random::Uniform;
use super::random::{log_uniform, power2_or_log_uniform, power2_uniform, uniform, Quantum};
use super::{Range, SpaceError};
use crate::design::regnet::{MAX_D, MAX_W0, MAX_WA, MAX_WM};
use crate::design::{Quantized, RegNetParams};

/// The ranges of a RegNet space: pycls's `regnet_sampler` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegNetRanges {
    /// d, uniform (pycls `DEPTH`, default 12..28).
    pub depth: Range<u32>,
    /// w0, log-uniform, multiples of 8 (`W0`, 8..256).
    pub w0: Range<u32>,
    /// wa, log-uniform, multiples of 0.1 (`WA`, 8..256).
    pub wa: Range<f64>,
    /// wm, log-uniform, multiples of 0.001 (`WM`, 2..3).
    pub wm: Range<f64>,
    /// Group width: powers of two below 8, else log-uniform multiples of 8
    /// (`GROUP_W`, 8..128; pycls's CIFAR sweep uses 1..32).
    pub group_width: Range<u32>,
    /// pycls's bottleneck multiplier 1/b, powers of two (`BOT_MUL`, 1..1: RegNetX's b = 1).
    pub bot_mul: Range<f64>,
    /// Accepted stage counts (`NUM_STAGES`, 4..4; pycls's CIFAR sweep uses 2..2).
    pub stages: Range<u32>,
}

impl Default for RegNetRanges {
    fn default() -> Self {
        RegNetRanges {
            depth: Range::new(12, 28),
            w0: Range::new(8, 256),
            wa: Range::new(8.0, 256.0),
            wm: Range::new(2.0, 3.0),
            group_width: Range::new(8, 128),
            bot_mul: Range::new(1.0, 1.0),
            stages: Range::new(4, 4),
        }
    }
}

/// One draw of the six parameters, in pycls's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegNetDraw {
    pub d: u32,
    pub w0: u32,
    pub wa: f64,
    pub wm: f64,
    pub group_width: u32,
    pub bot_mul: f64,
}

impl RegNetDraw {
    /// The draw as rule parameters (q = 8, as pycls's sampler fixes it).
    pub fn params(&self, se: bool) -> RegNetParams {
        RegNetParams {
            d: self.d,
            w0: self.w0,
            wa: self.wa,
            wm: self.wm,
            g: self.group_width,
            b: 1.0 / self.bot_mul,
            q: 8,
            se,
        }
    }

    /// The draw in whole quanta, for duplicate checks (pycls compares the printed
    /// values, which are equal exactly when the quanta are).
    pub fn key(&self) -> [u64; 6] {
        [
            self.d.into(),
            self.w0.into(),
            (self.wa * 10.0).round() as u64,
            (self.wm * 1000.0).round() as u64,
            self.group_width.into(),
            (self.bot_mul * 128.0).round() as u64,
        ]
    }
}

fn is_power_of_two(x: f64) -> bool {
    x > 0.0 && x.log2().fract() == 0.0
}

fn whole_quanta(x: f64, per_unit: f64) -> bool {
    ((x * per_unit).round() / per_unit - x).abs() < 1e-9
}

impl RegNetRanges {
    /// Checks the ranges as pycls's `validate_rand` does, within our rule's limits.
    pub fn validate(&self) -> Result<(), SpaceError> {
        self.depth.check("depth", Range::new(1, MAX_D))?;
        self.w0.check("w0", Range::new(8, MAX_W0))?;
        self.wa.check("wa", Range::new(0.1, MAX_WA))?;
        self.wm.check("wm", Range::new(1.001, MAX_WM))?;
        self.group_width.check("group width", Range::new(1, 1024))?;
        self.bot_mul
            .check("bottleneck multiplier", Range::new(1.0 / 64.0, 16.0))?;
        self.stages.check("stages", Range::new(1, 16))?;
        let invalid = |what: String| Err(SpaceError::Invalid(what));
        if !self.w0.low.is_multiple_of(8) || !self.w0.high.is_multiple_of(8) {
            return invalid(format!(
                "the w0 range {}:{} must start and end on multiples of 8",
                self.w0.low, self.w0.high
            ));
        }
        if !whole_quanta(self.wa.low, 10.0) || !whole_quanta(self.wa.high, 10.0) {
            return invalid("the wa range must start and end on multiples of 0.1".into());
        }
        if !whole_quanta(self.wm.low, 1000.0) || !whole_quanta(self.wm.high, 1000.0) {
            return invalid("the wm range must start and end on multiples of 0.001".into());
        }
        let (g, b) = (self.group_width, self.bot_mul);
        if !is_power_of_two(g.low.into()) || !is_power_of_two(g.high.into()) {
            return invalid(format!(
                "the group width range {}:{} must start and end on powers of two",
                g.low, g.high
            ));
        }
        if !is_power_of_two(b.low) || !is_power_of_two(b.high) {
            return invalid(format!(
                "the bottleneck multiplier range {}:{} must start and end on powers of two",
                b.low, b.high
            ));
        }
        Ok(())
    }

    /// The number of distinct parameter draws (before the stage-count rule and the
    /// band reject some): the product of each parameter's quantized values.
    pub fn size(&self) -> f64 {
        let count = |low: f64, high: f64, per_unit: f64| {
            ((high * per_unit).round() - (low * per_unit).round() + 1.0).max(0.0)
        };
        let powers = |low: f64, high: f64| (high.log2() - low.log2() + 1.0).max(0.0);
        let (g_low, g_high) = (
            f64::from(self.group_width.low),
            f64::from(self.group_width.high),
        );
        let group_widths = if g_high < 8.0 {
            powers(g_low, g_high)
        } else {
            let below_8 = if g_low < 8.0 { powers(g_low, 4.0) } else { 0.0 };
            below_8 + count(g_low.max(8.0), g_high, 1.0 / 8.0)
        };
        count(self.depth.low.into(), self.depth.high.into(), 1.0)
            * count(self.w0.low.into(), self.w0.high.into(), 1.0 / 8.0)
            * count(self.wa.low, self.wa.high, 10.0)
            * count(self.wm.low, self.wm.high, 1000.0)
            * group_widths
            * powers(self.bot_mul.low, self.bot_mul.high)
    }

    /// pycls's `regnet_sampler`: d, w0, wa, wm, group width, bottleneck multiplier.
    pub fn draw(&self, rng: &mut impl Uniform) -> RegNetDraw {
        let r = self;
        let d = uniform(
            rng,
            r.depth.low.into(),
            r.depth.high.into(),
            Quantum::new(1.0),
        );
        let w0 = log_uniform(rng, r.w0.low.into(), r.w0.high.into(), Quantum::new(8.0));
        let wa = log_uniform(rng, r.wa.low, r.wa.high, Quantum::new(0.1));
        let wm = log_uniform(rng, r.wm.low, r.wm.high, Quantum::new(0.001));
        let (g_low, g_high) = (r.group_width.low.into(), r.group_width.high.into());
        let group_width = power2_or_log_uniform(rng, g_low, g_high, Quantum::new(8.0));
        let bot_mul = power2_uniform(
            rng,
            r.bot_mul.low,
            r.bot_mul.high,
            Quantum::new(1.0 / 128.0),
        );
        RegNetDraw {
            d: d as u32,
            w0: w0 as u32,
            wa,
            wm,
            group_width: group_width as u32,
            bot_mul,
        }
    }

    /// pycls's `check_regnet_constraints`: as many stages as the exponents span
    /// (`num_stages == total_stages`) and a stage count within range.
    pub fn keeps(&self, quantized: &Quantized) -> bool {
        quantized.num_stages == quantized.total_stages && self.stages.contains(quantized.num_stages)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::space::random::Draws;

    #[test]
    fn draws_follow_pycls_order_and_quanta() {
        // d: 12 + 17 * 0.5 = 20.5 -> 20; w0: f just below 256 -> 256; wa: f just above
        // 8 - 0.1 -> 8.0; wm: f just below 3 -> 3.0; group width: power of two 8 from
        // exponent floor(3 + 5 * 0.1) = 3, then log-uniform over (4, 128] at draw 0.999
        // -> 8; bot_mul: one value.
        let draw = RegNetRanges::default().draw(&mut Draws(&[
            0.5, 0.001, 0.999_999, 0.000_001, 0.1, 0.999, 0.3,
        ]));
        assert_eq!(
            (
                draw.d,
                draw.w0,
                draw.wa,
                draw.wm,
                draw.group_width,
                draw.bot_mul
            ),
            (20, 256, 8.0, 3.0, 8, 1.0)
        );
    }

    #[test]
    fn draws_stay_in_range_on_their_quanta() {
        let ranges = RegNetRanges {
            group_width: Range::new(1, 32),
            ..RegNetRanges::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut small_groups = 0;
        for _ in 0..5_000 {
            let d = ranges.draw(&mut rng);
            assert!((12..=28).contains(&d.d));
            assert!((8..=256).contains(&d.w0) && d.w0.is_multiple_of(8));
            assert!(
                (8.0..=256.0).contains(&d.wa) && whole_quanta(d.wa, 10.0),
                "{d:?}"
            );
            assert!(
                (2.0..=3.0).contains(&d.wm) && whole_quanta(d.wm, 1000.0),
                "{d:?}"
            );
            assert!([1, 2, 4, 8, 16, 24, 32].contains(&d.group_width), "{d:?}");
            small_groups += usize::from(d.group_width < 8);
            assert_eq!(d.bot_mul, 1.0);
        }
        // 1, 2 and 4 each 1/6 of the time: half the draws (binomial sd ~35).
        assert!((2_300..2_700).contains(&small_groups), "{small_groups}");
    }

    #[test]
    fn sizes_count_each_quantized_parameter() {
        let ranges = RegNetRanges::default();
        // 17 depths, 32 w0, 2481 wa, 1001 wm, 16 group widths (8..128 by 8), 1 bot_mul.
        assert_eq!(ranges.size(), 17.0 * 32.0 * 2481.0 * 1001.0 * 16.0);
        let cifar = RegNetRanges {
            group_width: Range::new(1, 32),
            ..ranges
        };
        // 1, 2, 4 and 8, 16, 24, 32.
        assert_eq!(cifar.size(), 17.0 * 32.0 * 2481.0 * 1001.0 * 7.0);
    }

    #[test]
    fn bad_ranges_are_named() {
        let bad = RegNetRanges {
            group_width: Range::new(8, 100),
            ..RegNetRanges::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("powers of two"));
        let bad = RegNetRanges {
            wm: Range::new(0.5, 3.0),
            ..RegNetRanges::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("wm range"));
    }
}
