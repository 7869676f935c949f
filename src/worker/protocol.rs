//! The messages between the page and the training worker. Plain serde types (no
//! web, no Burn), so both sides and the native tests share one definition.

use serde::{Deserialize, Serialize};

use crate::design::NetSpec;
use crate::train::Recipe;

/// Where the page asks the worker to look for the official archive.
pub const ARCHIVE_URL: &str = "data/cifar-10-binary.tar.gz";

/// Where the official archive comes from, for the page's "get it here" message.
pub const ARCHIVE_SOURCE: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// Which backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when the browser gives an adapter, else the CPU.
    #[default]
    Auto,
    Cpu,
}

/// Page -> worker. A user's file is posted as a bare `File` object instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Report what data is at hand (cache, server) without downloading it.
    Probe,
    /// Download (or read from the cache) the archive from the server.
    Load,
    /// Train `spec` with `recipe`; loads the data first when needed.
    Start {
        spec: NetSpec,
        recipe: Recipe,
        backend: BackendChoice,
    },
    Pause,
    Resume,
    Cancel,
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
    /// Which backend the run uses; `notice` explains a fallback.
    Backend {
        name: String,
        gpu: bool,
        notice: Option<String>,
    },
    Started {
        total_steps: usize,
        steps_per_epoch: usize,
        train_images: usize,
        test_images: usize,
        params: usize,
        /// The worker's wasm memory before the first step (data and model loaded).
        #[serde(default)]
        memory_bytes: u64,
    },
    Step {
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
        test_error: f64,
        seconds: f64,
    },
    Cancelled,
    /// The run stopped (or could not start); `message` says why in plain words.
    /// `crashed`: the worker cannot go on and the page must start a fresh one.
    Failed {
        message: String,
        crashed: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, RegNetParams};

    #[test]
    fn messages_round_trip_as_json() {
        let spec = NetSpec::new(&RegNetParams::default().shape().unwrap(), Dataset::Cifar10);
        let commands = [
            Command::Probe,
            Command::Start {
                spec,
                recipe: Recipe::default(),
                backend: BackendChoice::Cpu,
            },
            Command::Cancel,
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
            Event::Step {
                step: 3,
                loss: 2.25,
                lr: 0.1,
                images_per_s: 100.0,
                elapsed_s: 1.5,
                memory_bytes: 300 << 20,
            },
            Event::Failed {
                message: "lost".into(),
                crashed: true,
            },
        ];
        for e in events {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        }
    }
}
