//! The worker's side: listens for commands, loads the data, picks the backend and
//! drives the trainer one step at a time, awaiting every readback (synchronous reads
//! panic on WebGPU) and yielding to the event loop between steps so Pause and Cancel
//! get through.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::prelude::*;
#[cfg(feature = "gpu")]
use cubecl_runtime::config::autotune::AutotuneLevel;
#[cfg(feature = "gpu")]
use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{File, MessageEvent};

use super::data;
#[cfg(feature = "gpu")]
use super::js::js_error;
use super::js::scope;
use crate::data::Cifar10;
use crate::run::memory::{self, Target};
use crate::run::protocol::{Command, DataStatus, Event, RunEvent};
use crate::run::{BackendChoice, Progress, RunId, RunSpec, RunStatus};
use crate::train::Trainer;

fn post_run(run: RunId, event: RunEvent) {
    post(&Event::Run { run, event });
}

fn post(event: &Event) {
    if let Ok(json) = serde_json::to_string(event) {
        // Posting a string cannot fail to clone.
        let _ = scope().post_message(&JsValue::from_str(&json));
    }
}

/// A line in the worker's console: how long the first steps take (kernel compilation).
fn log(message: &str) {
    web_sys::console::log_1(&JsValue::from_str(message));
}

fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// The size of this worker's wasm memory (it never shrinks, so this is its peak).
fn memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map_or(0, |m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as u64
        })
}

/// The backend of one run (the wgpu device is created once per worker: Burn registers
/// a wgpu runtime only once).
#[derive(Clone)]
struct Backend {
    device: Device,
    /// In words, for the page and the run's record.
    name: String,
    gpu: bool,
}

#[cfg(feature = "gpu")]
const WEBGPU: &str = "WebGPU (Burn wgpu)";

#[derive(Default)]
struct State {
    data: RefCell<Option<Rc<Cifar10>>>,
    #[cfg(feature = "gpu")]
    gpu: RefCell<Option<Result<Device, String>>>,
    paused: Cell<bool>,
    cancel: Cell<bool>,
}

thread_local! {
    /// The run that holds the worker. Outside `State` because the panic hook, which
    /// names the run in its message, cannot hold the state's `Rc`.
    static RUNNING: Cell<Option<RunId>> = const { Cell::new(None) };
}

fn running() -> Option<RunId> {
    RUNNING.with(Cell::get)
}

fn set_running(run: Option<RunId>) {
    RUNNING.with(|r| r.set(run));
}

/// Starts the worker: installs the message handler and says it is ready (in the
/// threaded build, once rayon's pool has started).
pub fn run() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let detail = info
            .payload_as_str()
            .and_then(|p| p.lines().next())
            .unwrap_or("an internal error");
        post(&Event::Crashed {
            run: running(),
            message: format!("training stopped: {detail}"),
        });
    }));
    #[cfg(feature = "gpu")]
    tune_minimally();
    #[cfg(feature = "threads")]
    spawn_local(async {
        match super::threads::start_pool().await {
            Ok(()) => listen(),
            Err(message) => post(&Event::Crashed { run: None, message }),
        }
    });
    #[cfg(not(feature = "threads"))]
    listen();
}

#[cfg(feature = "gpu")]
fn tune_minimally() {
    // Autotuning times every kernel variant on first use. In wasm it cannot await the
    // timings, so each candidate's samples are all queued ahead of the first step's own
    // work, and the step waits for the whole queue: on a slow or software adapter that
    // delays the first step by many minutes. So the browser tunes minimally, with one
    // sample per candidate (a ranking, not a precise timing).
    let mut config = CubeClRuntimeConfig::default();
    config.autotune.level = AutotuneLevel::Minimal;
    config.autotune.bench.min_samples = 1;
    config.autotune.bench.max_samples = 1;
    let _ = CubeClRuntimeConfig::try_set(config);
}

