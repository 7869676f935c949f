//! The messages between the page and the training worker. Plain serde types (no
//! web, no Burn), so both sides and the native tests share one definition. Every
//! message about a run names it, so the page can drop news of a run it has moved on
//! from.

use serde::{Deserialize, Serialize};

use super::record::{RunFacts, RunRecord};
use super::spec::{RunId, RunSpec};

/// Where the page asks the worker to look for the official archive.
pub const ARCHIVE_URL: &str = "data/cifar-10-binary.tar.gz";

/// Where the official archive comes from, for the page's "get it here" message.
pub const ARCHIVE_SOURCE: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// Page -> worker. A user's file is posted as a bare `File` object instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Report what data is at hand (cache, server) without downloading it.
    Probe,
    /// Download (or read from the cache) the archive from the server.
    Load,
    /// Train `spec`; loads the data first when needed. A worker runs one run at a
    /// time: while one holds it, it answers `RunEvent::Busy`.
    Start {
        spec: RunSpec,
    },
    /// Pause, resume or cancel `run`; ignored when `run` is not the worker's run.
    Pause {
        run: RunId,
    },
    Resume {
        run: RunId,
    },
    Cancel {
        run: RunId,
    },
}

/// Where the data stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum DataStatus {
    Checking,
    /// The parsed data is in the browser's cache, or the server has the archive
    /// (`bytes` long when it says); nothing read yet.
    Available {
        cached: bool,
        bytes: Option<u64>,
    },
    /// Neither the cache nor the server has it: the page offers a file picker.
    Missing,
    Downloading {
        loaded: u64,
        total: Option<u64>,
    },
    /// Decompressing and checking the records.
    Parsing,
    Ready {
        train: usize,
        test: usize,
        /// "the server", "this browser's cache" or the picked file's name.
        source: String,
        /// Why the parsed data could not be kept for the next visit, if it could not.
        cache_note: Option<String>,
    },
    /// The bytes are not the CIFAR-10 binary archive.
    Invalid {
        message: String,
    },
}

/// Worker -> page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// The worker's wasm is up and listening.
    Ready,
    Data(DataStatus),
    /// News of one run.
    Run {
        run: RunId,
        event: RunEvent,
    },
    /// The worker cannot go on (a panic, a lost GPU device) and the page must start a
    /// fresh one; `run` is the run it was on, if any.
    Crashed {
        run: Option<RunId>,
        message: String,
    },
    /// A command the worker could not read (a page and a worker from different builds).
    Unreadable {
        message: String,
    },
}

/// What happens to a run, in order: `Backend`, `Started`, then `Step`s with an `Eval`
/// after each epoch (and `Paused`/`Resumed` pairs), then one of `Finished`,
/// `Cancelled` or `Failed`. `Busy` alone answers a Start the worker cannot take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum RunEvent {
    /// Which backend the run uses; `notice` explains a fallback.
    Backend {
        name: String,
        gpu: bool,
        notice: Option<String>,
    },
    Started {
        facts: RunFacts,
        /// The worker's wasm memory before the first step (data and model loaded).
        #[serde(default)]
        memory_bytes: u64,
    },
    Step {
        /// 1-based.
        step: usize,
        loss: f32,
        lr: f64,
        /// Training images per second since the start of the run (pauses excluded).
        images_per_s: f64,
        elapsed_s: f64,
        /// The worker's wasm memory in bytes: its high-water mark, since wasm memory
        /// only grows. On WebGPU the GPU's buffers are not in it.
        #[serde(default)]
        memory_bytes: u64,
    },
    /// Test error after `epoch` epochs (1-based), in [0, 1].
    Eval {
        step: usize,
        epoch: u32,
        test_error: f64,
    },
    Paused,
    Resumed,
    Finished {
        record: Box<RunRecord>,
    },
    Cancelled,
    /// The run stopped (or could not start); `message` says why in plain words. The
    /// worker goes on.
    Failed {
        message: String,
    },
    /// The Start was refused: `running` holds the worker.
    Busy {
        running: RunId,
    },
    /// The WebGPU worker (which has no CPU backend) found no usable GPU, so the run did
    /// not start; `reason` says why. The page moves the run to a CPU worker.
    NoGpu {
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, NetSpec, RegNetParams};
    use crate::run::{BackendChoice, Recipe};

    #[test]
    fn messages_round_trip_as_json() {
        let spec = RunSpec {
            id: RunId(1),
            label: "x".into(),
            net: NetSpec::new(&RegNetParams::default().shape().unwrap(), Dataset::Cifar10),
            recipe: Recipe::default(),
            backend: BackendChoice::Cpu,
            layers: Default::default(),
            sweep: None,
        };
        let commands = [
            Command::Probe,
            Command::Start { spec },
            Command::Cancel { run: RunId(1) },
        ];
        for c in commands {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), c);
        }
        let events = [
            Event::Data(DataStatus::Downloading {
                loaded: 5,
                total: Some(10),
            }),
            Event::Run {
                run: RunId(3),
                event: RunEvent::Step {
                    step: 3,
                    loss: 2.25,
                    lr: 0.1,
                    images_per_s: 100.0,
                    elapsed_s: 1.5,
                    memory_bytes: 300 << 20,
                },
            },
            Event::Run {
                run: RunId(3),
                event: RunEvent::Busy { running: RunId(2) },
            },
            Event::Crashed {
                run: None,
                message: "lost".into(),
            },
        ];
        for e in events {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        }
    }
}
