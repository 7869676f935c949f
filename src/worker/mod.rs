//! The training Web Worker: Burn trains off the main thread so the page never
//! freezes. The messages it exchanges with the page are `run::protocol`; the rest
//! runs only in the browser.

#[cfg(all(target_arch = "wasm32", feature = "training"))]
mod data;
#[cfg(all(target_arch = "wasm32", feature = "training"))]
mod js;
#[cfg(all(target_arch = "wasm32", feature = "training"))]
mod runtime;
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
mod threads;

#[cfg(all(target_arch = "wasm32", feature = "training"))]
pub use runtime::run;

/// What a run asked for WebGPU says in a browser without it (the worker, and the page's
/// sweep before it starts its WebGPU lane).
pub const NO_WEBGPU: &str = "This browser offers no WebGPU, so training runs on the CPU, many \
                             times slower. Chrome and Edge 113+ (and recent Safari and Firefox) \
                             have WebGPU.";

/// Whether a `navigator` (the page's or the worker's) offers WebGPU at all.
#[cfg(target_arch = "wasm32")]
pub fn has_webgpu(navigator: &wasm_bindgen::JsValue) -> bool {
    js_sys::Reflect::get(navigator, &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}