/// Installs the message handler and says the worker is ready.
fn listen() {
    let state = Rc::new(State::default());
    let handler = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        let value = event.data();
        if let Some(file) = data::as_file(&value) {
            spawn_local(load_file(state.clone(), file));
            return;
        }
        let Some(text) = value.as_string() else {
            return;
        };
        match serde_json::from_str::<Command>(&text) {
            Ok(command) => handle(&state, command),
            Err(e) => post(&Event::Unreadable {
                message: format!("the worker got a message it does not understand: {e}"),
            }),
        }
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&Event::Ready);
}

fn handle(state: &Rc<State>, command: Command) {
    match command {
        Command::Probe => {
            let state = state.clone();
            spawn_local(async move {
                let status = match loaded_status(&state, "memory") {
                    Some(ready) => ready,
                    None => data::probe().await,
                };
                post(&Event::Data(status));
            });
        }
        Command::Load => {
            let state = state.clone();
            spawn_local(async move {
                let _ = ensure_data(&state).await;
            });
        }
        Command::Start { spec } => {
            if let Some(running) = running() {
                post_run(spec.id, RunEvent::Busy { running });
                return;
            }
            let run = spec.id;
            set_running(Some(run));
            state.cancel.set(false);
            state.paused.set(false);
            let state = state.clone();
            spawn_local(async move {
                match start(&state, spec).await {
                    Ok(()) => {}
                    Err(Stop::Failed(message)) => post_run(run, RunEvent::Failed { message }),
                    #[cfg(feature = "gpu")]
                    Err(Stop::NoGpu(reason)) => post_run(run, RunEvent::NoGpu { reason }),
                    Err(Stop::Crashed(message)) => post(&Event::Crashed {
                        run: Some(run),
                        message,
                    }),
                }
                set_running(None);
            });
        }
        Command::Pause { run } if running() == Some(run) => state.paused.set(true),
        Command::Resume { run } if running() == Some(run) => state.paused.set(false),
        Command::Cancel { run } if running() == Some(run) => state.cancel.set(true),
        // News for a run that has ended: nothing to do.
        Command::Pause { .. } | Command::Resume { .. } | Command::Cancel { .. } => {}
    }
}

fn ready(d: &Cifar10, source: &str, cache_note: Option<String>) -> DataStatus {
    DataStatus::Ready {
        train: d.train.len(),
        test: d.test.len(),
        source: source.to_string(),
        cache_note,
    }
}

fn loaded_status(state: &State, source: &str) -> Option<DataStatus> {
    state.data.borrow().as_ref().map(|d| ready(d, source, None))
}

/// The data, from memory, the cache or the server, reporting each stage.
async fn ensure_data(state: &State) -> Result<Rc<Cifar10>, String> {
    if let Some(d) = state.data.borrow().clone() {
        return Ok(d);
    }
    post(&Event::Data(DataStatus::Checking));
    if let Some(d) = data::from_cache().await {
        return Ok(keep(state, d, "this browser's cache"));
    }
    let archive = match data::download(|s| post(&Event::Data(s))).await {
        Ok(archive) => archive,
        Err(data::LoadError::Unreachable(message)) => {
            post(&Event::Data(DataStatus::Missing));
            return Err(format!("no CIFAR-10 data: {message}"));
        }
        Err(data::LoadError::Invalid(message)) => return Err(invalid(message)),
    };
    parse_and_keep(state, &archive, "the server").await
}

async fn parse_and_keep(
    state: &State,
    archive: &data::Archive,
    source: &str,
) -> Result<Rc<Cifar10>, String> {
    post(&Event::Data(DataStatus::Parsing));
    // Let the status message out before the long synchronous parse.
    TimeoutFuture::new(0).await;
    match data::parse_archive(archive) {
        Ok(d) => {
            let d = keep(state, d, source);
            // Kept for the next visit while the first run trains: the browser writes
            // the cache off this thread, and a run need not wait for it. The outcome
            // comes as the same status with a note, so the page can say when it is
            // safe to close; none when another worker is keeping its own copy.
            let (kept, source) = (d.clone(), source.to_string());
            spawn_local(async move {
                let note = match data::keep_once(kept.clone()).await {
                    None => return,
                    Some(Ok(())) => "Kept in this browser for the next visit.".to_string(),
                    Some(Err(e)) => format!("Not kept for the next visit: {e}."),
                };
                post(&Event::Data(ready(&kept, &source, Some(note))));
            });
            Ok(d)
        }
        Err(message) => Err(invalid(message)),
    }
}

