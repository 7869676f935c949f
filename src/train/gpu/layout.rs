//! How an activation lies in memory, as our kernels read and write it.
//!
//! Burn's convolutions compute channels-last (NHWC) and hand back a view of that as
//! NCHW. A kernel of ours that wrote row-major NCHW would have its input copied into
//! NCHW, and the next convolution would copy its output back; so our kernels read an
//! activation that is channels-last as it lies, and make their outputs in the layout
//! of their input.

use burn::backend::TensorMetadata;
use burn_cubecl::ops::{permute_nchw_to_nhwc, permute_nhwc_to_nchw};

use super::{contiguous, empty, CubeTensor};

/// An activation's memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major NCHW.
    Nchw,
    /// Row-major NHWC, seen as NCHW (the layout of Burn's convolutions' outputs).
    ChannelsLast,
}

impl Layout {
    /// The layout `x` (`[n, c, h, w]`) lies in: channels-last if it is that exactly,
    /// else NCHW (which `arrange` makes it).
    pub fn of(x: &CubeTensor) -> Self {
        let [n, c, h, w] = x.shape().dims();
        let strides = x.meta.strides();
        let packed = [h * w * c, 1, w * c, c];
        // A size-1 axis has no stride to speak of.
        let channels_last = [n, c, h, w]
            .iter()
            .zip(strides.iter().zip(packed))
            .all(|(&size, (&stride, want))| size == 1 || stride == want);
        match channels_last {
            true => Layout::ChannelsLast,
            false => Layout::Nchw,
        }
    }

    /// `x` in the layout it is read in (channels-last if it lies so, else NCHW), and
    /// that layout.
    pub fn arranged(x: CubeTensor) -> (CubeTensor, Self) {
        let layout = Layout::of(&x);
        (layout.arrange(x), layout)
    }

    /// `t` in this layout: a copy only when it lies otherwise.
    pub fn arrange(self, t: CubeTensor) -> CubeTensor {
        match self {
            Layout::Nchw => contiguous(t),
            Layout::ChannelsLast if Layout::of(&t) == self => t,
            Layout::ChannelsLast => permute_nhwc_to_nchw(contiguous(permute_nchw_to_nhwc(t))),
        }
    }

    /// A new activation of `like`'s shape in this layout, its values unset.
    pub fn empty(self, like: &CubeTensor) -> CubeTensor {
        self.empty_of(like, like.shape().dims())
    }

    /// A new activation of shape `[n, c, h, w]` on `like`'s device in this layout, its
    /// values unset.
    pub fn empty_of(self, like: &CubeTensor, [n, c, h, w]: [usize; 4]) -> CubeTensor {
        match self {
            Layout::Nchw => empty(like, [n, c, h, w]),
            Layout::ChannelsLast => permute_nhwc_to_nchw(empty(like, [n, h, w, c])),
        }
    }

    /// Whether the channel is the innermost axis (the kernels' comptime switch).
    pub fn channels_last(self) -> bool {
        self == Layout::ChannelsLast
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::ops::FloatTensorOps;
    use burn::backend::DispatchDevice;
    use burn::prelude::Device;
    use burn::tensor::FloatDType;
    use burn_cubecl::CubeBackend;

    /// A Burn convolution's output (NHWC memory seen as NCHW) is read as it lies;
    /// anything else is made NCHW, and `arrange` brings either into either.
    #[test]
    fn layouts_are_recognised_and_arranged() {
        let wgpu = Device::wgpu(Default::default());
        let DispatchDevice::Cube(device) = wgpu.as_dispatch() else {
            panic!("wgpu runs on Burn's CubeCL backend");
        };
        let any = CubeBackend::float_empty([1].into(), device, FloatDType::F32);
        let nchw = empty(&any, [2, 3, 4, 5]);
        assert_eq!(Layout::of(&nchw), Layout::Nchw);
        let nhwc = Layout::ChannelsLast.empty(&nchw);
        assert_eq!(nhwc.shape().dims::<4>(), [2, 3, 4, 5]);
        assert_eq!(Layout::of(&nhwc), Layout::ChannelsLast);
        let arranged = Layout::ChannelsLast.arrange(nchw.clone());
        assert_eq!(Layout::of(&arranged), Layout::ChannelsLast);
        assert_eq!(Layout::of(&Layout::Nchw.arrange(nhwc)), Layout::Nchw);
    }
}
