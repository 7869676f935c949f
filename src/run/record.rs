//! What is kept of a run once it ends: its spec, how it ended, its per-epoch curves,
//! its result and its timings, as JSON with a schema version, so runs written by the
//! CLI, the page or an older build of either can be read back and compared.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::spec::RunSpec;

/// The version of `RunRecord`'s JSON. Raise it when a field changes meaning or a
/// required field is added; readers refuse records from a newer schema instead of
/// misreading them.
pub const RECORD_SCHEMA: u32 = 1;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RunStatus {
    Finished,
    Cancelled,
    /// Stopped early (diverged, out of memory, a lost GPU); `message` says why.
    Failed {
        message: String,
    },
}

/// Facts a run learns once its trainer is built: the data it really has (a subset
/// may be smaller than asked for) and the model's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFacts {
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    pub train_images: usize,
    pub test_images: usize,
    pub params: usize,
}

/// A value at the end of an epoch (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: u32,
    pub value: f64,
}

/// Per-epoch curves: compact enough to keep thousands of runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCurves {
    /// Mean training loss over each epoch's steps.
    pub train_loss: Vec<EpochPoint>,
    /// Top-1 test error in [0, 1] after the epochs that were evaluated.
    pub test_error: Vec<EpochPoint>,
}

/// A finished run's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Top-1 error on the test subset, in [0, 1].
    pub test_error: f64,
    /// Mean training loss over the last epoch.
    pub train_loss: f64,
    /// Training images per second over the whole run (pauses excluded).
    pub images_per_s: f64,
}

/// Seconds of running time, pauses excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// From the first step to the end of the last one.
    pub train_s: f64,
    /// From the first step to the end of the run (final evaluation included).
    pub total_s: f64,
}

/// One run, as stored and exchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub spec: RunSpec,
    pub status: RunStatus,
    /// The backend it ran on, in words ("cpu", "WebGPU (Burn wgpu)").
    pub backend: String,
    pub facts: RunFacts,
    pub curves: RunCurves,
    /// Present when the run finished and was evaluated.
    pub result: Option<RunResult>,
    pub timings: Timings,
}

/// Why a record could not be read.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("not a run record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("this run record has schema {found}, newer than this build reads ({RECORD_SCHEMA}): update the playground")]
    Newer { found: u32 },
}

impl RunRecord {
    /// Reads one record, refusing a newer schema before looking at its fields.
    pub fn from_json(text: &str) -> Result<RunRecord, RecordError> {
        #[derive(Deserialize)]
        struct Version {
            schema: u32,
        }
        let Version { schema } = serde_json::from_str(text)?;
        if schema > RECORD_SCHEMA {
            return Err(RecordError::Newer { found: schema });
        }
        Ok(serde_json::from_str(text)?)
    }
}
