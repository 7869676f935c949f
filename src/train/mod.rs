//! Training RegNets with Burn: the model, the recipe, and a step-at-a-time
//! trainer the caller drives (so a browser can yield between steps). The recipe and
//! the memory estimate are plain data and arithmetic, also used by the page, which
//! builds without Burn (feature `training`).

#[cfg(feature = "training")]
pub mod conv;
pub mod memory;
#[cfg(feature = "training")]
pub mod model;
#[cfg(feature = "training")]
pub mod norm;
pub mod recipe;
#[cfg(feature = "training")]
pub mod trainer;

#[cfg(feature = "training")]
pub use model::RegNet;
pub use recipe::Recipe;
#[cfg(feature = "training")]
pub use trainer::{Trainer, TrainerError};
