//! How much memory a training run needs, estimated before anything is allocated,
//! so the page can refuse a run that would crash the tab and suggest a batch that
//! fits. Pure arithmetic over the network spec (no Burn), so the page can call it on
//! every slider move.

use crate::design::NetSpec;

/// Bytes per f32.
const F32: u64 = 4;

/// Float copies kept per activation value while training: the saved outputs the
/// backward pass reads, plus the gradients in flight. Fitted to the peaks
/// `scripts/bench-memory` measures (BENCHMARKS.md, "Training memory"); the test below
/// holds each estimate within 25% of its measurement.
const ACT_COPIES: f64 = 2.4;

/// Float copies per parameter: the weight, its gradient, the momentum buffer and one
/// optimiser temporary.
const PARAM_COPIES: u64 = 4;

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

    /// Bytes the run needs besides its tensors. Natively, the process itself (its code,
    /// the allocator, the thread pool). In the worker, nothing: the worker's runtime
    /// and its dataset are already loaded when a run starts and are outside the budget.
    /// A page cannot measure GPU memory; the GPU takes the worker's figures.
    fn base_bytes(self) -> u64 {
        match self {
            Target::Native => 20 << 20,
            Target::Cpu | Target::Gpu => 0,
        }
    }
}

/// Estimated bytes to train `spec` (at its dataset's resolution) with `batch` images
/// per step on `target`.
pub fn training_bytes(spec: &NetSpec, batch: usize, target: Target) -> u64 {
    let cx = spec.complexity();
    let acts = (cx.acts as f64 * batch as f64 * ACT_COPIES) as u64;
    target.base_bytes() + F32 * (acts + PARAM_COPIES * cx.params)
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
    let needed = training_bytes(spec, batch, target);
    let budget = target.budget();
    if needed <= budget {
        return Ok(needed);
    }
    // Memory grows linearly with the batch: the largest fitting batch, by bisection.
    let fitting_batch = (training_bytes(spec, 2, target) <= budget).then(|| {
        let (mut lo, mut hi) = (2, batch);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if training_bytes(spec, mid, target) <= budget {
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

    /// Peaks measured by `scripts/bench-memory` (session 9): the peak resident set of
    /// `regnet bench` natively, the growth of the worker's wasm memory over a run in
    /// the browser's CPU fallback; MiB at batch 32 and 128.
    const MEASURED: [(&str, Target, [f64; 2]); 6] = [
        ("mini", Target::Native, [54.0, 167.0]),
        ("y125", Target::Native, [321.0, 1153.0]),
        ("x16", Target::Native, [173.0, 514.0]),
        ("mini", Target::Cpu, [39.6, 152.4]),
        ("y125", Target::Cpu, [291.3, 1112.6]),
        ("x16", Target::Cpu, [140.3, 468.8]),
    ];

    #[test]
    fn estimates_are_within_a_quarter_of_the_measured_peaks() {
        let x16 = RegNetParams {
            d: 16,
            w0: 48,
            wa: 24.0,
            wm: 2.5,
            g: 16,
            ..Default::default()
        };
        for (name, target, peaks) in MEASURED {
            let params = match name {
                "mini" => MINI_REGNETX.params(),
                "y125" => REGNETY_125MF_CIFAR.params(),
                _ => x16,
            };
            for (batch, peak) in [32, 128].into_iter().zip(peaks) {
                let estimate = training_bytes(&spec(params), batch, target) as f64 / 1048576.0;
                let ratio = estimate / peak;
                assert!(
                    (0.75..=1.25).contains(&ratio),
                    "{name} on {target:?} at batch {batch}: estimate {estimate:.0} MiB, measured {peak} MiB"
                );
            }
        }
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
        assert!(training_bytes(&wide, b, Target::Gpu) <= Target::Gpu.budget());
        assert!(training_bytes(&wide, b + 1, Target::Gpu) > Target::Gpu.budget());
        assert!(err.to_string().contains(&format!("batch of {b}")));
        assert!(check(&wide, b, Target::Gpu).is_ok());
        assert!(check(&wide, 1024, Target::Native).is_ok());
    }
}
