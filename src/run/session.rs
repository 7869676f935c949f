//! The page's side of a training worker, as a state machine without the browser:
//! the page hands it its clicks and the worker's events, and carries out the effects
//! it returns (post a command, replace a crashed worker). It decides what the panel
//! shows: the phase, the data, the backend, the live run and the one before, and what
//! happens when WebGPU fails in the middle of a run (the run starts again on the CPU,
//! its curves kept).

use super::protocol::{Command, DataStatus, Event, RunEvent};
use super::record::{RunFacts, RunRecord};
use super::spec::{BackendChoice, RunId, RunSpec};

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

    /// Start may be pressed: the worker is up and holds no run.
    pub fn can_start(&self) -> bool {
        !self.active() && *self != Phase::Booting
    }
}

/// The backend a run uses, and the notice when it is a fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    pub name: String,
    pub gpu: bool,
    pub notice: Option<String>,
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

/// One run's live curves: x in epochs, a point per step for the loss.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    pub label: String,
    pub loss: Vec<(f64, f64)>,
    pub test_error: Vec<(f64, f64)>,
}

/// What the page must do for the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Post(Command),
    /// Terminate the worker and start a fresh one (its events are dropped from now on).
    Restart,
}

/// The page's view of one worker and its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub phase: Phase,
    pub data: DataStatus,
    pub backend: Option<BackendInfo>,
    pub facts: Option<RunFacts>,
    pub last: Option<StepInfo>,
    pub curves: Curves,
    /// The run before this one, drawn faintly for comparison.
    pub previous: Option<Curves>,
    /// The finished run's record.
    pub result: Option<RunRecord>,
    /// Why WebGPU failed in this tab, if it did: later runs use the CPU.
    pub gpu_failed: Option<String>,
    /// The run that holds the worker, or held it last.
    current: Option<RunSpec>,
    /// A crash on WebGPU: rerun `current` on the CPU once the fresh worker is ready.
    rerun_on_cpu: bool,
    /// A run waiting for the fresh worker it asked for (`start_in_fresh_worker`).
    queued: Option<RunSpec>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            phase: Phase::Booting,
            data: DataStatus::Checking,
            backend: None,
            facts: None,
            last: None,
            curves: Curves::default(),
            previous: None,
            result: None,
            gpu_failed: None,
            current: None,
            rerun_on_cpu: false,
            queued: None,
        }
    }
}

impl Session {
    /// The id for a run started at `now_ms`: after every id this session issued.
    pub fn next_id(&self, now_ms: u64) -> RunId {
        RunId::next(self.current.as_ref().map(|s| s.id), now_ms)
    }

    /// The run that holds the worker, or held it last.
    pub fn current(&self) -> Option<&RunSpec> {
        self.current.as_ref()
    }

    pub fn can_start(&self) -> bool {
        self.phase.can_start()
    }

    /// Starts `spec` (on the CPU once WebGPU failed in this tab), keeping the last
    /// run's curves for comparison. Refused while a run holds the worker.
    pub fn start(&mut self, spec: RunSpec) -> Vec<Effect> {
        if !self.can_start() {
            return Vec::new();
        }
        self.launch(spec)
    }

    fn launch(&mut self, mut spec: RunSpec) -> Vec<Effect> {
        if self.gpu_failed.is_some() {
            spec.backend = BackendChoice::Cpu;
        }
        let old = std::mem::replace(
            &mut self.curves,
            Curves {
                label: spec.label.clone(),
                ..Curves::default()
            },
        );
        if !old.loss.is_empty() {
            self.previous = Some(old);
        }
        self.facts = None;
        self.last = None;
        self.result = None;
        self.phase = Phase::Preparing;
        self.current = Some(spec.clone());
        vec![Effect::Post(Command::Start { spec })]
    }

