//! A run's bookkeeping, step by step, the same for the CLI and the worker: the clock
//! (pauses excluded), the divergence check, epoch boundaries, throughput, the
//! per-epoch curves and the final record. The caller owns the trainer and the clock;
//! it reports each step's loss and each evaluation here and posts or prints what
//! comes back.

use thiserror::Error;

use super::protocol::RunEvent;
use super::recipe::Recipe;
use super::record::{
    EpochPoint, RunCurves, RunFacts, RunRecord, RunResult, RunStatus, Timings, RECORD_SCHEMA,
};
use super::spec::RunSpec;

/// The loss stopped being a number: the run cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("the loss became {loss} at step {step}: the learning rate {lr} is too high for this model, try a smaller one")]
pub struct Diverged {
    pub loss: f32,
    /// 1-based.
    pub step: usize,
    /// The recipe's base learning rate.
    pub lr: f64,
}

/// What one step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// `RunEvent::Step`, for the page or a progress bar.
    pub event: RunEvent,
    /// The epoch (1-based) this step completed, if it completed one: time to evaluate.
    pub epoch_end: Option<u32>,
}

/// Where a run is. `now_s` arguments are any monotonic clock in seconds.
#[derive(Debug, Clone)]
pub struct Progress {
    spec: RunSpec,
    facts: RunFacts,
    started_s: f64,
    paused_s: f64,
    paused_since: Option<f64>,
    step: usize,
    epoch_losses: Vec<f32>,
    curves: RunCurves,
    train_s: Option<f64>,
}

impl Progress {
    /// Starts the clock. `spec.recipe` should be the trainer's (its data counts are
    /// the subsets it really has); `facts` are the trainer's.
    pub fn new(spec: RunSpec, facts: RunFacts, now_s: f64) -> Self {
        Progress {
            spec,
            facts,
            started_s: now_s,
            paused_s: 0.0,
            paused_since: None,
            step: 0,
            epoch_losses: Vec::with_capacity(facts.steps_per_epoch),
            curves: RunCurves::default(),
            train_s: None,
        }
    }

    pub fn recipe(&self) -> &Recipe {
        &self.spec.recipe
    }

    /// Epochs completed so far.
    pub fn epochs(&self) -> u32 {
        (self.step / self.facts.steps_per_epoch.max(1)) as u32
    }

    /// `RunEvent::Started`, with the caller's memory figure.
    pub fn started(&self, memory_bytes: u64) -> RunEvent {
        RunEvent::Started {
            facts: self.facts,
            memory_bytes,
        }
    }

    /// Running time so far (pauses excluded).
    pub fn elapsed_s(&self, now_s: f64) -> f64 {
        let pausing = self.paused_since.map_or(0.0, |since| now_s - since);
        (now_s - self.started_s - self.paused_s - pausing).max(0.0)
    }

    /// Stops the clock (a second call is a no-op).
    pub fn pause(&mut self, now_s: f64) {
        self.paused_since.get_or_insert(now_s);
    }

    /// Restarts the clock.
    pub fn resume(&mut self, now_s: f64) {
        if let Some(since) = self.paused_since.take() {
            self.paused_s += now_s - since;
        }
    }

    /// Records the next step's loss, read back at `now_s`.
    pub fn step(
        &mut self,
        loss: f32,
        now_s: f64,
        memory_bytes: u64,
    ) -> Result<StepReport, Diverged> {
        let recipe = self.spec.recipe;
        let lr = recipe.lr_at(self.step);
        self.step += 1;
        if !loss.is_finite() {
            return Err(Diverged {
                loss,
                step: self.step,
                lr: recipe.lr,
            });
        }
        self.epoch_losses.push(loss);
        let elapsed_s = self.elapsed_s(now_s);
        let per_epoch = self.facts.steps_per_epoch.max(1);
        let epoch_end = self.step.is_multiple_of(per_epoch).then(|| {
            let epoch = (self.step / per_epoch) as u32;
            let mean = self.epoch_losses.iter().map(|&l| f64::from(l)).sum::<f64>()
                / self.epoch_losses.len() as f64;
            self.epoch_losses.clear();
            self.curves
                .train_loss
                .push(EpochPoint { epoch, value: mean });
            epoch
        });
        if self.step >= self.facts.total_steps {
            self.train_s = Some(elapsed_s);
        }
        Ok(StepReport {
            event: RunEvent::Step {
                step: self.step,
                loss,
                lr,
                images_per_s: (self.step * recipe.batch) as f64 / elapsed_s.max(1e-9),
                elapsed_s,
                memory_bytes,
            },
            epoch_end,
        })
    }

    /// Records an evaluation after `epoch`: `correct` of the test subset's images.
    pub fn evaluated(&mut self, epoch: u32, correct: usize) -> RunEvent {
        let test_error = 1.0 - correct as f64 / self.facts.test_images.max(1) as f64;
        self.curves.test_error.push(EpochPoint {
            epoch,
            value: test_error,
        });
        RunEvent::Eval {
            step: self.step,
            epoch,
            test_error,
        }
    }

