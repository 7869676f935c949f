//! The flags every subcommand shares: the model (a preset and/or the six RegNet
//! parameters), the dataset and the training backend.

use burn::prelude::Device;
use clap::{Args, ValueEnum};
use regnet_playground::design::{Dataset, Preset, RegNetParams};
use regnet_playground::report::Report;
use regnet_playground::run::{BackendChoice, Recipe};

use crate::error::CliError;

#[derive(Args)]
pub struct ModelArgs {
    /// A named model: regnetx-200mf .. regnety-32gf, regnety-125mf-cifar or mini-regnetx
    /// (other flags override it).
    #[arg(long)]
    pub preset: Option<String>,
    /// Depth: number of blocks.
    #[arg(long, required_unless_present = "preset")]
    pub d: Option<u32>,
    /// Initial width (a multiple of q).
    #[arg(long, required_unless_present = "preset")]
    pub w0: Option<u32>,
    /// Slope of the continuous widths.
    #[arg(long, required_unless_present = "preset")]
    pub wa: Option<f64>,
    /// Width multiplier (> 1).
    #[arg(long, required_unless_present = "preset")]
    pub wm: Option<f64>,
    /// Group width [default: 8, or the preset's].
    #[arg(long)]
    pub g: Option<u32>,
    /// Bottleneck ratio (paper's b; 1 = no bottleneck).
    #[arg(long)]
    pub b: Option<f64>,
    /// Width quantum.
    #[arg(long)]
    pub q: Option<u32>,
    /// Squeeze-excitation (RegNetY).
    #[arg(long)]
    pub se: bool,
    /// [default: imagenet for shape, cifar10 for train and bench]
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,
}

/// The training recipe's flags (`train` and `sweep`), each defaulting to `Recipe`'s.
#[derive(Args)]
pub struct RecipeArgs {
    #[arg(long, default_value_t = Recipe::default().epochs)]
    pub epochs: u32,
    #[arg(long, default_value_t = Recipe::default().batch)]
    pub batch: usize,
    #[arg(long, default_value_t = Recipe::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = Recipe::default().weight_decay)]
    pub wd: f64,
    /// Warm-up length in epochs.
    #[arg(long, default_value_t = Recipe::default().warmup_epochs)]
    pub warmup: f64,
    #[arg(long, default_value_t = Recipe::default().label_smoothing)]
    pub label_smoothing: f64,
    #[arg(long, default_value_t = Recipe::default().train_images)]
    pub train_images: usize,
    #[arg(long, default_value_t = Recipe::default().test_images)]
    pub test_images: usize,
    /// Start the last BN scale of every residual branch at zero (true or false).
    #[arg(long, default_value_t = Recipe::default().zero_final_gamma, action = clap::ArgAction::Set)]
    pub zero_gamma: bool,
    /// Nesterov momentum (true or false).
    #[arg(long, default_value_t = Recipe::default().nesterov, action = clap::ArgAction::Set)]
    pub nesterov: bool,
    /// Seeds the data subsets, the initial weights, the batch order and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl RecipeArgs {
    pub fn recipe(&self) -> Recipe {
        Recipe {
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            weight_decay: self.wd,
            warmup_epochs: self.warmup,
            label_smoothing: self.label_smoothing,
            train_images: self.train_images,
            test_images: self.test_images,
            seed: self.seed,
            zero_final_gamma: self.zero_gamma,
            nesterov: self.nesterov,
            ..Recipe::default()
        }
    }
}

/// The datasets a network can be placed in.
#[derive(Clone, Copy, ValueEnum)]
pub enum DatasetArg {
    Imagenet,
    Cifar10,
}

impl From<DatasetArg> for Dataset {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::Imagenet => Dataset::Imagenet,
            DatasetArg::Cifar10 => Dataset::Cifar10,
        }
    }
}

/// Where training runs.
#[derive(Clone, Copy, ValueEnum)]
pub enum Backend {
    /// Burn's flex backend with our own CPU kernels.
    Cpu,
    /// Burn's wgpu backend: any Vulkan/Metal/DX12 adapter, Mesa's lavapipe included
    /// (in a build with `--features gpu`).
    Wgpu,
}

impl Backend {
    /// The name the JSON output reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
        }
    }

    /// What a run record says was asked for.
    pub fn choice(self) -> BackendChoice {
        match self {
            Backend::Cpu => BackendChoice::Cpu,
            Backend::Wgpu => BackendChoice::Wgpu,
        }
    }

    /// The device, or why this build has none for the backend.
    pub fn device(self) -> Result<Device, CliError> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "gpu")]
            Backend::Wgpu => Ok(Device::wgpu(Default::default())),
            #[cfg(not(feature = "gpu"))]
            Backend::Wgpu => Err(CliError::NoGpuBackend),
        }
    }
}

impl ModelArgs {
    /// The preset's parameters (RegNetX-200MF without one), overridden by the flags given.
    pub fn params(&self) -> Result<RegNetParams, CliError> {
        let base = match &self.preset {
            Some(name) => Preset::find(name)?.params(),
            None => RegNetParams::default(),
        };
        Ok(RegNetParams {
            d: self.d.unwrap_or(base.d),
            w0: self.w0.unwrap_or(base.w0),
            wa: self.wa.unwrap_or(base.wa),
            wm: self.wm.unwrap_or(base.wm),
            g: self.g.unwrap_or(base.g),
            b: self.b.unwrap_or(base.b),
            q: self.q.unwrap_or(base.q),
            se: self.se || base.se,
        })
    }

    /// What a person calls the model: the preset's name unless a flag changed it.
    pub fn label(&self, params: &RegNetParams) -> String {
        let changed = self.d.is_some()
            || self.w0.is_some()
            || self.wa.is_some()
            || self.wm.is_some()
            || self.g.is_some()
            || self.b.is_some()
            || self.q.is_some()
            || self.se;
        match &self.preset {
            Some(name) if !changed => name.clone(),
            _ => params.label(),
        }
    }

    /// The model analysed in its dataset (`default` without `--dataset`).
    pub fn report(&self, default: Dataset) -> Result<Report, CliError> {
        let dataset = self.dataset.map_or(default, Dataset::from);
        Ok(Report::new(&self.params()?, dataset)?)
    }

    /// The model at CIFAR-10, the only dataset we train on.
    pub fn cifar_report(&self) -> Result<Report, CliError> {
        let report = self.report(Dataset::Cifar10)?;
        if report.dataset != Dataset::Cifar10 {
            return Err(CliError::NotCifar);
        }
        Ok(report)
    }
}
