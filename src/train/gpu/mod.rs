//! What our GPU kernels share: recognising Burn's CubeCL backend (wgpu natively and in
//! the browser), reading its tensors in row-major order or as they lie (`layout`) and
//! making new ones. No op lives here; each is in `ops/` (`gpu.rs` beside the op's
//! `cpu.rs`).
//!
//! The kernels are CubeCL, the language Burn's own GPU kernels are written in, so the
//! same code compiles to SPIR-V for Vulkan (Mesa's lavapipe in the tests) and to WGSL
//! for the browser's WebGPU. They use no subgroup operations, which not every browser
//! has (a cube's reductions go through shared memory), no 64-bit integers, which none
//! has, and bind at most 8 storage buffers, WebGPU's default (`Packed`). scripts/test
//! has Chromium validate their WGSL (tests/webgpu_kernels.mjs).

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

/// A kernel's small outputs (per-channel statistics, say) in one buffer, so that the
/// kernel binds one storage buffer for them all: WebGPU allows 8 per shader by default,
/// CubeCL's own metadata buffer among them, and a device asked for no more has no
/// more. The buffer holds `head` values of the kernel's scratch, then `N` rows of `len`
/// values, each starting at a multiple of the device's binding alignment, so that each
/// row is also a tensor of its own: a view of the buffer, which Burn binds and reads
/// without a copy. The rows keep the whole buffer alive, the scratch with it.
pub struct Packed<const N: usize> {
    /// The whole buffer, for the kernel that writes it.
    pub buffer: CubeTensor,
    /// Where row 0 starts, in values.
    pub start: usize,
    /// The distance between one row's start and the next's, in values.
    pub stride: usize,
    /// Each row, `[len]`, row-major.
    pub rows: [CubeTensor; N],
}

impl<const N: usize> Packed<N> {
    /// A new buffer on `like`'s device for `head` values and `N` rows of `len` (all
    /// unset: the kernel that writes the rows writes all of them).
    pub fn new(like: &CubeTensor, head: usize, len: usize) -> Self {
        let align = (like.client.properties().memory.alignment as usize / 4).max(1);
        let start = head.next_multiple_of(align);
        let stride = len.next_multiple_of(align);
        let buffer = empty(like, [start + N * stride]);
        let size = buffer.handle.size();
        let rows = std::array::from_fn(|k| {
            let from = ((start + k * stride) * 4) as u64;
            let handle = buffer
                .handle
                .clone()
                .offset_start(from)
                .offset_end(size - from - (len * 4) as u64);
            CubeTensor::new_contiguous(
                buffer.client.clone(),
                buffer.device.clone(),
                Shape::new([len]),
                handle,
                DType::F32,
            )
        });
        Self {
            buffer,
            start,
            stride,
            rows,
        }
    }
}

/// The most cubes along one axis of a launch (WebGPU's and Vulkan's minimum limit).
pub const MAX_CUBES: usize = 65_535;

/// The element type our kernels are compiled for (`contiguous` checks the tensors').
pub fn f32_type() -> cubecl::ir::ElemType {
    cubecl::ir::ElemType::Float(cubecl::ir::FloatKind::F32)
}

/// A wgpu device on the default adapter with WebGPU's default limits (8 storage
/// buffers per shader stage among them), not the adapter's own, which cubecl-wgpu asks
/// for (SwiftShader's allow 10): what a browser gives a page that asks for nothing
/// more, so what every kernel of ours must run on. Registered once per test process.
#[cfg(test)]
pub fn webgpu_default_limits() -> Device {
    use burn::tensor::wgpu::{wgpu, WgpuSetup};
    use cubecl::future::block_on;
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let instance = wgpu::Instance::default();
            let adapter = block_on(instance.request_adapter(&Default::default()))
                .expect("a wgpu adapter (lavapipe in the tests)");
            let descriptor = wgpu::DeviceDescriptor {
                required_features: adapter.features(),
                required_limits: wgpu::Limits::default(),
                ..Default::default()
            };
            let (device, queue) = block_on(adapter.request_device(&descriptor)).expect("a device");
            let backend = adapter.get_info().backend;
            let setup = WgpuSetup {
                instance,
                adapter,
                device,
                queue,
                backend,
            };
            Device::wgpu_options()
                .setup(setup)
                .init()
                .expect("the device registered with Burn")
        })
        .clone()
}