    /// The record of the run, ended at `now_s` with `status`. A finished run's result
    /// is its last evaluation and the last epoch's mean loss; it has none if it was
    /// never evaluated.
    pub fn record(&self, status: RunStatus, backend: &str, now_s: f64) -> RunRecord {
        let total_s = self.elapsed_s(now_s);
        let train_s = self.train_s.unwrap_or(total_s);
        let result = match (&status, self.curves.test_error.last()) {
            (RunStatus::Finished, Some(error)) => Some(RunResult {
                test_error: error.value,
                train_loss: self.curves.train_loss.last().map_or(f64::NAN, |p| p.value),
                images_per_s: (self.step * self.spec.recipe.batch) as f64 / train_s.max(1e-9),
            }),
            _ => None,
        };
        RunRecord {
            schema: RECORD_SCHEMA,
            spec: self.spec.clone(),
            status,
            backend: backend.to_string(),
            facts: self.facts,
            curves: self.curves.clone(),
            result,
            timings: Timings { train_s, total_s },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, NetSpec, MINI_REGNETX};
    use crate::run::{BackendChoice, RunId};

    fn progress() -> Progress {
        let recipe = Recipe {
            epochs: 2,
            train_images: 40,
            test_images: 20,
            batch: 10,
            ..Recipe::default()
        };
        let spec = RunSpec {
            id: RunId(7),
            label: "mini".into(),
            net: NetSpec::new(&MINI_REGNETX.params().shape().unwrap(), Dataset::Cifar10),
            recipe,
            backend: BackendChoice::Cpu,
            layers: Default::default(),
            sweep: None,
        };
        let facts = RunFacts {
            total_steps: recipe.total_steps(),
            steps_per_epoch: recipe.steps_per_epoch(),
            train_images: 40,
            test_images: 20,
            params: 1000,
        };
        Progress::new(spec, facts, 100.0)
    }

    #[test]
    fn epochs_end_every_steps_per_epoch_with_the_mean_loss() {
        let mut p = progress();
        let ends: Vec<_> = (0..8)
            .map(|i| p.step(i as f32, 101.0 + i as f64, 0).unwrap().epoch_end)
            .collect();
        assert_eq!(ends, [None, None, None, Some(1), None, None, None, Some(2)]);
        let means: Vec<_> = p.curves.train_loss.iter().map(|e| e.value).collect();
        assert_eq!(means, [1.5, 5.5]);
        assert_eq!(p.epochs(), 2);
    }

    #[test]
    fn pauses_do_not_count_and_throughput_follows_running_time() {
        let mut p = progress();
        p.step(2.0, 102.0, 0).unwrap();
        p.pause(102.0);
        p.pause(150.0);
        assert_eq!(p.elapsed_s(160.0), 2.0, "the clock stops while paused");
        p.resume(200.0);
        let report = p.step(2.0, 202.0, 5).unwrap();
        match report.event {
            RunEvent::Step {
                step,
                images_per_s,
                elapsed_s,
                memory_bytes,
                ..
            } => {
                assert_eq!((step, elapsed_s, memory_bytes), (2, 4.0, 5));
                assert_eq!(images_per_s, 5.0, "2 steps of 10 images in 4 s");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_non_finite_loss_stops_the_run_at_its_step() {
        let mut p = progress();
        p.step(2.0, 101.0, 0).unwrap();
        let err = p.step(f32::NAN, 102.0, 0).unwrap_err();
        assert_eq!(err.step, 2);
        assert_eq!(err.lr, p.recipe().lr);
        assert!(err.to_string().contains("at step 2"), "{err}");
        assert!(p.step(f32::INFINITY, 103.0, 0).is_err());
    }

    #[test]
    fn a_finished_run_records_its_result_and_round_trips() {
        let mut p = progress();
        for i in 0..8 {
            let report = p.step(1.0, 101.0 + i as f64, 0).unwrap();
            if let Some(epoch) = report.epoch_end {
                p.evaluated(epoch, 15 - epoch as usize);
            }
        }
        let record = p.record(RunStatus::Finished, "cpu", 110.0);
        let result = record.result.unwrap();
        assert_eq!(result.test_error, 1.0 - 13.0 / 20.0);
        assert_eq!(result.train_loss, 1.0);
        assert_eq!(record.timings.train_s, 8.0);
        assert_eq!(record.timings.total_s, 10.0);
        assert_eq!(result.images_per_s, 80.0 / 8.0);
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(RunRecord::from_json(&json).unwrap(), record);
    }

    #[test]
    fn unfinished_runs_have_no_result_and_newer_records_are_refused() {
        let mut p = progress();
        p.step(1.0, 101.0, 0).unwrap();
        let record = p.record(RunStatus::Cancelled, "cpu", 102.0);
        assert_eq!(record.result, None);
        let mut json: serde_json::Value = serde_json::to_value(&record).unwrap();
        json["schema"] = (RECORD_SCHEMA + 1).into();
        let err = RunRecord::from_json(&json.to_string()).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
        assert!(RunRecord::from_json("{\"schema\": 1}").is_err());
    }
}
