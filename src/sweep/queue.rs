//! A sweep trained in the browser, as a queue without the browser: the runs to train,
//! the workers that train them, and what each worker's events mean for both. The page
//! hands it its clicks and the workers' events and carries out the effects it returns
//! (post a command to a worker, restart or retire one, store a finished record), as
//! `run::session` does for a single run, so every decision is tested natively.
//!
//! Every run ends as a record, failures included (diverged, out of memory, a crashed
//! worker), so a sweep shows what failed and why instead of dropping it. A run that is
//! stopped (cancel) goes back to waiting: starting the sweep again trains it.

use crate::run::protocol::{Command, DataStatus, Event, RunEvent};
use crate::run::record::{RunCurves, RunFacts, RunRecord, RunStatus, Timings, RECORD_SCHEMA};
use crate::run::{BackendChoice, RunId, RunSpec};

/// One model of the sweep and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The sweep (design space) it belongs to.
    pub sweep: String,
    pub spec: RunSpec,
    pub state: JobState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Waiting,
    /// On `worker`; `facts` once its trainer is built.
    Running {
        worker: usize,
        facts: Option<RunFacts>,
        step: usize,
        loss: Option<f32>,
    },
    /// Finished or failed: the record says which.
    Done(Box<RunRecord>),
}

/// What a worker trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Cpu,
    /// WebGPU, one model at a time, beside the CPU workers.
    Gpu,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WorkerState {
    /// Its wasm is loading (at start, and after a restart).
    Booting,
    Idle,
    /// Training the job at this index.
    Busy(usize),
    /// Taken out of the sweep (WebGPU failed in it); the reason.
    Retired(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub lane: Lane,
    pub state: WorkerState,
    /// The backend its current or last run used, in words.
    pub backend: Option<String>,
    /// Why a WebGPU lane trains on the CPU (the browser has no usable WebGPU): its
    /// worker said so, and it was restarted as a CPU worker. Its runs still count.
    pub fallback: Option<String>,
}

impl Worker {
    /// Whether it trains on WebGPU: a WebGPU lane that has not moved to the CPU.
    pub fn on_gpu(&self) -> bool {
        self.lane == Lane::Gpu && self.fallback.is_none()
    }
}

/// Where the whole sweep is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Not started, or stopped by cancel: Start trains what is left.
    Stopped,
    Running,
    Paused,
    /// Every job is done.
    Done,
    /// Cannot go on (no data, no worker); the reason. Start tries again.
    Halted(String),
}

/// What the page must do for the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Post {
        worker: usize,
        command: Command,
    },
    /// Terminate the worker and start a fresh one (its events are dropped from now on).
    Restart {
        worker: usize,
    },
    /// Terminate the worker for good.
    Retire {
        worker: usize,
    },
    /// Keep a finished (or failed) run: it will not be trained again.
    Store {
        sweep: String,
        record: Box<RunRecord>,
    },
}

/// The overall progress bar's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueProgress {
    pub total: usize,
    /// Finished or failed.
    pub done: usize,
    pub failed: usize,
    /// Models per minute since Start (pauses excluded); `None` before the first lands.
    pub per_minute: Option<f64>,
    /// Seconds left at that rate.
    pub left_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub jobs: Vec<Job>,
    pub workers: Vec<Worker>,
    pub phase: Phase,
    /// Running time (pauses excluded) before `since`, and when the clock last started.
    clock: f64,
    since: Option<f64>,
    /// Jobs done since Start, for the rate.
    landed: usize,
}

impl Queue {
    /// A queue of `jobs` (some may be `Done` already: stored runs of a sweep being
    /// resumed) on `cpu` CPU workers, plus a WebGPU worker when `gpu`. Every worker
    /// starts booting.
    pub fn new(jobs: Vec<Job>, cpu: usize, gpu: bool) -> Queue {
        let lanes = std::iter::repeat_n(Lane::Cpu, cpu).chain(gpu.then_some(Lane::Gpu));
        let workers = lanes
            .map(|lane| Worker {
                lane,
                state: WorkerState::Booting,
                backend: None,
                fallback: None,
            })
            .collect();
        let mut queue = Queue {
            jobs,
            workers,
            phase: Phase::Stopped,
            clock: 0.0,
            since: None,
            landed: 0,
        };
        if queue.left() == 0 {
            queue.phase = Phase::Done;
        }
        queue
    }

