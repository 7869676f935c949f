//! One training step at a time, driven by the caller. Nothing here reads a tensor
//! back, except `Losses` natively: steps return the loss as a tensor, so the browser
//! can read it asynchronously (sync reads panic on WebGPU), and a caller can record
//! the next step before reading a loss (`Trainer::can_run_ahead`).

use burn::module::{ModuleVisitor, Param, ParamGroup, ParamId};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::ModuleOptimizer;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use super::model::RegNet;
use crate::data::{Batch, Cifar10, Normalize, Split};
use crate::design::NetSpec;
use crate::run::record::RunFacts;
use crate::run::Recipe;

/// Why a run cannot start.
#[derive(Debug, Error, PartialEq)]
pub enum TrainerError {
    #[error("batch size must be at least 2 (batch norm needs two images), got {0}")]
    Batch(usize),
    #[error("the training subset ({images} images) is smaller than one batch of {batch}")]
    TooFewImages { images: usize, batch: usize },
    #[error("the run needs at least one epoch and one test image")]
    Empty,
}

/// Collects the ids of rank-1 parameters (BN scales and shifts, biases): they get
/// no weight decay.
#[derive(Default)]
struct NoDecay(Vec<ParamId>);

impl ModuleVisitor for NoDecay {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D == 1 {
            self.0.push(param.id);
        }
    }
}

/// A model, its optimiser, its data and where the run is.
pub struct Trainer {
    pub model: RegNet,
    pub recipe: Recipe,
    optim: ModuleOptimizer,
    loss: CrossEntropyLoss,
    norm: Normalize,
    train: Split,
    test: Split,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    step: usize,
    device: Device,
}

fn sgd(recipe: &Recipe, weight_decay: f64) -> SgdConfig {
    let momentum = MomentumConfig {
        momentum: recipe.momentum,
        dampening: 0.0,
        nesterov: recipe.nesterov,
    };
    let decay = (weight_decay > 0.0).then_some(WeightDecayConfig {
        penalty: weight_decay as f32,
    });
    SgdConfig::new()
        .with_momentum(Some(momentum))
        .with_weight_decay(decay)
}

impl Trainer {
    /// Prepares a run of `spec` on `device` (gradients are enabled on it here). Where
    /// the data holds fewer images than the recipe asks for, the run's recipe counts
    /// what it has, so its steps and epochs stay within the data.
    pub fn new(
        spec: &NetSpec,
        mut recipe: Recipe,
        data: &Cifar10,
        device: &Device,
    ) -> Result<Self, TrainerError> {
        if recipe.batch < 2 {
            return Err(TrainerError::Batch(recipe.batch));
        }
        if recipe.epochs == 0 || recipe.test_images == 0 {
            return Err(TrainerError::Empty);
        }
        let train = data.train.balanced_subset(recipe.train_images, recipe.seed);
        let test = data
            .test
            .balanced_subset(recipe.test_images, recipe.seed.wrapping_add(1));
        if train.len() < recipe.batch {
            return Err(TrainerError::TooFewImages {
                images: train.len(),
                batch: recipe.batch,
            });
        }
        recipe.train_images = train.len();
        recipe.test_images = test.len();
        let device = device.clone().autodiff();
        device.seed(recipe.seed);
        let model = RegNet::new(spec, recipe.zero_final_gamma, &device);
        let mut no_decay = NoDecay::default();
        model.visit(&mut no_decay);
        let optim = sgd(&recipe, recipe.weight_decay).init().with_group(
            ParamGroup::from_ids(no_decay.0),
            sgd(&recipe, 0.0).build(),
            None,
        );
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing((recipe.label_smoothing > 0.0).then_some(recipe.label_smoothing as f32))
            .init(&device);
        let order = (0..train.len()).collect();
        let rng = ChaCha8Rng::seed_from_u64(recipe.seed.wrapping_add(2));
        Ok(Trainer {
            model,
            recipe,
            optim,
            loss,
            norm: Normalize::default(),
            train,
            test,
            order,
            rng,
            step: 0,
            device,
        })
    }

    /// Steps taken so far.
    pub fn step_index(&self) -> usize {
        self.step
    }

    pub fn done(&self) -> bool {
        self.step >= self.recipe.total_steps()
    }

