//! An activation `[batch, channels, height, width]` seen as rows of one (image,
//! channel) plane each: how batch norm and squeeze-excitation walk it.

use super::fill::filled;

/// An activation `[batch, channels, plane]` as rows of one (image, channel) each.
#[derive(Clone, Copy)]
pub struct Layout {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl Layout {
    pub fn of(shape: &burn::tensor::Shape) -> Self {
        Layout {
            batch: shape[0],
            channels: shape[1],
            plane: shape.num_elements() / (shape[0] * shape[1]).max(1),
        }
    }

    /// Row `r` (image `r / channels`, channel `r % channels`) of activation `xs`.
    pub fn row<'a>(&self, xs: &'a [f32], r: usize) -> &'a [f32] {
        &xs[r * self.plane..][..self.plane]
    }

    /// Values per channel: images times pixels.
    pub fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// A new activation filled one (image, channel) row at a time on the threads:
    /// `f(row, channel)` gives the row's values.
    pub fn map_rows<I: Iterator<Item = f32>>(
        &self,
        f: impl Fn(usize, usize) -> I + Sync,
    ) -> Vec<f32> {
        let len = self.batch * self.channels * self.plane;
        filled(len, self.plane, |r| f(r, r % self.channels))
    }
}
