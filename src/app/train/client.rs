//! The page's handle on the training worker: picks the worker program for each run
//! (`run::placement`), creates it, posts commands, and feeds its events to the run
//! session (`run::session`, where the decisions are made and tested), whose parts the
//! panel reads as memos. The curves live here, on the page, so a crashed worker or a
//! lost GPU never takes them along.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{File, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::design::NetSpec;
use crate::run::placement::{Browser, WorkerKind};
use crate::run::protocol::{Command, DataStatus, Event};
use crate::run::record::{RunFacts, RunRecord};
use crate::run::session::{BackendInfo, Curves, Effect, Phase, Session, StepInfo};
use crate::run::{BackendChoice, Layers, Recipe, RunSpec};

/// Starts a training worker of `kind` (a threaded one with a pool of `threads`, or of
/// every core the browser reports). The CPU workers are ES modules; the WebGPU one a
/// classic worker script. Its events go to `on_event`, its uncaught errors
/// (as a message) to `on_error`, both only while `current()` says the worker is still
/// the one wanted (a terminated worker's queued events are dropped).
pub(crate) fn spawn_worker(
    kind: WorkerKind,
    threads: Option<usize>,
    current: impl Fn() -> bool + Copy + 'static,
    on_event: impl Fn(Event) + 'static,
    on_error: impl Fn(String) + 'static,
) -> Result<Worker, String> {
    let base = crate::app::base();
    let module = |loader: &str, query: String| {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let url = crate::site::path_of(&base, loader) + &query;
        Worker::new_with_options(&url, &options)
    };
    let started = match kind {
        WorkerKind::WebGpu => Worker::new(&crate::site::path_of(&base, WEBGPU_WORKER)),
        WorkerKind::Threaded => module(
            THREADED_WORKER,
            threads.map(|n| format!("?threads={n}")).unwrap_or_default(),
        ),
        WorkerKind::OneThread => module(ONE_THREAD_WORKER, String::new()),
    };
    let worker = started.map_err(|e| format!("the training worker could not start ({e:?})"))?;
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
        if !current() {
            return;
        }
        let Some(text) = e.data().as_string() else {
            return;
        };
        if let Ok(event) = serde_json::from_str::<Event>(&text) {
            on_event(event);
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // A script that fails to load fires a plain `Event`, an uncaught error an
    // `ErrorEvent` with a message.
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |e: web_sys::Event| {
        if current() {
            let message = js_sys::Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "its script did not load".into());
            on_error(message);
        }
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    Ok(worker)
}

/// Posts `command` to `worker` as JSON.
pub(crate) fn post(worker: &Worker, command: &Command) {
    if let Ok(json) = serde_json::to_string(command) {
        let _ = worker.post_message(&JsValue::from_str(&json));
    }
}

/// Whether this page may share wasm memory between workers (the threaded worker's
/// need): the server sent the cross-origin isolation headers.
pub(crate) fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .is_ok_and(|v| v.is_truthy())
}

/// Everything the panel shows about training; `Copy`, so components share it. Each
/// part is a memo over the session, so a step redraws only what changed.
#[derive(Clone, Copy)]
pub struct Training {
    session: RwSignal<Session>,
    worker: StoredValue<Option<Worker>, LocalStorage>,
    /// Counts workers started, so events still queued from a terminated one are dropped.
    generation: StoredValue<u32>,
    /// What the page knows of this browser (None until WebGPU has been probed).
    browser: RwSignal<Option<Browser>>,
    /// The program the current worker runs.
    kind: RwSignal<WorkerKind>,
    /// The backend the last Start asked for (the next worker is picked for it).
    choice: StoredValue<BackendChoice>,
    /// Whether the current worker has said it is ready.
    ready: StoredValue<bool>,
    /// Why the threaded worker did not start, once it failed.
    threads_error: StoredValue<Option<String>>,
    /// Why a CPU run has only one thread, when it has.
    pub one_thread: Memo<Option<String>>,
    pub gpu_failed: Memo<Option<String>>,
    pub phase: Memo<Phase>,
    pub data: Memo<DataStatus>,
    pub backend: Memo<Option<BackendInfo>>,
    pub run: Memo<Option<RunFacts>>,
    pub last: Memo<Option<StepInfo>>,
    pub curves: Memo<Curves>,
    /// The run before this one, drawn faintly for comparison.
    pub previous: Memo<Option<Curves>>,
    pub result: Memo<Option<RunRecord>>,
}

/// The workers' loaders, beside index.html at the site's base
/// (scripts/package-site.mjs writes them).
const WEBGPU_WORKER: &str = "/train_worker_loader.js";
const THREADED_WORKER: &str = "/train_cpu_loader.js";
const ONE_THREAD_WORKER: &str = "/train_cpu1_loader.js";

