//! The AnyNetX spaces of the paper's section 3.2. Per stage a depth (log-uniform), a
//! width (log-uniform, a multiple of 8), a bottleneck ratio and a group width (each
//! uniform over its list); B shares the ratio across stages, C the group width too, D
//! keeps widths non-decreasing and E depths as well. pycls has no AnyNetX sampler: the
//! log-uniform draws use its `log_uniform` (so a depth range [1, 16] is drawn as pycls
//! would draw it), and D and E condition on their order by redrawing, which keeps each
//! allowed configuration exactly as likely as in C (sorting would not: ties would
//! gain weight).

use serde::{Deserialize, Serialize};

use super::random::{log_uniform, Quantum, Uniform};
use super::{Range, Space, SpaceError};

/// How many redraws D and E may take to meet their order before the sampler gives up
/// (with 4 stages about 1 in 24 draws has ordered widths, 1 in 600 ordered both).
const MAX_ORDER_REDRAWS: u32 = 1_000_000;

/// The ranges of an AnyNetX space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnyNetRanges {
    /// Number of stages (the paper: 4).
    pub stages: u32,
    /// Blocks per stage (the paper: 1..16).
    pub depth: Range<u32>,
    /// Stage widths, multiples of 8 (the paper: 8..1024).
    pub width: Range<u32>,
    /// The bottleneck ratios b to choose from (the paper: 1, 2, 4).
    pub bottleneck_ratios: Vec<u32>,
    /// The group widths to choose from (the paper: 1, 2, 4, 8, 16, 32).
    pub group_widths: Vec<u32>,
}

impl Default for AnyNetRanges {
    fn default() -> Self {
        AnyNetRanges {
            stages: 4,
            depth: Range::new(1, 16),
            width: Range::new(8, 1024),
            bottleneck_ratios: vec![1, 2, 4],
            group_widths: vec![1, 2, 4, 8, 16, 32],
        }
    }
}

/// One draw, before pycls's compatibility fix: per stage depth, width, ratio and group
/// width (shared values repeated in every stage).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnyNetDraw {
    pub depths: Vec<u32>,
    pub widths: Vec<u32>,
    pub bottleneck_ratios: Vec<u32>,
    pub group_widths: Vec<u32>,
}

impl AnyNetRanges {
    /// Checks the ranges against what our networks and pycls's fix accept.
    pub fn validate(&self) -> Result<(), SpaceError> {
        Range::new(self.stages, self.stages).check("stages", Range::new(1, 8))?;
        self.depth.check("depth", Range::new(1, 64))?;
        self.width.check("width", Range::new(8, 4096))?;
        if !self.width.low.is_multiple_of(8) || !self.width.high.is_multiple_of(8) {
            return Err(SpaceError::Invalid(format!(
                "the width range {}:{} must start and end on multiples of 8",
                self.width.low, self.width.high
            )));
        }
        let listed = |name: &str, values: &[u32], max: u32| {
            if values.is_empty() || values.iter().any(|&v| v == 0 || v > max) {
                return Err(SpaceError::Invalid(format!(
                    "the {name} list needs at least one value, each from 1 to {max} (got {values:?})"
                )));
            }
            Ok(())
        };
        listed("bottleneck ratio", &self.bottleneck_ratios, 16)?;
        listed("group width", &self.group_widths, 1024)
    }

    /// The number of distinct configurations of `space` (the paper's Table 1 counts
    /// with its default ranges; see the tests for where they round).
    pub fn size(&self, space: Space) -> f64 {
        let s = self.stages as i32;
        let depths = f64::from(self.depth.high - self.depth.low + 1);
        let widths = f64::from(self.width.high / 8 - self.width.low / 8 + 1);
        let b = self.bottleneck_ratios.len() as f64;
        let g = self.group_widths.len() as f64;
        // Non-decreasing sequences of length s from k values: multisets, C(k + s - 1, s).
        let ordered =
            |k: f64| (0..s).fold(1.0, |acc, i| acc * (k + f64::from(i)) / f64::from(i + 1));
        match space {
            Space::AnyNetXA => (depths * widths * b * g).powi(s),
            Space::AnyNetXB => (depths * widths * g).powi(s) * b,
            Space::AnyNetXC => (depths * widths).powi(s) * b * g,
            Space::AnyNetXD => depths.powi(s) * ordered(widths) * b * g,
            _ => ordered(depths) * ordered(widths) * b * g,
        }
    }

    /// Draws one configuration of `space`; `None` when D or E found no ordered draw in
    /// `MAX_ORDER_REDRAWS` tries (ranges that make order all but impossible).
    pub fn draw(&self, space: Space, rng: &mut impl Uniform) -> Option<AnyNetDraw> {
        for _ in 0..MAX_ORDER_REDRAWS {
            let draw = self.draw_once(space, rng);
            let ordered = |v: &[u32]| v.windows(2).all(|w| w[0] <= w[1]);
            let keep = match space {
                Space::AnyNetXD => ordered(&draw.widths),
                Space::AnyNetXE => ordered(&draw.widths) && ordered(&draw.depths),
                _ => true,
            };
            if keep {
                return Some(draw);
            }
        }
        None
    }

