//! The page's handle on the training worker: sends commands, turns the worker's
//! events into signals the panel draws. The curves live here, on the page, so a
//! crashed worker or a lost GPU never takes them along.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, File, MessageEvent, Worker};

use crate::worker::protocol::{BackendChoice, Command, DataStatus, Event};

/// Where the run is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// The worker's wasm is still loading.
    Booting,
    Idle,
    /// Getting the data or the backend before the first step.
    Preparing,
    Running,
    Paused,
    Finished,
    Cancelled,
    Failed(String),
}

impl Phase {
    /// A run holds the worker (Start is off, Pause and Cancel are on).
    pub fn active(&self) -> bool {
        matches!(self, Phase::Preparing | Phase::Running | Phase::Paused)
    }
}

/// The backend a run uses, and the notice when it is a fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    pub name: String,
    pub gpu: bool,
    pub notice: Option<String>,
}

/// A run's fixed facts, from `Event::Started`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunInfo {
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    pub train_images: usize,
    pub test_images: usize,
    pub params: usize,
}

/// The latest step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    pub step: usize,
    pub loss: f32,
    pub images_per_s: f64,
    pub elapsed_s: f64,
    /// The worker's wasm memory (its peak so far).
    pub memory_bytes: u64,
}

/// One run's curves: x in epochs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    pub label: String,
    pub loss: Vec<(f64, f64)>,
    pub test_error: Vec<(f64, f64)>,
}

/// Everything the panel shows about training; `Copy`, so components share it.
#[derive(Clone, Copy)]
pub struct Training {
    worker: StoredValue<Option<Worker>, LocalStorage>,
    /// Counts workers started, so events still queued from a terminated one are dropped.
    generation: StoredValue<u32>,
    /// The last Start, to rerun it on the CPU when WebGPU fails mid-run.
    last_start: StoredValue<Option<Command>>,
    rerun_on_cpu: StoredValue<bool>,
    /// Why WebGPU failed in this tab, if it did: later runs use the CPU.
    pub gpu_failed: RwSignal<Option<String>>,
    pub phase: RwSignal<Phase>,
    pub data: RwSignal<DataStatus>,
    pub backend: RwSignal<Option<BackendInfo>>,
    pub run: RwSignal<Option<RunInfo>>,
    pub last: RwSignal<Option<StepInfo>>,
    pub curves: RwSignal<Curves>,
    /// The run before this one, drawn faintly for comparison.
    pub previous: RwSignal<Option<Curves>>,
    pub result: RwSignal<Option<(f64, f64)>>,
}

/// Trunk writes the worker's loader under this name (see index.html).
const WORKER_URL: &str = "./train_worker_loader.js";

impl Training {
    pub fn new() -> Self {
        let training = Training {
            worker: StoredValue::new_local(None),
            generation: StoredValue::new(0),
            last_start: StoredValue::new(None),
            rerun_on_cpu: StoredValue::new(false),
            gpu_failed: RwSignal::new(None),
            phase: RwSignal::new(Phase::Booting),
            data: RwSignal::new(DataStatus::Checking),
            backend: RwSignal::new(None),
            run: RwSignal::new(None),
            last: RwSignal::new(None),
            curves: RwSignal::new(Curves::default()),
            previous: RwSignal::new(None),
            result: RwSignal::new(None),
        };
        training.spawn();
        training
    }

