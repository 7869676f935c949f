//! The training Web Worker: Burn trains off the main thread so the page never
//! freezes. `protocol` is the message format both sides share; the rest runs only
//! in the browser.

pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod data;
#[cfg(target_arch = "wasm32")]
mod runtime;

#[cfg(target_arch = "wasm32")]
pub use runtime::run;