/// Posts that the data is unusable, and why; the message back for the caller.
fn invalid(message: String) -> String {
    post(&Event::Data(DataStatus::Invalid {
        message: message.clone(),
    }));
    message
}

fn keep(state: &State, d: Cifar10, source: &str) -> Rc<Cifar10> {
    let d = Rc::new(d);
    *state.data.borrow_mut() = Some(d.clone());
    post(&Event::Data(ready(&d, source, None)));
    d
}

async fn load_file(state: Rc<State>, file: File) {
    if running().is_some() {
        return;
    }
    post(&Event::Data(DataStatus::Parsing));
    match data::read_file(&file).await {
        Ok(bytes) => {
            let previous = state.data.borrow_mut().take();
            if parse_and_keep(&state, &bytes, &file.name()).await.is_err() {
                *state.data.borrow_mut() = previous;
            }
        }
        Err(message) => post(&Event::Data(DataStatus::Invalid { message })),
    }
}

/// The backend for a run that asked for `choice`. A CPU worker trains on the CPU, with
/// a notice when the run asked for more; the WebGPU worker (no CPU backend) trains on
/// WebGPU, or stops with `Stop::NoGpu` where it finds no usable GPU.
async fn backend(state: &State, run: RunId, choice: BackendChoice) -> Result<Backend, Stop> {
    #[cfg(feature = "gpu")]
    if choice != BackendChoice::Cpu {
        return gpu_backend(state, run).await;
    }
    let _ = state;
    #[cfg(feature = "cpu")]
    {
        let notice = match choice {
            BackendChoice::Cpu => None,
            _ if !super::has_webgpu(&scope().navigator()) => Some(super::NO_WEBGPU.to_string()),
            _ => Some(super::NO_ADAPTER.to_string()),
        };
        let (name, device) = cpu_backend();
        post_run(
            run,
            RunEvent::Backend {
                name: name.clone(),
                gpu: false,
                notice,
            },
        );
        Ok(Backend {
            device,
            name,
            gpu: false,
        })
    }
    #[cfg(not(feature = "cpu"))]
    Err(Stop::Failed(
        "this worker trains only on WebGPU; the page sends CPU runs to a CPU worker".into(),
    ))
}

/// WebGPU where the adapter answers, else `Stop::NoGpu` with the reason.
#[cfg(feature = "gpu")]
async fn gpu_backend(state: &State, run: RunId) -> Result<Backend, Stop> {
    if !super::has_webgpu(&scope().navigator()) {
        return Err(Stop::NoGpu("this browser offers no WebGPU".into()));
    }
    if state.gpu.borrow().is_none() {
        enable_subgroups();
        let result = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| e.to_string());
        *state.gpu.borrow_mut() = Some(result);
    }
    let gpu = state.gpu.borrow().clone();
    match gpu.unwrap_or_else(|| Err("not initialised".into())) {
        Ok(device) => {
            post_run(
                run,
                RunEvent::Backend {
                    name: WEBGPU.into(),
                    gpu: true,
                    notice: None,
                },
            );
            Ok(Backend {
                device,
                name: WEBGPU.into(),
                gpu: true,
            })
        }
        Err(reason) => {
            // wgpu wraps the browser's error with its JavaScript stack: the first line
            // says what happened.
            let first = reason.lines().next().unwrap_or_default();
            let reason = first.replace("JsValue(", "");
            Err(Stop::NoGpu(format!("it gave no usable GPU: {reason}")))
        }
    }
}

