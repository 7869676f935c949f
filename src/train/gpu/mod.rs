//! What our GPU kernels share: recognising Burn's CubeCL backend (wgpu natively and in
//! the browser), reading its tensors in row-major order or as they lie (`layout`) and
//! making new ones. No op lives here; each is in `ops/` (`gpu.rs` beside the op's
//! `cpu.rs`).
//!
//! The kernels are CubeCL, the language Burn's own GPU kernels are written in, so the
//! same code compiles to SPIR-V for Vulkan (Mesa's lavapipe in the tests) and to WGSL
//! for the browser's WebGPU. They use no subgroup operations, which not every browser
//! has: a cube's reductions go through shared memory.

use burn::backend::tensor::FloatTensor;
use burn::prelude::*;
use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::CubeBackend;

mod layout;
pub use layout::Layout;

/// A tensor of Burn's CubeCL backend, which our GPU kernels read and write.
pub type CubeTensor = FloatTensor<CubeBackend>;

/// Whether `device` (or the device under its autodiff) runs on Burn's CubeCL backend.
pub fn on_cube(device: &Device) -> bool {
    use burn::backend::DispatchDevice;
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Cube(_)
    )
}

/// The tensor in row-major order (a copy only when it is strided or tiled), so a kernel
/// can index it as a flat array.
pub fn contiguous(t: CubeTensor) -> CubeTensor {
    assert_eq!(t.dtype, DType::F32, "our GPU kernels run on f32");
    into_contiguous(t)
}

/// A new row-major f32 tensor of `shape` on `like`'s device, its values unset: every
/// kernel that makes one writes all of it.
pub fn empty(like: &CubeTensor, shape: impl Into<Shape>) -> CubeTensor {
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        DType::F32,
    )
}

/// The most cubes along one axis of a launch (WebGPU's and Vulkan's minimum limit).
pub const MAX_CUBES: usize = 65_535;

/// The element type our kernels are compiled for (`contiguous` checks the tensors').
pub fn f32_type() -> cubecl::ir::ElemType {
    cubecl::ir::ElemType::Float(cubecl::ir::FloatKind::F32)
}
