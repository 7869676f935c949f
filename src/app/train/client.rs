//! The page's handle on the training worker: creates it, posts commands, and feeds
//! its events to the run session (`run::session`, where the decisions are made and
//! tested), whose parts the panel reads as memos. The curves live here, on the page,
//! so a crashed worker or a lost GPU never takes them along.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, File, MessageEvent, Worker};

use crate::design::NetSpec;
use crate::run::protocol::{Command, DataStatus, Event};
use crate::run::record::{RunFacts, RunRecord};
use crate::run::session::{BackendInfo, Curves, Effect, Phase, Session, StepInfo};
use crate::run::{BackendChoice, Recipe, RunSpec};

/// Starts a training worker. Its events go to `on_event`, its uncaught errors (as a
/// message) to `on_error`, both only while `current()` says the worker is still the
/// one wanted (a terminated worker's queued events are dropped).
pub(crate) fn spawn_worker(
    current: impl Fn() -> bool + Copy + 'static,
    on_event: impl Fn(Event) + 'static,
    on_error: impl Fn(String) + 'static,
) -> Result<Worker, String> {
    let url = crate::site::path_of(&crate::app::base(), WORKER_SCRIPT);
    let worker =
        Worker::new(&url).map_err(|e| format!("the training worker could not start ({e:?})"))?;
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
    let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |e: ErrorEvent| {
        if current() {
            on_error(e.message());
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

/// Everything the panel shows about training; `Copy`, so components share it. Each
/// part is a memo over the session, so a step redraws only what changed.
#[derive(Clone, Copy)]
pub struct Training {
    session: RwSignal<Session>,
    worker: StoredValue<Option<Worker>, LocalStorage>,
    /// Counts workers started, so events still queued from a terminated one are dropped.
    generation: StoredValue<u32>,
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

/// The worker's loader, beside index.html at the site's base (scripts/package-site.mjs
/// writes it).
const WORKER_SCRIPT: &str = "/train_worker_loader.js";

impl Training {
    pub fn new() -> Self {
        let session = RwSignal::new(Session::default());
        let training = Training {
            session,
            worker: StoredValue::new_local(None),
            generation: StoredValue::new(0),
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
        training.spawn();
        // Leaving the page (another route) disposes the signals: the worker goes too, so
        // nothing it still sends can reach them.
        on_cleanup(move || {
            if let Some(Some(w)) = training.worker.try_get_value() {
                w.terminate();
            }
        });
        training
    }

    /// Starts a fresh worker (at start-up and after a crash).
    fn spawn(self) {
        self.generation.update_value(|g| *g += 1);
        let generation = self.generation.get_value();
        // False too once the page is gone (the value disposed): late events are dropped.
        let current = move || self.generation.try_get_value() == Some(generation);
        let on_event = move |event: Event| self.drive(|s| s.apply(event));
        let on_error = move |message: String| {
            let message = format!("the training worker failed: {message}");
            self.drive(|s| s.crashed(message));
        };
        let worker = match spawn_worker(current, on_event, on_error) {
            Ok(w) => w,
            Err(e) => {
                self.session
                    .update(|s| s.unavailable(format!("{e}; training is unavailable")));
                return;
            }
        };
        self.worker.set_value(Some(worker));
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

    /// Starts a run of `net` with `recipe`, named `label`.
    pub fn start(self, label: String, net: NetSpec, recipe: Recipe, backend: BackendChoice) {
        let now_ms = js_sys::Date::now() as u64;
        self.drive(|s| {
            let spec = RunSpec {
                id: s.next_id(now_ms),
                label,
                net,
                recipe,
                backend,
                sweep: None,
            };
            s.start(spec)
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