    /// Starts `spec` in a fresh worker (the page wants the other worker program for
    /// it): the worker is replaced, and the run starts once the new one is ready.
    /// Refused while a run holds the worker.
    pub fn start_in_fresh_worker(&mut self, spec: RunSpec) -> Vec<Effect> {
        if !self.can_start() {
            return Vec::new();
        }
        self.in_fresh_worker(spec)
    }

    /// Queues `spec` for the fresh worker that replaces the current one.
    fn in_fresh_worker(&mut self, spec: RunSpec) -> Vec<Effect> {
        self.queued = Some(spec);
        self.phase = Phase::Preparing;
        self.backend = None;
        self.data = DataStatus::Checking;
        vec![Effect::Restart]
    }

    /// Pause or resume the current run, whichever applies.
    pub fn toggle_pause(&self) -> Vec<Effect> {
        let Some(run) = self.current.as_ref().map(|s| s.id) else {
            return Vec::new();
        };
        match self.phase {
            Phase::Running => vec![Effect::Post(Command::Pause { run })],
            Phase::Paused => vec![Effect::Post(Command::Resume { run })],
            _ => Vec::new(),
        }
    }

    pub fn cancel(&mut self) -> Vec<Effect> {
        if self.queued.take().is_some() {
            self.phase = Phase::Cancelled;
            return Vec::new();
        }
        match &self.current {
            Some(spec) if self.phase.active() => {
                vec![Effect::Post(Command::Cancel { run: spec.id })]
            }
            _ => Vec::new(),
        }
    }

    /// The worker could not be created: training is unavailable in this tab.
    pub fn unavailable(&mut self, message: String) {
        self.phase = Phase::Failed(message);
    }

    /// The worker died (an uncaught error, a panic, a lost GPU device). A run on
    /// WebGPU starts again on the CPU in a fresh worker; anything else fails with its
    /// curves kept.
    pub fn crashed(&mut self, message: String) -> Vec<Effect> {
        let on_gpu = self.backend.as_ref().is_some_and(|b| b.gpu);
        if on_gpu && self.phase.active() {
            self.gpu_failed = Some(message);
            self.rerun_on_cpu = true;
            self.phase = Phase::Preparing;
        } else {
            self.phase = Phase::Failed(format!(
                "{message}. The curves so far are kept; Start runs again."
            ));
        }
        self.backend = None;
        self.data = DataStatus::Checking;
        vec![Effect::Restart]
    }

