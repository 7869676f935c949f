//! Complexity counting with pycls's conventions (`*_cx` in `pycls/models/blocks.py`):
//! flops are multiply-adds, params exclude BN running statistics, acts count
//! every layer output. Each step returns the updated state so a network reads as a
//! chain of its layers.

use serde::Serialize;

use super::network::ConvSpec;

/// Spatial size so far and the running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Complexity {
    pub h: u64,
    pub w: u64,
    pub flops: u64,
    pub params: u64,
    pub acts: u64,
}

impl Complexity {
    /// A square input image of `resolution` pixels, nothing counted yet.
    pub fn input(resolution: u64) -> Self {
        Complexity {
            h: resolution,
            w: resolution,
            ..Self::default()
        }
    }

    /// A k x k conv with "same" padding; counted at its output resolution.
    pub fn conv(self, c: &ConvSpec) -> Self {
        let (w_in, w_out, k) = (u64::from(c.w_in), u64::from(c.w_out), u64::from(c.k));
        let (stride, groups, bias) = (u64::from(c.stride), u64::from(c.groups), c.bias);
        let (h, w) = ((self.h - 1) / stride + 1, (self.w - 1) / stride + 1);
        let bias_n = if bias { w_out } else { 0 };
        Complexity {
            h,
            w,
            flops: self.flops + k * k * w_in * w_out * h * w / groups + bias_n * h * w,
            params: self.params + k * k * w_in * w_out / groups + bias_n,
            acts: self.acts + w_out * h * w,
        }
    }

    /// Batch norm: a scale and a shift per channel.
    pub fn norm2d(self, w: u32) -> Self {
        Complexity {
            params: self.params + 2 * u64::from(w),
            ..self
        }
    }

    /// Global average pooling: free, leaves a 1 x 1 map.
    pub fn gap2d(self) -> Self {
        Complexity { h: 1, w: 1, ..self }
    }

    /// A fully connected layer.
    pub fn linear(self, w_in: u64, w_out: u64, bias: bool) -> Self {
        let bias_n = if bias { w_out } else { 0 };
        Complexity {
            flops: self.flops + w_in * w_out + bias_n,
            params: self.params + w_in * w_out + bias_n,
            acts: self.acts + w_out,
            ..self
        }
    }

    /// Runs `side` (a shortcut or SE branch) and keeps its totals, but not its
    /// spatial size: the main path continues from the size it had.
    pub fn branch(self, side: impl FnOnce(Self) -> Self) -> Self {
        Complexity {
            h: self.h,
            w: self.w,
            ..side(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(w_in: u32, w_out: u32, k: u32, stride: u32, groups: u32, bias: bool) -> ConvSpec {
        ConvSpec {
            w_in,
            w_out,
            k,
            stride,
            groups,
            bias,
        }
    }

    #[test]
    fn conv_counts_at_output_resolution_and_divides_by_groups() {
        let c = Complexity::input(224).conv(&conv(3, 32, 3, 2, 1, false));
        assert_eq!((c.h, c.w), (112, 112));
        assert_eq!(c.params, 9 * 3 * 32);
        assert_eq!(c.flops, 9 * 3 * 32 * 112 * 112);
        assert_eq!(c.acts, 32 * 112 * 112);
        let g = Complexity::input(7).conv(&conv(64, 64, 3, 1, 8, true));
        assert_eq!(g.params, 9 * 64 * 64 / 8 + 64);
        assert_eq!(g.flops, 9 * 64 * 64 * 49 / 8 + 64 * 49);
        // Odd sizes: (7 - 1) / 2 + 1 = 4.
        assert_eq!(Complexity::input(7).conv(&conv(1, 1, 1, 2, 1, false)).h, 4);
    }

    #[test]
    fn branch_keeps_totals_but_not_size() {
        let c = Complexity::input(8).branch(|c| c.gap2d().linear(4, 2, true));
        assert_eq!((c.h, c.w, c.params, c.flops, c.acts), (8, 8, 10, 10, 2));
    }
}