impl Training {
    /// The panel's training, its first worker picked for `choice` once WebGPU has
    /// been probed.
    pub fn new(choice: BackendChoice) -> Self {
        let session = RwSignal::new(Session::default());
        let browser = RwSignal::new(None::<Browser>);
        let kind = RwSignal::new(WorkerKind::WebGpu);
        let threads_error = StoredValue::new(None::<String>);
        let training = Training {
            session,
            worker: StoredValue::new_local(None),
            generation: StoredValue::new(0),
            browser,
            kind,
            choice: StoredValue::new(choice),
            ready: StoredValue::new(false),
            threads_error,
            one_thread: Memo::new(move |_| {
                let on_cpu = session.with(|s| s.backend.as_ref().is_some_and(|b| !b.gpu));
                let error = threads_error.get_value();
                let b = Browser {
                    threads_failed: error.is_some(),
                    ..browser.get()?
                };
                (on_cpu && kind.get() == WorkerKind::OneThread)
                    .then(|| b.one_thread_reason(error.as_deref()))
            }),
            gpu_failed: Memo::new(move |_| session.with(|s| s.gpu_failed.clone())),
            phase: Memo::new(move |_| session.with(|s| s.phase.clone())),
            data: Memo::new(move |_| session.with(|s| s.data.clone())),
            backend: Memo::new(move |_| session.with(|s| s.backend.clone())),
            run: Memo::new(move |_| session.with(|s| s.facts)),
            last: Memo::new(move |_| session.with(|s| s.last)),
            curves: Memo::new(move |_| session.with(|s| s.curves.clone())),
            previous: Memo::new(move |_| session.with(|s| s.previous.clone())),
            result: Memo::new(move |_| session.with(|s| s.result.clone())),
        };
        wasm_bindgen_futures::spawn_local(async move {
            let webgpu = crate::worker::webgpu_missing(&window().navigator())
                .await
                .is_none();
            let found = Browser {
                webgpu,
                isolated: cross_origin_isolated(),
                ..Browser::default()
            };
            // The page may be gone by now.
            if browser.try_set(Some(found)).is_none() {
                training.spawn();
            }
        });
        // Leaving the page (another route) disposes the signals: the worker goes too, so
        // nothing it still sends can reach them.
        on_cleanup(move || {
            if let Some(Some(w)) = training.worker.try_get_value() {
                w.terminate();
            }
        });
        training
    }

    /// Whether WebGPU gave this page an adapter; `None` until it has answered.
    pub fn webgpu(self) -> Option<bool> {
        self.browser.with(|b| b.map(|b| b.webgpu))
    }

    /// What the page knows of this browser now.
    fn browser_now(self) -> Browser {
        Browser {
            gpu_failed: self.session.with_untracked(|s| s.gpu_failed.is_some()),
            threads_failed: self.threads_error.with_value(Option::is_some),
            ..self.browser.get_untracked().unwrap_or_default()
        }
    }

    /// Starts a fresh worker (at start-up, for a run that wants the other program,
    /// and after a crash), of the kind the last choice wants.
    fn spawn(self) {
        self.generation.update_value(|g| *g += 1);
        let generation = self.generation.get_value();
        let kind = self.browser_now().worker_for(self.choice.get_value());
        self.kind.set(kind);
        self.ready.set_value(false);
        // False too once the page is gone (the value disposed): late events are dropped.
        let current = move || self.generation.try_get_value() == Some(generation);
        // A threaded worker that fails before it is ready (no shared memory, a pool
        // that would not start) is replaced by the one-thread worker, which picks up
        // whatever was waiting for it.
        let starting_threads = move || kind == WorkerKind::Threaded && !self.ready.get_value();
        let on_event = move |event: Event| match event {
            Event::Crashed { message, .. } if starting_threads() => self.threads_failed(message),
            event => {
                if event == Event::Ready {
                    self.ready.set_value(true);
                }
                self.drive(|s| s.apply(event));
            }
        };
        let on_error = move |message: String| {
            if starting_threads() {
                return self.threads_failed(message);
            }
            let message = format!("the training worker failed: {message}");
            self.drive(|s| s.crashed(message));
        };
        let worker = match spawn_worker(kind, None, current, on_event, on_error) {
            Ok(w) => w,
            Err(e) => {
                self.session
                    .update(|s| s.unavailable(format!("{e}; training is unavailable")));
                return;
            }
        };
        self.worker.set_value(Some(worker));
    }

    /// The threaded worker did not start: this tab uses the one-thread worker.
    fn threads_failed(self, message: String) {
        self.threads_error.set_value(Some(message));
        if let Some(w) = self.worker.get_value() {
            w.terminate();
        }
        self.spawn();
    }

    /// Runs one session transition and carries out its effects.
    fn drive(self, transition: impl FnOnce(&mut Session) -> Vec<Effect>) {
        let mut effects = Vec::new();
        self.session.update(|s| effects = transition(s));
        for effect in effects {
            match effect {
                Effect::Post(command) => self.post(&command),
                Effect::Restart => {
                    if let Some(w) = self.worker.get_value() {
                        w.terminate();
                    }
                    self.spawn();
                }
            }
        }
    }

    /// Starts a run of `net` with `recipe`, named `label`, on `backend` with `layers`.
    pub fn start(
        self,
        label: String,
        net: NetSpec,
        recipe: Recipe,
        backend: BackendChoice,
        layers: Layers,
    ) {
        let now_ms = js_sys::Date::now() as u64;
        self.choice.set_value(backend);
        let fresh = self.browser_now().worker_for(backend) != self.kind.get_untracked();
        self.drive(|s| {
            let spec = RunSpec {
                id: s.next_id(now_ms),
                label,
                net,
                recipe,
                backend,
                layers,
                sweep: None,
            };
            if fresh {
                s.start_in_fresh_worker(spec)
            } else {
                s.start(spec)
            }
        });
    }

    pub fn toggle_pause(self) {
        self.drive(|s| s.toggle_pause());
    }

    pub fn cancel(self) {
        self.drive(|s| s.cancel());
    }

    /// Asks the worker to download the archive.
    pub fn load(self) {
        self.post(&Command::Load);
    }

    fn post(self, command: &Command) {
        if let Some(w) = self.worker.get_value() {
            post(&w, command);
        }
    }

    pub fn send_file(self, file: &File) {
        if let Some(w) = self.worker.get_value() {
            let _ = w.post_message(file);
        }
    }
}
