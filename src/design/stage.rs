//! A stage as pycls's AnyNet describes it (depth, width, bottleneck ratio, group
//! width, stride), and pycls's group/bottleneck compatibility fix
//! (`adjust_block_compatibility`) for one stage. The RegNet rule is one producer of
//! stage specs (`RegNetShape::stage_specs`); a design-space sampler is another.

use serde::{Deserialize, Serialize};

use super::error::ParamError;
use super::numpy::{lcm, round_half_even};
use super::regnet::{MAX_B, MAX_WIDTH, MIN_B};

/// One stage: `depth` residual bottleneck blocks of output width `width`; the first
/// has stride `stride`, the rest stride 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageSpec {
    /// Number of blocks (pycls `depths[i]`).
    pub depth: u32,
    /// Output width of every block (pycls `widths[i]`).
    pub width: u32,
    /// The paper's bottleneck ratio b = width / bottleneck width (pycls stores
    /// `bot_mul` = 1/b).
    pub bottleneck_ratio: f64,
    /// Channels per group of the 3x3 conv (pycls `group_ws[i]`).
    pub group_width: u32,
    /// Stride of the stage's first block (pycls `strides[i]`): 1 or 2.
    pub stride: u32,
}

impl StageSpec {
    /// pycls's `bot_mul`, the inverse of the bottleneck ratio.
    pub fn bot_mul(&self) -> f64 {
        1.0 / self.bottleneck_ratio
    }

    /// The bottleneck width as pycls's `BottleneckTransform` computes it:
    /// `int(round(w_out * bot_mul))`, rounding halves to even.
    pub fn bottleneck_width(&self) -> u64 {
        round_half_even(f64::from(self.width) * self.bot_mul()) as u64
    }

    /// Groups of the 3x3 conv as pycls computes them: `w_b // group_w` (floor).
    pub fn groups(&self) -> u64 {
        self.bottleneck_width() / u64::from(self.group_width.max(1))
    }

    /// Checks that the stage describes a network pycls would build: every count
    /// positive, widths within our limit, at least one group, and the bottleneck width a
    /// multiple of the group count (a grouped conv needs it). `index` (from 0) names
    /// the stage in the error.
    pub fn validate(&self, index: usize) -> Result<(), ParamError> {
        let invalid = |reason: String| ParamError::InvalidStage {
            stage: index + 1,
            reason,
        };
        if self.depth == 0 {
            return Err(invalid("depth must be at least 1".into()));
        }
        if self.width == 0 || u64::from(self.width) > MAX_WIDTH {
            return Err(invalid(format!(
                "width must be from 1 to {MAX_WIDTH} (got {})",
                self.width
            )));
        }
        if !(self.stride == 1 || self.stride == 2) {
            return Err(invalid(format!(
                "stride must be 1 or 2 (got {})",
                self.stride
            )));
        }
        let b = self.bottleneck_ratio;
        if !(MIN_B..=MAX_B).contains(&b) {
            return Err(invalid(format!(
                "bottleneck ratio must be from {MIN_B} to {MAX_B} (got {b})"
            )));
        }
        if self.group_width == 0 {
            return Err(invalid("group width must be at least 1".into()));
        }
        let w_b = self.bottleneck_width();
        if w_b == 0 || w_b > MAX_WIDTH {
            return Err(invalid(format!(
                "bottleneck width {w_b} must be from 1 to {MAX_WIDTH}"
            )));
        }
        let groups = self.groups();
        if groups == 0 {
            return Err(invalid(format!(
                "group width {} is larger than the bottleneck width {w_b}",
                self.group_width
            )));
        }
        if !w_b.is_multiple_of(groups) {
            return Err(invalid(format!(
                "bottleneck width {w_b} does not split into {groups} equal groups"
            )));
        }
        Ok(())
    }
}