    pub fn train_images(&self) -> usize {
        self.train.len()
    }

    pub fn test_images(&self) -> usize {
        self.test.len()
    }

    /// What the run's progress needs to know: the steps, the data it really has,
    /// the model's size.
    pub fn facts(&self) -> RunFacts {
        RunFacts {
            total_steps: self.recipe.total_steps(),
            steps_per_epoch: self.recipe.steps_per_epoch(),
            train_images: self.train.len(),
            test_images: self.test.len(),
            params: self.model.trainable_params(),
        }
    }

    fn tensors(&self, batch: Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let n = batch.n;
        let images = Tensor::<4>::from_data(TensorData::new(batch.images, [n, 3, 32, 32]), device);
        let labels: Vec<i64> = batch.labels.iter().map(|l| i64::from(*l)).collect();
        (
            images,
            Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device),
        )
    }

    /// One SGD step on the next augmented batch; returns its (detached) mean loss, or
    /// `None` when the run is over.
    pub fn step(&mut self) -> Option<Tensor<1>> {
        if self.done() {
            return None;
        }
        let per_epoch = self.recipe.steps_per_epoch();
        let k = self.step % per_epoch;
        if k == 0 {
            self.order.shuffle(&mut self.rng);
        }
        let b = self.recipe.batch;
        let indices = &self.order[k * b..(k + 1) * b];
        let batch = self.norm.batch(&self.train, indices, Some(&mut self.rng));
        let (images, labels) = self.tensors(batch, &self.device);
        let loss = self.loss.forward(self.model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.recipe.lr_at(self.step);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        Some(loss.detach())
    }

    /// Whether the next step may be recorded before the last recorded step's loss is
    /// read: not after an epoch's last step, whose test pass must see the model that
    /// step left, nor after the run's last. Reading a loss waits for the device; a
    /// caller that records the next step first (`Losses`, the browser's worker) lets a
    /// GPU run one step while the host records the next, where reading each loss at
    /// once leaves the GPU idle while the host records (BENCHMARKS.md). The steps, and
    /// so the losses, are the same either way.
    pub fn can_run_ahead(&self) -> bool {
        !self.done() && !self.step.is_multiple_of(self.recipe.steps_per_epoch())
    }

    /// Number of correct top-1 predictions on test images `start..start + len`
    /// (BN in inference mode, no gradients).
    pub fn correct(&self, start: usize, len: usize) -> Tensor<1, Int> {
        let end = (start + len).min(self.test.len());
        let indices: Vec<usize> = (start..end).collect();
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let batch = self
            .norm
            .batch(&self.test, &indices, None::<&mut ChaCha8Rng>);
        let (images, labels) = self.tensors(batch, &device);
        let predicted = model.forward(images).argmax(1).reshape([indices.len()]);
        predicted.equal(labels).int().sum()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Trainer {
    /// Native: the losses of the steps left, in order, each read back once the step
    /// after it is recorded where it may be (`can_run_ahead`). A step recorded ahead
    /// is taken even if the iterator is dropped before its loss is read.
    pub fn losses(&mut self) -> Losses<'_> {
        Losses {
            trainer: self,
            ahead: None,
        }
    }

    /// Native convenience: correct top-1 predictions on the whole test subset, in
    /// batches of `batch`.
    pub fn test_correct(&self, batch: usize) -> usize {
        (0..self.test.len())
            .step_by(batch.max(1))
            .map(|s| self.correct(s, batch).into_scalar::<i64>() as usize)
            .sum()
    }

    /// Native convenience: top-1 test error in [0, 1], in batches of `batch`.
    pub fn test_error(&self, batch: usize) -> f64 {
        1.0 - self.test_correct(batch) as f64 / self.test.len() as f64
    }
}

/// `Trainer::losses`.
#[cfg(not(target_arch = "wasm32"))]
pub struct Losses<'a> {
    trainer: &'a mut Trainer,
    /// The step recorded ahead, its loss not read yet.
    ahead: Option<Tensor<1>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Iterator for Losses<'_> {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let loss = self.ahead.take().or_else(|| self.trainer.step())?;
        if self.trainer.can_run_ahead() {
            self.ahead = self.trainer.step();
        }
        Some(loss.into_scalar::<f32>())
    }
}
