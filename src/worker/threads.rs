//! rayon's thread pool in the threaded CPU worker (the `threads` feature): Web Workers
//! that share this worker's wasm memory, started by wasm-bindgen-rayon before the
//! worker says it is ready, so no rayon call ever meets a pool that is not there.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::js::{js_error, scope};

/// More threads than this gain nothing on the models the page trains, and each one is
/// a Web Worker with its own stack in the shared memory.
const MAX_THREADS: usize = 16;

/// The pool's size: `threads=N` in the worker's URL (the page sets it), else every
/// core the browser reports. The worker's own thread only waits while the pool works.
fn threads() -> usize {
    let search = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"search".into()))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let asked = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("threads="))
        .and_then(|n| n.parse::<usize>().ok());
    let cores = scope().navigator().hardware_concurrency() as usize;
    asked.unwrap_or(cores).clamp(1, MAX_THREADS)
}

/// Starts the pool; the error says why it could not (no shared memory, a worker that
/// would not load).
pub async fn start_pool() -> Result<(), String> {
    let n = threads();
    JsFuture::from(wasm_bindgen_rayon::init_thread_pool(n))
        .await
        .map(|_: JsValue| ())
        .map_err(|e| format!("the CPU threads could not start: {}", js_error(&e)))
}
