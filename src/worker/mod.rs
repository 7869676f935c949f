//! The training Web Worker: Burn trains off the main thread so the page never
//! freezes. `protocol` is the message format both sides share; the rest runs only
//! in the browser.

pub mod protocol;

#[cfg(all(target_arch = "wasm32", feature = "training"))]
mod data;
#[cfg(all(target_arch = "wasm32", feature = "training"))]
mod runtime;

#[cfg(all(target_arch = "wasm32", feature = "training"))]
pub use runtime::run;