/// A stage's widths after the compatibility fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Compatible {
    /// The stage width the fix settles on (`v / bot_mul`).
    pub width: u32,
    /// The group width, clipped to the bottleneck width.
    pub group_width: u32,
    /// `width * bot_mul`: a multiple of the group width.
    pub bottleneck_width: u32,
    /// Groups of the 3x3 conv: bottleneck width / group width.
    pub groups: u32,
}

/// pycls `adjust_block_compatibility` for one stage of width `width`, bottleneck ratio
/// `b` (the paper's; pycls passes `bot_mul` = 1/b) and group width `g`: clip the group
/// width to the bottleneck width, round the bottleneck width half-to-even to a multiple
/// of it (and of `bot_mul` when that is above 1), never below it, and take the stage
/// width back from it. Errors where pycls would assert (b with 1/b neither below 1
/// nor whole) or the result leaves our width limit.
pub fn adjust_compatibility(width: u32, b: f64, g: u32) -> Result<Compatible, ParamError> {
    let m = 1.0 / b;
    if !(b > 0.0 && (m < 1.0 || m.fract() == 0.0)) || g == 0 {
        return Err(ParamError::BottleneckNotInverse { got: b });
    }
    let v = (f64::from(width) * m).max(1.0).trunc() as u64;
    let g = u64::from(g).min(v);
    let multiple = if m > 1.0 { lcm(g, m as u64) } else { g };
    let v = multiple.max((round_half_even(v as f64 / multiple as f64) * multiple as f64) as u64);
    let width = (v as f64 / m).trunc() as u64;
    let bottleneck = round_half_even(width as f64 * m);
    if width > MAX_WIDTH || bottleneck > MAX_WIDTH as f64 {
        return Err(ParamError::TooWide {
            width: width.max(bottleneck as u64),
            max: MAX_WIDTH,
        });
    }
    let bottleneck = bottleneck as u64;
    if width == 0 || (width as f64 * m) % g as f64 != 0.0 || !bottleneck.is_multiple_of(g) {
        return Err(ParamError::BottleneckNotInverse { got: b });
    }
    Ok(Compatible {
        width: width as u32,
        group_width: g as u32,
        bottleneck_width: bottleneck as u32,
        groups: (bottleneck / g) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(width: u32, b: f64, g: u32) -> StageSpec {
        StageSpec {
            depth: 1,
            width,
            bottleneck_ratio: b,
            group_width: g,
            stride: 2,
        }
    }

    #[test]
    fn fix_clips_and_rounds_half_even() {
        // 24 / 16 = 1.5 rounds to 2 -> 32; 56 / 16 = 3.5 rounds to 4 -> 64.
        assert_eq!(adjust_compatibility(24, 1.0, 16).unwrap().width, 32);
        assert_eq!(adjust_compatibility(56, 1.0, 16).unwrap().width, 64);
        let clipped = adjust_compatibility(8, 1.0, 64).unwrap();
        assert_eq!((clipped.group_width, clipped.groups), (8, 1));
        // b = 0.5 (bot_mul 2): the bottleneck is a multiple of lcm(g, 2).
        let inverted = adjust_compatibility(20, 0.5, 3).unwrap();
        assert_eq!(inverted.bottleneck_width % 6, 0);
        assert!(matches!(
            adjust_compatibility(64, 0.3, 8),
            Err(ParamError::BottleneckNotInverse { .. })
        ));
    }

    #[test]
    fn stage_groups_floor_like_pycls() {
        // w_b = 40, g = 16: pycls builds 40 // 16 = 2 groups of 20 channels.
        let s = stage(40, 1.0, 16);
        assert_eq!((s.bottleneck_width(), s.groups()), (40, 2));
        assert!(s.validate(0).is_ok());
        // w_b = 40, g = 12: 3 groups do not split 40 channels.
        assert!(stage(40, 1.0, 12).validate(0).is_err());
        let err = stage(8, 1.0, 16).validate(2).unwrap_err().to_string();
        assert!(err.contains("stage 3"), "{err}");
        assert!(StageSpec {
            stride: 3,
            ..stage(8, 1.0, 8)
        }
        .validate(0)
        .is_err());
    }
}