    /// One event from the worker. News of a run other than the current one is stale
    /// (queued before a crash or a restart) and dropped.
    pub fn apply(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Ready => {
                let mut effects = vec![Effect::Post(Command::Probe)];
                if let Some(spec) = self.queued.take() {
                    effects.extend(self.launch(spec));
                    return effects;
                }
                if std::mem::take(&mut self.rerun_on_cpu) {
                    if let Some(mut spec) = self.current.clone() {
                        self.curves.label = format!("{} (WebGPU, failed)", self.curves.label);
                        spec.id = RunId(spec.id.0 + 1);
                        effects.extend(self.launch(spec));
                        return effects;
                    }
                }
                // A crash's message stays up until the next Start.
                if !matches!(self.phase, Phase::Failed(_)) {
                    self.phase = Phase::Idle;
                }
                effects
            }
            Event::Data(status) => {
                self.data = status;
                Vec::new()
            }
            Event::Run { run, event } => {
                if self.current.as_ref().map(|s| s.id) != Some(run) {
                    return Vec::new();
                }
                self.apply_run(event)
            }
            Event::Crashed { run, message } => {
                if run.is_some() && run != self.current.as_ref().map(|s| s.id) {
                    return Vec::new();
                }
                self.crashed(message)
            }
            Event::Unreadable { message } => {
                self.phase = Phase::Failed(message);
                Vec::new()
            }
        }
    }

    fn apply_run(&mut self, event: RunEvent) -> Vec<Effect> {
        match event {
            RunEvent::Backend { name, gpu, notice } => {
                self.backend = Some(BackendInfo { name, gpu, notice })
            }
            RunEvent::Started { facts, .. } => {
                self.facts = Some(facts);
                self.phase = Phase::Running;
            }
            RunEvent::Step {
                step,
                loss,
                images_per_s,
                elapsed_s,
                memory_bytes,
                ..
            } => {
                let per_epoch = self.facts.map_or(1, |f| f.steps_per_epoch.max(1));
                self.curves
                    .loss
                    .push((step as f64 / per_epoch as f64, f64::from(loss)));
                self.last = Some(StepInfo {
                    step,
                    loss,
                    images_per_s,
                    elapsed_s,
                    memory_bytes,
                });
            }
            RunEvent::Eval {
                epoch, test_error, ..
            } => self.curves.test_error.push((f64::from(epoch), test_error)),
            RunEvent::Paused => self.phase = Phase::Paused,
            RunEvent::Resumed => self.phase = Phase::Running,
            RunEvent::Finished { record } => {
                self.result = Some(*record);
                self.phase = Phase::Finished;
            }
            RunEvent::Cancelled => self.phase = Phase::Cancelled,
            RunEvent::Failed { message } => self.phase = Phase::Failed(message),
            RunEvent::Busy { running } => {
                self.phase = Phase::Failed(format!(
                    "the training worker is still busy with {running}; cancel it, then start again"
                ))
            }
            RunEvent::NoGpu { reason } => return self.no_gpu(reason),
        }
        Vec::new()
    }

    /// The WebGPU worker found no usable GPU before the run started: the run starts
    /// afresh on the CPU in a fresh worker, as every later one in this tab.
    fn no_gpu(&mut self, reason: String) -> Vec<Effect> {
        let Some(mut spec) = self.current.clone() else {
            return Vec::new();
        };
        self.gpu_failed = Some(reason);
        spec.id = RunId(spec.id.0 + 1);
        self.in_fresh_worker(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, NetSpec, MINI_REGNETX};
    use crate::run::record::{RunStatus, RECORD_SCHEMA};
    use crate::run::Recipe;

    fn spec(id: u64, backend: BackendChoice) -> RunSpec {
        RunSpec {
            id: RunId(id),
            label: format!("model {id}"),
            net: NetSpec::new(&MINI_REGNETX.params().shape().unwrap(), Dataset::Cifar10),
            recipe: Recipe::default(),
            backend,
            layers: Default::default(),
            sweep: None,
        }
    }

    fn facts() -> RunFacts {
        RunFacts {
            total_steps: 4,
            steps_per_epoch: 2,
            train_images: 20,
            test_images: 10,
            params: 100,
        }
    }

    fn run(id: u64, event: RunEvent) -> Event {
        Event::Run {
            run: RunId(id),
            event,
        }
    }

    fn step(n: usize) -> RunEvent {
        RunEvent::Step {
            step: n,
            loss: 2.0,
            lr: 0.1,
            images_per_s: 10.0,
            elapsed_s: n as f64,
            memory_bytes: 1,
        }
    }

    /// The fresh worker reports ready, and run `id` starts again on the CPU, as `id + 1`.
    fn reruns_on_the_cpu(s: &mut Session, id: u64) {
        let mut rerun = spec(id, BackendChoice::Cpu);
        rerun.id = RunId(id + 1);
        assert_eq!(
            s.apply(Event::Ready),
            [
                Effect::Post(Command::Probe),
                Effect::Post(Command::Start { spec: rerun })
            ]
        );
    }

    fn ready() -> Session {
        let mut s = Session::default();
        assert_eq!(s.apply(Event::Ready), [Effect::Post(Command::Probe)]);
        assert_eq!(s.phase, Phase::Idle);
        s
    }

    fn backend(gpu: bool) -> RunEvent {
        RunEvent::Backend {
            name: if gpu { "WebGPU" } else { "CPU" }.into(),
            gpu,
            notice: None,
        }
    }

    #[test]
    fn a_run_goes_from_start_to_finish() {
        let mut s = ready();
        assert!(s.can_start());
        let effects = s.start(spec(1, BackendChoice::Auto));
        assert_eq!(
            effects,
            [Effect::Post(Command::Start {
                spec: spec(1, BackendChoice::Auto)
            })]
        );
        assert_eq!(s.phase, Phase::Preparing);
        assert!(!s.can_start());
        assert!(
            s.start(spec(2, BackendChoice::Auto)).is_empty(),
            "one run at a time"
        );
        s.apply(run(1, backend(false)));
        s.apply(run(
            1,
            RunEvent::Started {
                facts: facts(),
                memory_bytes: 0,
            },
        ));
        assert_eq!(s.phase, Phase::Running);
        s.apply(run(1, step(1)));
        s.apply(run(1, step(2)));
        s.apply(run(
            1,
            RunEvent::Eval {
                step: 2,
                epoch: 1,
                test_error: 0.8,
            },
        ));
        assert_eq!(s.curves.loss, [(0.5, 2.0), (1.0, 2.0)]);
        assert_eq!(s.curves.test_error, [(1.0, 0.8)]);
        assert_eq!(s.last.unwrap().step, 2);
        assert_eq!(
            s.toggle_pause(),
            [Effect::Post(Command::Pause { run: RunId(1) })]
        );
        s.apply(run(1, RunEvent::Paused));
        assert_eq!(
            s.toggle_pause(),
            [Effect::Post(Command::Resume { run: RunId(1) })]
        );
        let record = RunRecord {
            schema: RECORD_SCHEMA,
            spec: spec(1, BackendChoice::Auto),
            status: RunStatus::Finished,
            backend: "CPU".into(),
            facts: facts(),
            curves: Default::default(),
            result: None,
            timings: Default::default(),
        };
        s.apply(run(
            1,
            RunEvent::Finished {
                record: Box::new(record),
            },
        ));
        assert_eq!(s.phase, Phase::Finished);
        assert!(s.result.is_some());
        assert!(s.cancel().is_empty(), "nothing to cancel");
        // The next run keeps this one's curves for comparison.
        s.start(spec(2, BackendChoice::Auto));
        assert_eq!(s.previous.as_ref().unwrap().label, "model 1");
        assert!(s.curves.loss.is_empty());
        assert_eq!(s.result, None);
    }

    #[test]
    fn news_of_another_run_is_dropped() {
        let mut s = ready();
        s.start(spec(5, BackendChoice::Cpu));
        s.apply(run(4, step(1)));
        s.apply(run(
            4,
            RunEvent::Failed {
                message: "old".into(),
            },
        ));
        assert_eq!(s.phase, Phase::Preparing);
        assert!(s.curves.loss.is_empty());
        assert!(s
            .apply(Event::Crashed {
                run: Some(RunId(4)),
                message: "old crash".into()
            })
            .is_empty());
        assert_eq!(s.phase, Phase::Preparing);
    }

    #[test]
    fn a_busy_worker_is_a_message_not_silence() {
        let mut s = ready();
        s.start(spec(5, BackendChoice::Cpu));
        s.apply(run(5, RunEvent::Busy { running: RunId(3) }));
        match &s.phase {
            Phase::Failed(m) => assert!(m.contains("busy with run 3"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(s.can_start(), "the user can try again");
    }

    #[test]
    fn webgpu_failing_mid_run_reruns_on_the_cpu_with_the_curves_kept() {
        let mut s = ready();
        s.start(spec(10, BackendChoice::Auto));
        s.apply(run(10, backend(true)));
        s.apply(run(
            10,
            RunEvent::Started {
                facts: facts(),
                memory_bytes: 0,
            },
        ));
        s.apply(run(10, step(1)));
        let effects = s.apply(Event::Crashed {
            run: Some(RunId(10)),
            message: "the GPU stopped answering".into(),
        });
        assert_eq!(effects, [Effect::Restart]);
        assert_eq!(s.gpu_failed.as_deref(), Some("the GPU stopped answering"));
        assert_eq!(s.phase, Phase::Preparing);
        assert_eq!(s.backend, None);
        // The fresh worker reports ready: the same run starts again on the CPU.
        reruns_on_the_cpu(&mut s, 10);
        let failed = s.previous.as_ref().unwrap();
        assert_eq!(failed.label, "model 10 (WebGPU, failed)");
        assert_eq!(failed.loss.len(), 1);
        assert_eq!(s.curves.label, "model 10");
        // Every later run in this tab asks for the CPU.
        s.apply(run(11, RunEvent::Cancelled));
        let effects = s.start(spec(20, BackendChoice::Auto));
        assert_eq!(
            effects,
            [Effect::Post(Command::Start {
                spec: spec(20, BackendChoice::Cpu)
            })]
        );
        assert!(s.next_id(0) > RunId(20));
    }

    #[test]
    fn no_gpu_in_the_webgpu_worker_starts_the_run_on_the_cpu_in_a_fresh_worker() {
        let mut s = ready();
        s.start(spec(1, BackendChoice::Cpu));
        s.apply(run(1, step(1)));
        s.apply(run(1, RunEvent::Cancelled));
        s.start(spec(10, BackendChoice::Auto));
        let effects = s.apply(run(
            10,
            RunEvent::NoGpu {
                reason: "no adapter".into(),
            },
        ));
        assert_eq!(effects, [Effect::Restart]);
        assert_eq!(s.gpu_failed.as_deref(), Some("no adapter"));
        assert_eq!(s.phase, Phase::Preparing);
        reruns_on_the_cpu(&mut s, 10);
        // Nothing ran on WebGPU, so the run before stays the one drawn for comparison.
        assert_eq!(s.previous.as_ref().unwrap().label, "model 1");
        assert!(s.next_id(0) > RunId(11));
    }

    #[test]
    fn a_crash_on_the_cpu_fails_the_run_and_keeps_its_curves() {
        let mut s = ready();
        s.start(spec(1, BackendChoice::Cpu));
        s.apply(run(1, backend(false)));
        s.apply(run(1, step(1)));
        assert_eq!(s.crashed("the worker failed".into()), [Effect::Restart]);
        match &s.phase {
            Phase::Failed(m) => assert!(m.starts_with("the worker failed. The curves"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.gpu_failed, None);
        assert_eq!(s.curves.loss.len(), 1);
        assert_eq!(s.data, DataStatus::Checking);
        // The fresh worker comes up: no rerun, and the message stays.
        assert_eq!(s.apply(Event::Ready), [Effect::Post(Command::Probe)]);
        assert!(matches!(s.phase, Phase::Failed(_)));
        assert!(s.can_start());
    }

    #[test]
    fn a_run_for_the_other_worker_starts_once_the_fresh_one_is_ready() {
        let mut s = ready();
        assert_eq!(
            s.start_in_fresh_worker(spec(3, BackendChoice::Cpu)),
            [Effect::Restart]
        );
        assert_eq!(s.phase, Phase::Preparing);
        assert!(!s.can_start(), "no second start while one waits");
        assert_eq!(s.start(spec(4, BackendChoice::Cpu)), []);
        assert_eq!(
            s.apply(Event::Ready),
            [
                Effect::Post(Command::Probe),
                Effect::Post(Command::Start {
                    spec: spec(3, BackendChoice::Cpu)
                })
            ]
        );
        assert_eq!(s.current().map(|r| r.id), Some(RunId(3)));
        // Cancelled while it waits: the fresh worker comes up idle.
        let mut s = ready();
        s.start_in_fresh_worker(spec(5, BackendChoice::Cpu));
        assert_eq!(s.cancel(), []);
        assert_eq!(s.phase, Phase::Cancelled);
        assert_eq!(s.apply(Event::Ready), [Effect::Post(Command::Probe)]);
        assert_eq!(s.phase, Phase::Idle);
    }
}