/// The CPU backend: flex, measured faster than ndarray in the browser (BENCHMARKS.md),
/// and the backend our CPU kernels run on. The `cpu-ndarray` feature swaps in ndarray
/// for that measurement.
#[cfg(feature = "cpu")]
fn cpu_backend() -> (String, Device) {
    #[cfg(feature = "cpu-ndarray")]
    #[allow(deprecated)] // Burn 0.22 deprecates ndarray; we keep it only to measure it.
    return ("CPU (Burn ndarray)".into(), Device::ndarray());
    #[cfg(all(not(feature = "cpu-ndarray"), feature = "threads"))]
    return {
        let threads = match rayon::current_num_threads() {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        };
        // The build for browsers with relaxed SIMD says so (its fused multiply-add).
        let simd = if cfg!(feature = "relaxed-simd") {
            ", relaxed SIMD"
        } else {
            ""
        };
        (format!("CPU (Burn flex, {threads}{simd})"), Device::flex())
    };
    #[cfg(not(any(feature = "cpu-ndarray", feature = "threads")))]
    return ("CPU (Burn flex)".into(), Device::flex());
}

#[cfg(feature = "gpu")]
/// Lets CubeCL's subgroup kernels (Burn's matmul and reductions) validate in Chromium.
/// In a browser they start with `enable subgroups;`, which Chromium accepts only on a
/// device created with the "subgroups" feature, and wgpu 30's WebGPU backend has no name
/// for that feature, so it never asks: every matmul failed validation. So the device is
/// asked for it where the adapter offers it. Chromium also checks that subgroup
/// operations sit in subgroup-uniform control flow, which CubeCL's reductions do at run
/// time but not provably; native backends (Naga, Vulkan) do not check that, so the
/// check is turned off the same way for these shaders. Where the adapter has no
/// subgroups the kernels still fail, and training moves to the CPU with a message.
fn enable_subgroups() {
    const PATCH: &str = r#"
        const adapter = self.GPUAdapter && self.GPUAdapter.prototype;
        if (!adapter || adapter.requestDevice.withSubgroups) return;
        const requestDevice = adapter.requestDevice;
        adapter.requestDevice = function (descriptor) {
            const features = [...((descriptor && descriptor.requiredFeatures) || [])];
            if (this.features.has('subgroups') && !features.includes('subgroups')) features.push('subgroups');
            return requestDevice.call(this, { ...descriptor, requiredFeatures: features });
        };
        adapter.requestDevice.withSubgroups = true;
        const device = self.GPUDevice.prototype;
        const createShaderModule = device.createShaderModule;
        device.createShaderModule = function (descriptor) {
            const code = descriptor.code.replace(
                'enable subgroups;', 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);');
            return createShaderModule.call(this, { ...descriptor, code });
        };
    "#;
    if let Err(e) = js_sys::Function::new_no_args(PATCH).call0(&JsValue::NULL) {
        log(&format!(
            "could not enable WebGPU subgroups: {}",
            js_error(&e)
        ));
    }
}

async fn start(state: &State, spec: RunSpec) -> Result<(), Stop> {
    let data = ensure_data(state).await.map_err(Stop::Failed)?;
    let backend = backend(state, spec.id, spec.backend).await?;
    let target = if backend.gpu {
        Target::Gpu
    } else {
        Target::Cpu
    };
    memory::check(&spec.net, spec.recipe.batch, target).map_err(|e| Stop::Failed(e.to_string()))?;
    // The worker trains one run at a time, so the process-wide setting is this run's.
    crate::train::ops::use_layers(spec.layers);
    let mut trainer = Trainer::new(&spec.net, spec.recipe, &data, &backend.device)
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let spec = RunSpec {
        // The trainer's recipe: its data counts are the subsets it really has.
        recipe: trainer.recipe,
        ..spec
    };
    train(state, &mut trainer, spec, &backend.name).await
}

