//! Training RegNets with Burn: the model, the recipe, and a step-at-a-time
//! trainer the caller drives (so a browser can yield between steps).

pub mod memory;
pub mod model;
pub mod recipe;
pub mod trainer;

pub use model::RegNet;
pub use recipe::Recipe;
pub use trainer::{Trainer, TrainerError};
