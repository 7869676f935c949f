//! What our CPU kernels share: recognising the flex backend, reading its tensors as
//! f32 slices and making new ones, filling new activations on rayon's threads, matrix
//! products (`gemm`) and the per-channel layout of an activation (`layout`). No op
//! lives here; each is in `ops/`.

use burn::backend::tensor::FloatTensor;
use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

pub mod fill;
pub mod gemm;
pub mod layout;

pub use fill::{filled, zeroed_chunks};
pub use gemm::{gemm, View};
pub use layout::Layout;

/// Whether `device` (or the device under its autodiff) is flex, where our kernels run.
pub fn on_flex(device: &Device) -> bool {
    use burn::backend::DispatchDevice;
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// A tensor of the flex backend, which our kernels read and write.
pub type FlexTensor = FloatTensor<Flex>;

/// The tensor in row-major order (a copy only when it is strided); read it with `f32s`.
pub fn contiguous(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "our CPU kernels run on f32");
    t.to_contiguous()
}

pub fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("contiguous f32")
}

/// `max(x, 0)`, written as a compare and a select: `f32::max` (IEEE `maxNum`) has no
/// wasm instruction, so in the browser's workers it became a call to libm's `fmaxf`
/// per lane, and the loops around it lost their SIMD. The same for every input,
/// NaN included (both give 0).
#[inline(always)]
pub fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// A new flex tensor of `shape` holding `values` (row-major).
pub fn tensor(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
