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

/// What a run asked for WebGPU says where the browser has WebGPU but it gives no
/// adapter (headless and blocklisted browsers, or no GPU at all).
pub const NO_ADAPTER: &str =
    "WebGPU gave this page no adapter, so training runs on the CPU, many times slower.";

/// Whether a `navigator` (the page's or the worker's) offers WebGPU at all.
#[cfg(target_arch = "wasm32")]
pub fn has_webgpu(navigator: &wasm_bindgen::JsValue) -> bool {
    js_sys::Reflect::get(navigator, &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}

/// Why WebGPU cannot train here (`NO_WEBGPU` or `NO_ADAPTER`), or `None` where it gives
/// an adapter. `navigator.gpu` alone says little: headless Chromium has it on every
/// secure page and answers no adapter.
#[cfg(target_arch = "wasm32")]
pub async fn webgpu_missing(navigator: &wasm_bindgen::JsValue) -> Option<&'static str> {
    use wasm_bindgen::JsCast;
    if !has_webgpu(navigator) {
        return Some(NO_WEBGPU);
    }
    let request = js_sys::Reflect::get(navigator, &"gpu".into()).and_then(|gpu| {
        let f: js_sys::Function =
            js_sys::Reflect::get(&gpu, &"requestAdapter".into())?.dyn_into()?;
        f.call0(&gpu)?.dyn_into::<js_sys::Promise>()
    });
    let adapter = match request {
        Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    match adapter {
        Ok(a) if !a.is_null() && !a.is_undefined() => None,
        _ => Some(NO_ADAPTER),
    }
}
