//! Design-space math: the RegNet rule, the pycls compatibility fix, network
//! specs and their complexity. Pure Rust (no web, no Burn, no I/O) so the page,
//! the CLI and the tests all call the same functions.

pub mod complexity;
pub mod error;
pub mod network;
pub mod numpy;
pub mod presets;
pub mod regnet;

pub use complexity::Complexity;
pub use error::ParamError;
pub use network::{BlockSpec, Dataset, NetSpec, StemSpec};
pub use presets::{Preset, PRESETS};
pub use regnet::{Quantized, RegNetParams, RegNetShape, Stage};
