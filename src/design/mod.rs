//! Design-space math: the RegNet rule, stage specs and the pycls compatibility fix,
//! network specs and their complexity. Pure Rust (no web, no Burn, no I/O) so the page,
//! the CLI and the tests all call the same functions.

pub mod complexity;
pub mod error;
pub mod fit;
pub mod network;
pub mod numpy;
pub mod presets;
pub mod published;
pub mod regnet;
pub mod stage;

pub use complexity::Complexity;
pub use error::ParamError;
pub use fit::{fit, Fit, FitError};
pub use network::{BlockLayers, BlockSpec, ConvSpec, Dataset, NetSpec, SeSpec, StemSpec};
pub use presets::{Preset, MINI_REGNETX, PRESETS, REFERENCE_MODELS, REGNETY_125MF_CIFAR};
pub use regnet::{Quantized, RegNetParams, RegNetShape, Stage};
pub use stage::{adjust_compatibility, Compatible, StageSpec};