    /// The page knows before any worker starts that it has no WebGPU: the WebGPU lane
    /// boots as a CPU worker at once, saying `reason`, instead of finding out with its
    /// first job (which a quick sweep's CPU lanes may finish before it has one).
    pub fn without_gpu(&mut self, reason: &str) {
        for w in self.workers.iter_mut().filter(|w| w.on_gpu()) {
            w.fallback = Some(reason.to_string());
        }
    }

    /// Jobs not done.
    pub fn left(&self) -> usize {
        let done = |j: &&Job| matches!(j.state, JobState::Done(_));
        self.jobs.len() - self.jobs.iter().filter(done).count()
    }

    /// Whether runs hold workers or wait for them.
    pub fn active(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Paused)
    }

    /// Starts (or, after cancel or a halt, restarts) the sweep at `now_s`.
    pub fn start(&mut self, now_s: f64) -> Vec<Effect> {
        if self.active() || self.left() == 0 {
            return vec![];
        }
        if self
            .workers
            .iter()
            .all(|w| matches!(w.state, WorkerState::Retired(_)))
        {
            self.phase = Phase::Halted("no worker is left to train on".into());
            return vec![];
        }
        self.phase = Phase::Running;
        self.landed = 0;
        self.clock = 0.0;
        self.since = Some(now_s);
        self.fill()
    }

    /// Pauses every run (a paused worker holds its model until resumed).
    pub fn pause(&mut self, now_s: f64) -> Vec<Effect> {
        if self.phase != Phase::Running {
            return vec![];
        }
        self.phase = Phase::Paused;
        if let Some(since) = self.since.take() {
            self.clock += now_s - since;
        }
        self.each_running(|run| Command::Pause { run })
    }

    pub fn resume(&mut self, now_s: f64) -> Vec<Effect> {
        if self.phase != Phase::Paused {
            return vec![];
        }
        self.phase = Phase::Running;
        self.since = Some(now_s);
        let mut effects = self.each_running(|run| Command::Resume { run });
        effects.extend(self.fill());
        effects
    }

    /// Stops the sweep: the runs in flight are cancelled and wait again, with the rest,
    /// for the next Start (their workers are free once they say the run ended).
    /// Finished runs stay.
    pub fn cancel(&mut self, now_s: f64) -> Vec<Effect> {
        if !self.active() {
            return vec![];
        }
        if let Some(since) = self.since.take() {
            self.clock += now_s - since;
        }
        self.phase = Phase::Stopped;
        let effects = self.each_running(|run| Command::Cancel { run });
        for job in &mut self.jobs {
            if matches!(job.state, JobState::Running { .. }) {
                job.state = JobState::Waiting;
            }
        }
        effects
    }

    fn each_running(&self, command: impl Fn(RunId) -> Command) -> Vec<Effect> {
        self.jobs
            .iter()
            .filter_map(|j| match j.state {
                JobState::Running { worker, .. } => Some(Effect::Post {
                    worker,
                    command: command(j.spec.id),
                }),
                _ => None,
            })
            .collect()
    }

    /// Gives waiting jobs to idle workers, in order, while the sweep runs.
    fn fill(&mut self) -> Vec<Effect> {
        let mut effects = vec![];
        if self.phase != Phase::Running {
            return effects;
        }
        for w in 0..self.workers.len() {
            if self.workers[w].state != WorkerState::Idle {
                continue;
            }
            let Some(j) = self.jobs.iter().position(|j| j.state == JobState::Waiting) else {
                break;
            };
            let job = &mut self.jobs[j];
            job.state = JobState::Running {
                worker: w,
                facts: None,
                step: 0,
                loss: None,
            };
            self.workers[w].state = WorkerState::Busy(j);
            let mut spec = job.spec.clone();
            spec.backend = match self.workers[w].lane {
                Lane::Cpu => BackendChoice::Cpu,
                Lane::Gpu => BackendChoice::Auto,
            };
            effects.push(Effect::Post {
                worker: w,
                command: Command::Start { spec },
            });
        }
        effects
    }

    /// The job `worker` holds, if any: running on it, or cancelled and not yet let go.
    fn job_of(&self, worker: usize) -> Option<usize> {
        let WorkerState::Busy(j) = self.workers.get(worker)?.state else {
            return None;
        };
        match self.jobs[j].state {
            JobState::Running { worker: w, .. } if w != worker => None,
            _ => Some(j),
        }
    }

    /// One event from `worker` at `now_s`. News of a run the worker no longer holds
    /// (queued before a cancel or a restart) is dropped.
    pub fn apply(&mut self, worker: usize, event: Event, now_s: f64) -> Vec<Effect> {
        if worker >= self.workers.len() {
            return vec![];
        }
        match event {
            Event::Ready => {
                if self.workers[worker].state == WorkerState::Booting {
                    self.workers[worker].state = WorkerState::Idle;
                }
                self.fill()
            }
            Event::Data(DataStatus::Missing) | Event::Data(DataStatus::Invalid { .. }) => {
                // Every run would fail the same way: stop instead of failing them all.
                let message = match event {
                    Event::Data(DataStatus::Invalid { message }) => message,
                    _ => "the CIFAR-10 archive is not on this site: load it on the playground page first".into(),
                };
                let effects = self.cancel(now_s);
                self.phase = Phase::Halted(message);
                effects
            }
            Event::Data(_) => vec![],
            Event::Run { run, event } => match self.job_of(worker) {
                Some(j) if self.jobs[j].spec.id == run => self.apply_run(worker, j, event, now_s),
                _ => vec![],
            },
            Event::Crashed { message, .. } => self.crashed(worker, message, now_s),
            Event::Unreadable { message } => {
                self.phase = Phase::Halted(format!(
                    "the training worker is from another build of the page ({message}): reload the page"
                ));
                vec![]
            }
        }
    }

    fn apply_run(&mut self, worker: usize, j: usize, event: RunEvent, now_s: f64) -> Vec<Effect> {
        let JobState::Running {
            facts, step, loss, ..
        } = &mut self.jobs[j].state
        else {
            // Cancelled here, and the worker has not stopped yet: it holds the run until
            // it says it ended. A run that finished first is kept.
            return match event {
                RunEvent::Finished { record } => self.land(worker, j, *record, now_s),
                RunEvent::Failed { .. } | RunEvent::Cancelled => {
                    self.workers[worker].state = WorkerState::Idle;
                    self.fill()
                }
                RunEvent::NoGpu { reason } => self.move_to_cpu(worker, reason),
                _ => vec![],
            };
        };
        match event {
            RunEvent::Backend { name, gpu, notice } => {
                let w = &mut self.workers[worker];
                if w.lane == Lane::Gpu && !gpu {
                    w.fallback =
                        Some(notice.unwrap_or_else(|| "this browser has no usable WebGPU".into()));
                }
                w.backend = Some(name);
            }
            RunEvent::Started { facts: f, .. } => *facts = Some(f),
            RunEvent::Step {
                step: s, loss: l, ..
            } => {
                *step = s;
                *loss = Some(l);
            }
            RunEvent::Eval { .. } | RunEvent::Paused | RunEvent::Resumed => {}
            RunEvent::Finished { record } => return self.land(worker, j, *record, now_s),
            RunEvent::Failed { message } => {
                let record = self.failed_record(worker, j, message);
                return self.land(worker, j, record, now_s);
            }
            RunEvent::Cancelled => {
                self.jobs[j].state = JobState::Waiting;
                self.workers[worker].state = WorkerState::Idle;
                return self.fill();
            }
            RunEvent::Busy { .. } => {
                // The worker holds a run this queue did not give it: start it afresh and
                // give the job to whichever worker is free first.
                self.jobs[j].state = JobState::Waiting;
                self.workers[worker].state = WorkerState::Booting;
                return vec![Effect::Restart { worker }];
            }
            RunEvent::NoGpu { reason } => {
                // Nothing was trained: the job waits for the next free worker.
                self.jobs[j].state = JobState::Waiting;
                return self.move_to_cpu(worker, reason);
            }
        }
        vec![]
    }

    /// `worker`'s WebGPU worker has no usable GPU: it restarts as a CPU worker (the
    /// runner picks the program from `fallback`), so the lane still trains.
    fn move_to_cpu(&mut self, worker: usize, reason: String) -> Vec<Effect> {
        let w = &mut self.workers[worker];
        // Shown as it is, since the lane may train nothing more (quick CPU lanes can
        // finish the rest), so its CPU worker's own notice may never come.
        w.fallback = Some(format!(
            "WebGPU failed in this browser ({reason}), so training runs on the CPU, many \
             times slower."
        ));
        w.state = WorkerState::Booting;
        vec![Effect::Restart { worker }]
    }

    /// A record for a run that ended without one: its spec, what it knew, the reason.
    fn failed_record(&self, worker: usize, j: usize, message: String) -> RunRecord {
        let job = &self.jobs[j];
        let facts = match &job.state {
            JobState::Running { facts: Some(f), .. } => *f,
            _ => RunFacts {
                total_steps: job.spec.recipe.total_steps(),
                steps_per_epoch: job.spec.recipe.steps_per_epoch(),
                train_images: job.spec.recipe.train_images,
                test_images: job.spec.recipe.test_images,
                params: 0,
            },
        };
        let backend = self.workers[worker].backend.clone();
        RunRecord {
            schema: RECORD_SCHEMA,
            spec: job.spec.clone(),
            status: RunStatus::Failed { message },
            backend: backend.unwrap_or_else(|| "unknown".into()),
            facts,
            curves: RunCurves::default(),
            result: None,
            timings: Timings::default(),
        }
    }

    fn land(&mut self, worker: usize, j: usize, record: RunRecord, now_s: f64) -> Vec<Effect> {
        let job = &mut self.jobs[j];
        job.state = JobState::Done(Box::new(record.clone()));
        self.landed += 1;
        if self.workers[worker].state == WorkerState::Busy(j) {
            self.workers[worker].state = WorkerState::Idle;
        }
        let mut effects = vec![Effect::Store {
            sweep: job.sweep.clone(),
            record: Box::new(record),
        }];
        if self.left() == 0 {
            if let Some(since) = self.since.take() {
                self.clock += now_s - since;
            }
            self.phase = Phase::Done;
        }
        effects.extend(self.fill());
        effects
    }

    /// `worker` died (a panic, an uncaught error, a lost GPU device): its run is recorded
    /// as failed with the reason. A CPU worker (a WebGPU lane's too, once it moved to the
    /// CPU) is restarted; a WebGPU one is retired, so a broken GPU does not fail every
    /// model after it.
    pub fn crashed(&mut self, worker: usize, message: String, now_s: f64) -> Vec<Effect> {
        let Some(on_gpu) = self.workers.get(worker).map(Worker::on_gpu) else {
            return vec![];
        };
        let held = self.job_of(worker);
        let mut effects = if on_gpu {
            self.workers[worker].state = WorkerState::Retired(message.clone());
            vec![Effect::Retire { worker }]
        } else {
            self.workers[worker].state = WorkerState::Booting;
            vec![Effect::Restart { worker }]
        };
        if let Some(j) = held {
            if matches!(self.jobs[j].state, JobState::Running { .. }) {
                let record = self.failed_record(worker, j, message);
                effects.extend(self.land(worker, j, record, now_s));
            }
        }
        let retired = |w: &Worker| matches!(w.state, WorkerState::Retired(_));
        if self.active() && self.workers.iter().all(retired) {
            self.phase = Phase::Halted("no worker is left to train on".into());
        }
        effects
    }

    /// The numbers of the overall progress bar at `now_s`.
    pub fn progress(&self, now_s: f64) -> QueueProgress {
        let records = self.jobs.iter().filter_map(|j| match &j.state {
            JobState::Done(r) => Some(r),
            _ => None,
        });
        let (mut done, mut failed) = (0, 0);
        for r in records {
            done += 1;
            if matches!(r.status, RunStatus::Failed { .. }) {
                failed += 1;
            }
        }
        let running = self.clock + self.since.map_or(0.0, |s| (now_s - s).max(0.0));
        let per_minute =
            (self.landed > 0 && running > 0.0).then(|| self.landed as f64 * 60.0 / running);
        let left = self.jobs.len() - done;
        QueueProgress {
            total: self.jobs.len(),
            done,
            failed,
            per_minute,
            left_s: per_minute.map(|r| left as f64 * 60.0 / r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, NetSpec, MINI_REGNETX};
    use crate::run::record::RunResult;
    use crate::run::Recipe;

    fn job(id: u64, sweep: &str) -> Job {
        Job {
            sweep: sweep.into(),
            spec: RunSpec {
                id: RunId(id),
                label: format!("model {id}"),
                net: NetSpec::new(&MINI_REGNETX.params().shape().unwrap(), Dataset::Cifar10),
                recipe: Recipe::default(),
                backend: BackendChoice::Auto,
                layers: Default::default(),
                sweep: None,
            },
            state: JobState::Waiting,
        }
    }

    fn finished(spec: &RunSpec, error: f64) -> Event {
        let record = RunRecord {
            schema: RECORD_SCHEMA,
            spec: spec.clone(),
            status: RunStatus::Finished,
            backend: "cpu".into(),
            facts: RunFacts {
                total_steps: 4,
                steps_per_epoch: 2,
                train_images: 20,
                test_images: 10,
                params: 100,
            },
            curves: RunCurves::default(),
            result: Some(RunResult {
                test_error: error,
                train_loss: 1.0,
                images_per_s: 10.0,
            }),
            timings: Timings::default(),
        };
        run_event(
            spec.id,
            RunEvent::Finished {
                record: Box::new(record),
            },
        )
    }

    fn run_event(id: RunId, event: RunEvent) -> Event {
        Event::Run { run: id, event }
    }

    /// The (worker, run id, backend) of each Start among `effects`.
    fn starts(effects: &[Effect]) -> Vec<(usize, u64, BackendChoice)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Post {
                    worker,
                    command: Command::Start { spec },
                } => Some((*worker, spec.id.0, spec.backend)),
                _ => None,
            })
            .collect()
    }

    fn ready(q: &mut Queue) {
        for w in 0..q.workers.len() {
            q.apply(w, Event::Ready, 0.0);
        }
    }

    #[test]
    fn a_webgpu_lane_without_a_gpu_restarts_on_the_cpu_and_its_job_waits() {
        let mut q = Queue::new(vec![job(1, "a"), job(2, "a")], 1, true);
        ready(&mut q);
        let effects = q.start(0.0);
        use BackendChoice::{Auto, Cpu};
        assert_eq!(starts(&effects), [(0, 1, Cpu), (1, 2, Auto)]);
        let no_gpu = RunEvent::NoGpu {
            reason: "no adapter".into(),
        };
        let effects = q.apply(1, run_event(RunId(2), no_gpu), 1.0);
        assert_eq!(effects, [Effect::Restart { worker: 1 }]);
        let notice = q.workers[1].fallback.as_deref().unwrap_or_default();
        assert!(
            notice.contains("(no adapter), so training runs on the CPU"),
            "{notice}"
        );
        assert_eq!(q.workers[1].state, WorkerState::Booting);
        assert_eq!(q.jobs[1].state, JobState::Waiting, "nothing was trained");
        // The lane, now a CPU worker, takes the job once it is ready.
        let effects = q.apply(1, Event::Ready, 2.0);
        assert_eq!(starts(&effects), [(1, 2, Auto)]);
        assert_eq!(q.progress(3.0).failed, 0);
        // A crash there restarts it, as any CPU worker's.
        let effects = q.crashed(1, "out of memory".into(), 4.0);
        assert_eq!(effects[0], Effect::Restart { worker: 1 });
        assert_eq!(q.workers[1].state, WorkerState::Booting);
    }

    #[test]
    fn a_page_without_webgpu_boots_its_webgpu_lane_on_the_cpu() {
        let mut q = Queue::new(vec![job(1, "a"), job(2, "a")], 1, true);
        q.without_gpu("no WebGPU");
        assert!(!q.workers[1].on_gpu());
        assert_eq!(q.workers[1].fallback.as_deref(), Some("no WebGPU"));
        assert_eq!(
            q.workers[0].fallback, None,
            "a CPU lane is where it belongs"
        );
        ready(&mut q);
        // The lane still asks for WebGPU: the CPU worker then says why it has none.
        use BackendChoice::{Auto, Cpu};
        assert_eq!(starts(&q.start(0.0)), [(0, 1, Cpu), (1, 2, Auto)]);
    }

    #[test]
    fn workers_take_jobs_in_order_and_a_finished_run_frees_its_worker() {
        let jobs = (1..=5)
            .map(|i| job(i, if i <= 3 { "a" } else { "b" }))
            .collect();
        let mut q = Queue::new(jobs, 2, true);
        ready(&mut q);
        assert_eq!(q.phase, Phase::Stopped, "nothing runs before Start");
        let effects = q.start(0.0);
        use BackendChoice::{Auto, Cpu};
        assert_eq!(starts(&effects), [(0, 1, Cpu), (1, 2, Cpu), (2, 3, Auto)]);
        // The WebGPU worker of a browser without WebGPU trains on the CPU and says why.
        let backend = |gpu, notice: Option<&str>| {
            run_event(
                RunId(3),
                RunEvent::Backend {
                    name: if gpu { "WebGPU" } else { "cpu" }.into(),
                    gpu,
                    notice: notice.map(String::from),
                },
            )
        };
        q.apply(2, backend(false, Some("no WebGPU here")), 1.0);
        assert_eq!(q.workers[2].fallback.as_deref(), Some("no WebGPU here"));
        q.apply(0, backend(false, None), 1.0);
        assert_eq!(
            q.workers[0].fallback, None,
            "a CPU worker is where it belongs"
        );
        let spec2 = q.jobs[1].spec.clone();
        let effects = q.apply(1, finished(&spec2, 0.4), 30.0);
        assert!(
            matches!(&effects[0], Effect::Store { sweep, record } if sweep == "a" && record.spec.id == RunId(2))
        );
        assert_eq!(starts(&effects), [(1, 4, Cpu)]);
        let p = q.progress(60.0);
        assert_eq!((p.total, p.done, p.failed), (5, 1, 0));
        assert_eq!(p.per_minute, Some(1.0));
        assert_eq!(p.left_s, Some(240.0));
        // News of a job the worker does not hold is dropped.
        assert!(q.apply(0, finished(&spec2, 0.1), 61.0).is_empty());
        for (w, j) in [(0, 0), (2, 2), (1, 3)] {
            let spec = q.jobs[j].spec.clone();
            q.apply(w, finished(&spec, 0.5), 70.0);
        }
        let spec5 = q.jobs[4].spec.clone();
        let worker = match q.jobs[4].state {
            JobState::Running { worker, .. } => worker,
            ref s => panic!("job 5 is {s:?}"),
        };
        q.apply(worker, finished(&spec5, 0.5), 80.0);
        assert_eq!(q.phase, Phase::Done);
        assert_eq!(q.left(), 0);
    }

    #[test]
    fn failures_are_recorded_with_their_reason_and_the_sweep_goes_on() {
        let mut q = Queue::new(vec![job(1, "a"), job(2, "a"), job(3, "a")], 1, true);
        ready(&mut q);
        q.start(0.0);
        let id1 = q.jobs[0].spec.id;
        let diverged = RunEvent::Failed {
            message: "the loss diverged".into(),
        };
        let effects = q.apply(0, run_event(id1, diverged), 5.0);
        let Effect::Store { record, .. } = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(
            record.status,
            RunStatus::Failed {
                message: "the loss diverged".into()
            }
        );
        // The next waiting job (3: job 2 is on the GPU worker) goes to the CPU worker.
        assert_eq!(starts(&effects), [(0, 3, BackendChoice::Cpu)]);
        // WebGPU crashes: job 2 is failed with the reason, the GPU worker retired, not
        // restarted; the sweep goes on with the CPU worker.
        let effects = q.crashed(1, "the GPU device was lost".into(), 6.0);
        assert!(effects.contains(&Effect::Retire { worker: 1 }));
        assert!(
            matches!(&q.jobs[1].state, JobState::Done(r) if matches!(&r.status, RunStatus::Failed { message } if message.contains("device was lost")))
        );
        assert_eq!(q.phase, Phase::Running);
        // A CPU worker that crashes is restarted, and its job failed.
        let effects = q.crashed(0, "out of memory".into(), 7.0);
        assert!(effects.contains(&Effect::Restart { worker: 0 }));
        assert_eq!(q.progress(8.0).failed, 3);
        assert_eq!(q.phase, Phase::Done);
    }

    #[test]
    fn pause_resume_and_cancel_reach_every_running_worker() {
        let mut q = Queue::new((1..=4).map(|i| job(i, "a")).collect(), 2, false);
        ready(&mut q);
        q.start(0.0);
        let paused = q.pause(10.0);
        assert_eq!(paused.len(), 2);
        assert!(paused.iter().all(|e| matches!(
            e,
            Effect::Post {
                command: Command::Pause { .. },
                ..
            }
        )));
        // Paused time does not count.
        let spec = q.jobs[0].spec.clone();
        q.resume(110.0);
        q.apply(0, finished(&spec, 0.3), 120.0);
        assert_eq!(q.progress(120.0).per_minute, Some(3.0));
        let cancelled = q.cancel(130.0);
        assert_eq!(cancelled.len(), 2);
        assert_eq!(q.phase, Phase::Stopped);
        assert_eq!(q.left(), 3, "cancelled runs wait again");
        // The cancelled runs' last words free the workers; Start goes on where it was.
        for w in 0..2 {
            let WorkerState::Busy(j) = q.workers[w].state else {
                panic!("worker {w} let go of its run before it ended")
            };
            let id = q.jobs[j].spec.id;
            q.apply(w, run_event(id, RunEvent::Cancelled), 131.0);
        }
        assert_eq!(
            q.workers
                .iter()
                .filter(|w| w.state == WorkerState::Idle)
                .count(),
            2
        );
        assert_eq!(starts(&q.start(140.0)).len(), 2);
    }

    #[test]
    fn missing_data_halts_instead_of_failing_every_model() {
        let mut q = Queue::new((1..=3).map(|i| job(i, "a")).collect(), 2, false);
        ready(&mut q);
        q.start(0.0);
        q.apply(0, Event::Data(DataStatus::Missing), 1.0);
        assert!(matches!(&q.phase, Phase::Halted(m) if m.contains("archive")));
        assert_eq!(q.progress(2.0).done, 0);
        assert_eq!(q.left(), 3);
    }

    #[test]
    fn a_resumed_sweep_trains_only_what_is_left() {
        let mut jobs: Vec<Job> = (1..=3).map(|i| job(i, "a")).collect();
        let Event::Run {
            event: RunEvent::Finished { record },
            ..
        } = finished(&jobs[0].spec, 0.2)
        else {
            unreachable!()
        };
        jobs[0].state = JobState::Done(record);
        let mut q = Queue::new(jobs, 3, false);
        ready(&mut q);
        assert_eq!(
            starts(&q.start(0.0))
                .iter()
                .map(|s| s.1)
                .collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(q.progress(0.0).done, 1);
    }
}