/// Why a run stopped early.
enum Stop {
    /// The run cannot go on; the worker can.
    Failed(String),
    /// This worker's GPU device is gone, so the page starts a fresh worker (and moves
    /// to the CPU, as for any WebGPU failure).
    Crashed(String),
    /// The WebGPU worker found no usable GPU; the reason. The page moves the run to a
    /// CPU worker.
    #[cfg(feature = "gpu")]
    NoGpu(String),
}

/// A failed readback: the device is lost (a driver reset, a destroyed device), so no
/// later GPU call in this worker can succeed. wgpu nests its errors over several
/// lines; the innermost says what happened.
fn device_error(e: impl std::fmt::Display) -> Stop {
    let detail = e.to_string();
    let cause = detail.lines().rev().map(str::trim).find(|l| !l.is_empty());
    Stop::Crashed(format!(
        "the GPU stopped answering ({}); the device may have been lost",
        cause.unwrap_or("no detail")
    ))
}

async fn train(
    state: &State,
    trainer: &mut Trainer,
    spec: RunSpec,
    backend: &str,
) -> Result<(), Stop> {
    let run = spec.id;
    let mut progress = Progress::new(spec, trainer.facts(), now_s());
    post_run(run, progress.started(memory_bytes()));
    // The next step, recorded: its loss, its number and when its recording began.
    let record = |trainer: &mut Trainer| {
        let t0 = now_s();
        let loss = trainer.step()?;
        let step = trainer.step_index();
        if step <= 3 {
            log(&format!("step {step} recorded in {:.2} s", now_s() - t0));
        }
        Some((loss, step, t0))
    };
    // The step recorded ahead, its loss not read yet (`Trainer::can_run_ahead`).
    let mut ahead = None;
    loop {
        let loss = match ahead.take() {
            Some(loss) => loss,
            None => {
                // Pause and Cancel take effect here, with no step in flight.
                if state.cancel.get() {
                    post_run(run, RunEvent::Cancelled);
                    return Ok(());
                }
                if state.paused.get() {
                    post_run(run, RunEvent::Paused);
                    progress.pause(now_s());
                    while state.paused.get() && !state.cancel.get() {
                        TimeoutFuture::new(100).await;
                    }
                    progress.resume(now_s());
                    if !state.cancel.get() {
                        post_run(run, RunEvent::Resumed);
                    }
                    continue;
                }
                let Some(recorded) = record(trainer) else {
                    break;
                };
                recorded
            }
        };
        // The next step is recorded before this one's loss is read, so that the GPU
        // runs this one while the host records the next; not when Pause or Cancel
        // came, which then take effect after this step.
        if trainer.can_run_ahead() && !state.cancel.get() && !state.paused.get() {
            ahead = record(trainer);
        }
        let (loss, step, t0) = loss;
        let loss = loss
            .into_scalar_async::<f32>()
            .await
            .map_err(device_error)?;
        if step <= 3 {
            log(&format!(
                "step {step} read back after {:.2} s",
                now_s() - t0
            ));
        }
        let report = progress
            .step(loss, now_s(), memory_bytes())
            .map_err(|diverged| Stop::Failed(diverged.to_string()))?;
        post_run(run, report.event);
        if let Some(epoch) = report.epoch_end {
            let correct = evaluate(trainer).await?;
            post_run(run, progress.evaluated(epoch, correct));
        }
        // Let Pause and Cancel messages in.
        TimeoutFuture::new(0).await;
    }
    let record = progress.record(RunStatus::Finished, backend, now_s());
    post_run(
        run,
        RunEvent::Finished {
            record: Box::new(record),
        },
    );
    Ok(())
}

/// Correct top-1 predictions on the test subset, batch by batch, each count read
/// back asynchronously.
async fn evaluate(trainer: &Trainer) -> Result<usize, Stop> {
    let n = trainer.test_images();
    let batch = trainer.recipe.batch.max(1);
    let mut correct = 0i64;
    for start in (0..n).step_by(batch) {
        correct += trainer
            .correct(start, batch)
            .into_scalar_async::<i64>()
            .await
            .map_err(device_error)?;
        TimeoutFuture::new(0).await;
    }
    Ok(correct as usize)
}
