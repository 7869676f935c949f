//! CIFAR-10: reading the official binary format, class-balanced subsets, and
//! building normalised, augmented batches. Pure Rust (no Burn, no web), so the
//! browser, the CLI and the tests share it. Pixels stay `u8` until a batch is built:
//! the whole training set as f32 would be 614 MB, too much for a browser tab.

pub mod augment;
pub mod cifar;

pub use augment::{Batch, Normalize};
pub use cifar::{Cifar10, DataError, Split};
