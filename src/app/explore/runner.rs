//! The page's side of a sweep in the browser: the training workers (several on the
//! CPU, each training on one thread: the threaded worker with a pool of one where the
//! page is isolated, else the one-thread worker; plus one on WebGPU if asked, which
//! becomes a CPU worker where the browser has no usable GPU) and the queue
//! (`sweep::queue`, where every decision is made and tested) they report to. This file
//! only creates and terminates workers, posts what the queue says, and hands each
//! landed record to the page.

use leptos::prelude::*;
use web_sys::Worker;

use crate::app::train::client::{cross_origin_isolated, post, spawn_worker};
use crate::run::placement::WorkerKind;
use crate::run::protocol::Event;
use crate::run::RunRecord;
use crate::sweep::queue::{Effect, Queue};

/// Seconds on the page's clock (the queue's rates and time left).
fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// The running sweep: its queue (as a signal the panel reads) and its workers.
#[derive(Clone, Copy)]
pub struct Runner {
    pub queue: RwSignal<Option<Queue>>,
    workers: StoredValue<Vec<Option<Worker>>, LocalStorage>,
    /// Per worker, how many times it was started: a terminated worker's queued
    /// events are dropped.
    generations: StoredValue<Vec<u32>>,
    /// Where each landed record goes (stored, and drawn).
    on_record: StoredValue<Callback<(String, RunRecord)>>,
    /// Per worker, whether it has said it is ready.
    ready: StoredValue<Vec<bool>>,
    /// CPU lanes run the threaded worker with a pool of one where the page is
    /// cross-origin isolated, until one fails to start; else the one-thread worker.
    threads: StoredValue<bool>,
    /// How many times `run` was called: a sweep whose adapter check answers after a
    /// later `run` does not start.
    attempts: StoredValue<u32>,
}

impl Runner {
    pub fn new(on_record: Callback<(String, RunRecord)>) -> Runner {
        let runner = Runner {
            queue: RwSignal::new(None),
            workers: StoredValue::new_local(vec![]),
            generations: StoredValue::new(vec![]),
            on_record: StoredValue::new(on_record),
            ready: StoredValue::new(vec![]),
            threads: StoredValue::new(cross_origin_isolated()),
            attempts: StoredValue::new(0),
        };
        on_cleanup(move || runner.terminate_all());
        runner
    }

    fn terminate_all(self) {
        if let Some(workers) = self.workers.try_get_value() {
            for w in workers.into_iter().flatten() {
                w.terminate();
            }
        }
        self.generations
            .try_update_value(|g| g.iter_mut().for_each(|g| *g += 1));
    }

    /// Replaces any sweep with `queue` and starts its workers; the queue starts once
    /// they are up. A WebGPU lane first asks the browser for an adapter, and boots as
    /// a CPU worker where none answers (it would otherwise learn so only from its first
    /// job, which a quick sweep's CPU lanes may finish before it gets one).
    pub fn run(self, mut queue: Queue) {
        self.terminate_all();
        let attempt = self.attempts.get_value() + 1;
        self.attempts.set_value(attempt);
        if !queue.workers.iter().any(|w| w.on_gpu()) {
            return self.start(queue);
        }
        // Shown at once (every lane starting); a later Start replaces it.
        self.queue.set(Some(queue.clone()));
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(reason) = crate::worker::webgpu_missing(&window().navigator()).await {
                queue.without_gpu(reason);
            }
            // The page may be gone, or another sweep started meanwhile.
            if self.attempts.try_get_value() == Some(attempt) {
                self.start(queue);
            }
        });
    }

    fn start(self, queue: Queue) {
        let n = queue.workers.len();
        self.queue.set(Some(queue));
        self.workers.set_value((0..n).map(|_| None).collect());
        self.generations.set_value(vec![0; n]);
        self.ready.set_value(vec![false; n]);
        for w in 0..n {
            self.spawn(w);
        }
        self.drive(|q| q.start(now_s()));
    }

    /// Starts worker `w` afresh (at start and after a crash).
    fn spawn(self, w: usize) {
        self.generations.update_value(|g| g[w] += 1);
        let generation = self.generations.with_value(|g| g[w]);
        let current = move || {
            self.generations
                .try_with_value(|g| g.get(w) == Some(&generation))
                .unwrap_or(false)
        };
        let on_gpu = self
            .queue
            .with_untracked(|q| q.as_ref().is_some_and(|q| q.workers[w].on_gpu()));
        let kind = match (on_gpu, self.threads.get_value()) {
            (true, _) => WorkerKind::WebGpu,
            (false, true) => WorkerKind::Threaded,
            (false, false) => WorkerKind::OneThread,
        };
        self.ready.update_value(|r| r[w] = false);
        // A threaded worker that fails before it is ready gives way to the one-thread
        // worker, for this lane and every later one.
        let starting_threads =
            move || kind == WorkerKind::Threaded && !self.ready.with_value(|r| r[w]);
        let fall_back = move || {
            self.threads.set_value(false);
            self.terminate(w);
            self.spawn(w);
        };
        let on_event = move |event: Event| match event {
            Event::Crashed { .. } if starting_threads() => fall_back(),
            event => {
                if event == Event::Ready {
                    self.ready.update_value(|r| r[w] = true);
                }
                self.drive(|q| q.apply(w, event, now_s()));
            }
        };
        let on_error = move |message: String| {
            if starting_threads() {
                return fall_back();
            }
            let message = format!("the training worker failed: {message}");
            self.drive(|q| q.crashed(w, message, now_s()));
        };
        match spawn_worker(kind, Some(1), current, on_event, on_error) {
            Ok(worker) => self.workers.update_value(|ws| ws[w] = Some(worker)),
            Err(e) => self.drive(|q| q.crashed(w, e, now_s())),
        }
    }

    fn terminate(self, w: usize) {
        self.generations.update_value(|g| g[w] += 1);
        if let Some(worker) = self.workers.with_value(|ws| ws[w].clone()) {
            worker.terminate();
        }
        self.workers.update_value(|ws| ws[w] = None);
    }

    /// Runs one queue transition and carries out its effects.
    pub fn drive(self, transition: impl FnOnce(&mut Queue) -> Vec<Effect>) {
        let mut effects = vec![];
        self.queue.update(|q| {
            if let Some(q) = q {
                effects = transition(q);
            }
        });
        for effect in effects {
            match effect {
                Effect::Post { worker, command } => {
                    if let Some(Some(w)) = self.workers.with_value(|ws| ws.get(worker).cloned()) {
                        post(&w, &command);
                    }
                }
                Effect::Restart { worker } => {
                    self.terminate(worker);
                    self.spawn(worker);
                }
                Effect::Retire { worker } => self.terminate(worker),
                Effect::Store { sweep, record } => {
                    self.on_record.with_value(|f| f.run((sweep, *record)));
                }
            }
        }
    }

    pub fn pause(self) {
        self.drive(|q| q.pause(now_s()));
    }

    pub fn resume(self) {
        self.drive(|q| q.resume(now_s()));
    }

    pub fn cancel(self) {
        self.drive(|q| q.cancel(now_s()));
    }

    /// Starts the held queue again (after cancel or a halt) with its workers as they are.
    pub fn restart(self) {
        self.drive(|q| q.start(now_s()));
    }
}
