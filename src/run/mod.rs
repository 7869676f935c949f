//! What a training run is, without Burn or the browser: its spec (model, data,
//! recipe, seed, backend, id), the bookkeeping of its progress, its record, the
//! messages between the page and the training worker, and the page's view of a
//! worker's runs. The CLI and the worker drive the same `Progress`; they differ only in
//! how they read a loss back (at once natively, awaited in the browser). `placement`
//! picks which of the browser's two worker programs a run goes to.

pub mod memory;
pub mod placement;
pub mod progress;
pub mod protocol;
pub mod recipe;
pub mod record;
pub mod session;
pub mod spec;

pub use progress::{Diverged, Progress, StepReport};
pub use recipe::Recipe;
pub use record::{EpochPoint, RunCurves, RunRecord, RunStatus, RECORD_SCHEMA};
pub use spec::{BackendChoice, Layers, RunId, RunSpec, SweepSlot};