    /// Starts a fresh worker (at start-up and after a crash).
    fn spawn(self) {
        self.generation.update_value(|g| *g += 1);
        let generation = self.generation.get_value();
        let current = move || self.generation.get_value() == generation;
        let worker = match Worker::new(WORKER_URL) {
            Ok(w) => w,
            Err(e) => {
                self.phase.set(Phase::Failed(format!(
                    "the training worker could not start ({e:?}); training is unavailable"
                )));
                return;
            }
        };
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
            if !current() {
                return;
            }
            let Some(text) = e.data().as_string() else {
                return;
            };
            if let Ok(event) = serde_json::from_str::<Event>(&text) {
                self.apply(event);
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |e: ErrorEvent| {
            if !current() {
                return;
            }
            self.crashed(format!("the training worker failed: {}", e.message()));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        self.worker.set_value(Some(worker));
    }

    fn crashed(self, message: String) {
        if let Some(w) = self.worker.get_value() {
            w.terminate();
        }
        let on_gpu = self
            .backend
            .with_untracked(|b| b.as_ref().is_some_and(|b| b.gpu));
        if on_gpu && self.phase.with_untracked(Phase::active) {
            // WebGPU broke (a lost device, a kernel the browser rejects): say so, keep
            // the curves, and run the same recipe again on the CPU.
            self.gpu_failed.set(Some(message));
            self.rerun_on_cpu.set_value(true);
            self.phase.set(Phase::Preparing);
        } else {
            self.phase.set(Phase::Failed(format!(
                "{message}. The curves so far are kept; Start runs again."
            )));
        }
        self.backend.set(None);
        self.data.set(DataStatus::Checking);
        self.spawn();
    }

    /// Starts a run (the caller has called `begin`); on the CPU once WebGPU failed here.
    pub fn start(self, mut command: Command) {
        if let Command::Start { backend, .. } = &mut command {
            if self.gpu_failed.with_untracked(Option::is_some) {
                *backend = BackendChoice::Cpu;
            }
        }
        self.send(&command);
        self.last_start.set_value(Some(command));
    }

    pub fn send(self, command: &Command) {
        let Ok(json) = serde_json::to_string(command) else {
            return;
        };
        if let Some(w) = self.worker.get_value() {
            let _ = w.post_message(&JsValue::from_str(&json));
        }
    }

    pub fn send_file(self, file: &File) {
        if let Some(w) = self.worker.get_value() {
            let _ = w.post_message(file);
        }
    }

    /// Keeps the finished curves as the comparison run and clears the live ones.
    pub fn begin(self, label: String) {
        let old = self.curves.get_untracked();
        if !old.loss.is_empty() {
            self.previous.set(Some(old));
        }
        self.curves.set(Curves {
            label,
            ..Default::default()
        });
        self.run.set(None);
        self.last.set(None);
        self.result.set(None);
        self.phase.set(Phase::Preparing);
    }

    fn apply(self, event: Event) {
        match event {
            Event::Ready => {
                self.send(&Command::Probe);
                if self.rerun_on_cpu.get_value() {
                    self.rerun_on_cpu.set_value(false);
                    let failed = self.curves.with_untracked(|c| c.label.clone());
                    self.begin(format!("{failed} (WebGPU, failed)"));
                    if let Some(command) = self.last_start.get_value() {
                        self.start(command);
                    }
                } else {
                    self.phase.set(Phase::Idle);
                }
            }
            Event::Data(status) => self.data.set(status),
            Event::Backend { name, gpu, notice } => {
                self.backend.set(Some(BackendInfo { name, gpu, notice }))
            }
            Event::Started {
                total_steps,
                steps_per_epoch,
                train_images,
                test_images,
                params,
                ..
            } => {
                self.run.set(Some(RunInfo {
                    total_steps,
                    steps_per_epoch,
                    train_images,
                    test_images,
                    params,
                }));
                self.phase.set(Phase::Running);
            }
            Event::Step {
                step,
                loss,
                images_per_s,
                elapsed_s,
                memory_bytes,
                ..
            } => {
                let per_epoch = self
                    .run
                    .with_untracked(|r| r.map_or(1, |r| r.steps_per_epoch));
                self.curves.update(|c| {
                    c.loss
                        .push((step as f64 / per_epoch as f64, f64::from(loss)))
                });
                self.last.set(Some(StepInfo {
                    step,
                    loss,
                    images_per_s,
                    elapsed_s,
                    memory_bytes,
                }));
            }
            Event::Eval {
                epoch, test_error, ..
            } => self
                .curves
                .update(|c| c.test_error.push((f64::from(epoch), test_error))),
            Event::Paused => self.phase.set(Phase::Paused),
            Event::Resumed => self.phase.set(Phase::Running),
            Event::Finished {
                test_error,
                seconds,
            } => {
                self.result.set(Some((test_error, seconds)));
                self.phase.set(Phase::Finished);
            }
            Event::Cancelled => self.phase.set(Phase::Cancelled),
            Event::Failed { message, crashed } => {
                if crashed {
                    self.crashed(message);
                } else {
                    self.phase.set(Phase::Failed(message));
                }
            }
        }
    }
}