    /// The draws in order: per stage its depth, width, then (where not shared) its
    /// ratio and group width; then the shared ratio, then the shared group width.
    fn draw_once(&self, space: Space, rng: &mut impl Uniform) -> AnyNetDraw {
        let shared_b = !matches!(space, Space::AnyNetXA);
        let shared_g = !matches!(space, Space::AnyNetXA | Space::AnyNetXB);
        let (depth, width) = (self.depth, self.width);
        let mut draw = AnyNetDraw {
            depths: vec![],
            widths: vec![],
            bottleneck_ratios: vec![],
            group_widths: vec![],
        };
        for _ in 0..self.stages {
            let d = log_uniform(rng, depth.low.into(), depth.high.into(), Quantum::new(1.0));
            let w = log_uniform(rng, width.low.into(), width.high.into(), Quantum::new(8.0));
            draw.depths.push(d as u32);
            draw.widths.push(w as u32);
            if !shared_b {
                let b = self.bottleneck_ratios[rng.index(self.bottleneck_ratios.len())];
                draw.bottleneck_ratios.push(b);
            }
            if !shared_g {
                draw.group_widths
                    .push(self.group_widths[rng.index(self.group_widths.len())]);
            }
        }
        let stages = self.stages as usize;
        if shared_b {
            let b = self.bottleneck_ratios[rng.index(self.bottleneck_ratios.len())];
            draw.bottleneck_ratios = vec![b; stages];
        }
        if shared_g {
            draw.group_widths = vec![self.group_widths[rng.index(self.group_widths.len())]; stages];
        }
        draw
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn sizes_match_the_papers_table_1() {
        let ranges = AnyNetRanges::default();
        let size = |space| ranges.size(space);
        // (16 * 128 * 3 * 6)^4 = 1.8e18, B 6.8e16, C 3.2e14, D 1.3e13 as the paper has them.
        assert_eq!(size(Space::AnyNetXA), 36_864f64.powi(4));
        assert!((size(Space::AnyNetXA) / 1.8e18 - 1.0).abs() < 0.03);
        assert!((size(Space::AnyNetXB) / 6.8e16 - 1.0).abs() < 0.01);
        assert!((size(Space::AnyNetXC) / 3.2e14 - 1.0).abs() < 0.02);
        assert!((size(Space::AnyNetXD) / 1.3e13 - 1.0).abs() < 0.07);
        // E counts ordered depths exactly, C(19, 4) = 3,876 of them: 8.2e11, where the
        // paper prints 5.5e11.
        assert_eq!(size(Space::AnyNetXE), 3_876.0 * 11_716_640.0 * 18.0);
    }

    #[test]
    fn draws_keep_every_constraint() {
        let ranges = AnyNetRanges::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for space in [
            Space::AnyNetXA,
            Space::AnyNetXB,
            Space::AnyNetXC,
            Space::AnyNetXD,
            Space::AnyNetXE,
        ] {
            for _ in 0..2_000 {
                let draw = ranges.draw(space, &mut rng).unwrap();
                assert_eq!(draw.depths.len(), 4);
                assert!(draw.depths.iter().all(|&d| (1..=16).contains(&d)));
                assert!(draw
                    .widths
                    .iter()
                    .all(|&w| (8..=1024).contains(&w) && w % 8 == 0));
                assert!(draw.bottleneck_ratios.iter().all(|b| [1, 2, 4].contains(b)));
                assert!(draw
                    .group_widths
                    .iter()
                    .all(|g| [1, 2, 4, 8, 16, 32].contains(g)));
                let same = |v: &[u32]| v.iter().all(|&x| x == v[0]);
                let ordered = |v: &[u32]| v.windows(2).all(|w| w[0] <= w[1]);
                if space != Space::AnyNetXA {
                    assert!(same(&draw.bottleneck_ratios), "{space}: {draw:?}");
                }
                if !matches!(space, Space::AnyNetXA | Space::AnyNetXB) {
                    assert!(same(&draw.group_widths), "{space}: {draw:?}");
                }
                if matches!(space, Space::AnyNetXD | Space::AnyNetXE) {
                    assert!(ordered(&draw.widths), "{space}: {draw:?}");
                }
                if space == Space::AnyNetXE {
                    assert!(ordered(&draw.depths), "{space}: {draw:?}");
                }
            }
        }
    }

    #[test]
    fn bad_ranges_are_named() {
        let ranges = AnyNetRanges {
            width: Range::new(12, 64),
            ..AnyNetRanges::default()
        };
        assert!(ranges
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiples of 8"));
        let ranges = AnyNetRanges {
            group_widths: vec![],
            ..AnyNetRanges::default()
        };
        assert!(ranges
            .validate()
            .unwrap_err()
            .to_string()
            .contains("group width list"));
    }
}
