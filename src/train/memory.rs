//! How much memory a training run needs, estimated before anything is allocated,
//! so the page can refuse a run that would crash the tab and suggest a batch that
//! fits. Pure arithmetic over the network spec (no Burn), so the page can call it on
//! every slider move.

use crate::design::NetSpec;

/// Bytes per f32.
const F32: u64 = 4;

/// Float copies kept per activation while training: the conv output, the BN output
/// and the ReLU output are saved for the backward pass, plus the gradient in flight.
/// Calibrated on Burn's flex backend (maximum resident memory, batch 32 and 128):
/// 3.0x for the mini RegNetX, 3.3x for the RegNetY-125MF; rounded up.
const ACT_COPIES: f64 = 3.5;

/// Float copies per parameter: the weight, its gradient, the momentum buffer and one
/// optimiser temporary.
const PARAM_COPIES: u64 = 4;

/// Fixed overhead: the runtime, kernels, the batch being built.
const BASE_BYTES: u64 = 64 << 20;

/// Where the run would train: sets how much memory it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// WebGPU: browsers do not report GPU memory; 2 GiB fits integrated laptop GPUs.
    Gpu,
    /// wasm32 CPU fallback: 4 GiB of linear memory at most, minus the dataset
    /// (184 MB parsed) and allocator slack.
    Cpu,
    /// The native command line: limited by the machine, not checked here.
    Native,
}

impl Target {
    /// Bytes a run may use on this target.
    pub fn budget(self) -> u64 {
        match self {
            Target::Gpu => 2 << 30,
            Target::Cpu => 5 << 29,
            Target::Native => u64::MAX,
        }
    }
}

/// Estimated bytes to train `spec` (at its dataset's resolution) with `batch` images
/// per step.
pub fn training_bytes(spec: &NetSpec, batch: usize) -> u64 {
    let cx = spec.complexity();
    let acts = (cx.acts as f64 * batch as f64 * ACT_COPIES) as u64;
    BASE_BYTES + F32 * (acts + PARAM_COPIES * cx.params)
}

/// Why a run does not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct TooBig {
    pub needed: u64,
    pub budget: u64,
    /// The largest batch (at least 2) that fits, if any does.
    pub fitting_batch: Option<usize>,
}

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training this model at this batch size needs about {}, more than the {} \
             this page can safely use here",
            gigabytes(self.needed),
            gigabytes(self.budget)
        )?;
        match self.fitting_batch {
            Some(b) => write!(f, ": try a batch of {b} or less"),
            None => write!(
                f,
                " even at batch 2: pick a smaller model (fewer blocks or narrower widths)"
            ),
        }
    }
}

fn gigabytes(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// `Ok(estimated bytes)` when the run fits `target`, else what would fit.
pub fn check(spec: &NetSpec, batch: usize, target: Target) -> Result<u64, TooBig> {
    let needed = training_bytes(spec, batch);
    let budget = target.budget();
    if needed <= budget {
        return Ok(needed);
    }
    // Memory grows linearly with the batch: the largest fitting batch, by bisection.
    let fitting_batch = (training_bytes(spec, 2) <= budget).then(|| {
        let (mut lo, mut hi) = (2, batch);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if training_bytes(spec, mid) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    });
    Err(TooBig {
        needed,
        budget,
        fitting_batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{Dataset, RegNetParams, MINI_REGNETX, REGNETY_125MF_CIFAR};

    fn spec(params: RegNetParams) -> NetSpec {
        NetSpec::new(&params.shape().unwrap(), Dataset::Cifar10)
    }

    #[test]
    fn estimate_brackets_the_measured_footprint() {
        // Measured with `regnet bench` on flex at batch 128 (max resident set):
        // 248 MB for the mini RegNetX, 1,580 MB for the RegNetY-125MF.
        let mini = spec(MINI_REGNETX.params());
        let mini_bytes = training_bytes(&mini, 128);
        assert!(
            (248e6..400e6).contains(&(mini_bytes as f64)),
            "{mini_bytes}"
        );
        let y = spec(REGNETY_125MF_CIFAR.params());
        let y_bytes = training_bytes(&y, 128);
        assert!((1580e6..2000e6).contains(&(y_bytes as f64)), "{y_bytes}");
    }

    #[test]
    fn too_big_runs_get_the_largest_fitting_batch() {
        let wide = spec(RegNetParams {
            d: 24,
            w0: 256,
            wa: 64.0,
            wm: 2.0,
            g: 16,
            ..Default::default()
        });
        let err = check(&wide, 1024, Target::Gpu).unwrap_err();
        let b = err.fitting_batch.expect("a small batch fits");
        assert!((2..1024).contains(&b));
        assert!(training_bytes(&wide, b) <= Target::Gpu.budget());
        assert!(training_bytes(&wide, b + 1) > Target::Gpu.budget());
        assert!(err.to_string().contains(&format!("batch of {b}")));
        assert!(check(&wide, b, Target::Gpu).is_ok());
        assert!(check(&wide, 1024, Target::Native).is_ok());
    }
}
