//! A sampled sweep as pycls configs, for users who train on a cluster with pycls's own
//! tools (`sweep_launch.py`, then `sweep_collect.py`, whose `sweep.json` `regnet
//! analyze` and the page read back).
//!
//! The layout is what pycls's `sweep_setup.py` writes: `cfgs/000000.yaml ...` (one
//! AnyNet config per model, in sample order), `cfgs_summary.yaml` and `sweep_cfg.yaml`.
//! Every model is written in the standardised AnyNet form pycls's set-up writes after
//! `scale_model`, so pycls builds exactly the network we sampled and measured.
//!
//! What pycls cannot express, and so differs from our own run of the same recipe (the
//! sweep config's `DESC` repeats it): it trains on the whole CIFAR-10 sets, not class-
//! balanced subsets; it sets the learning rate once per epoch, with a whole number of
//! warm-up epochs; it tests an EMA of the weights beside the weights, and uses precise
//! BN statistics. Pure: the caller writes the files.

use crate::design::Dataset;
use crate::run::recipe::WARMUP_FACTOR;
use crate::run::Recipe;
use crate::space::{Model, Sampler};

/// One file of the exported sweep: its path under the sweep's directory and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFile {
    pub path: String,
    pub text: String,
}

/// The files of the sweep `name` (pycls's `NAME`) under `root` (its `ROOT_DIR`):
/// `models` trained with `recipe`, sampled by `sampler`.
pub fn pycls_sweep(
    name: &str,
    root: &str,
    sampler: &Sampler,
    models: &[Model],
    recipe: &Recipe,
) -> Vec<ExportFile> {
    let mut files: Vec<ExportFile> = models
        .iter()
        .enumerate()
        .map(|(i, model)| ExportFile {
            path: format!("cfgs/{}", cfg_name(i)),
            text: pycls_cfg(model, recipe, sampler.dataset),
        })
        .collect();
    let summary: String = models
        .iter()
        .enumerate()
        .map(|(i, model)| format!("{}: {}\n", cfg_name(i), desc(model)))
        .collect();
    files.push(ExportFile {
        path: "cfgs_summary.yaml".into(),
        text: summary,
    });
    files.push(ExportFile {
        path: "sweep_cfg.yaml".into(),
        text: sweep_cfg(name, root, sampler, models.len(), recipe),
    });
    files
}

/// pycls's name for the i-th config.
fn cfg_name(i: usize) -> String {
    format!("{i:06}.yaml")
}

/// One model's pycls config: the recipe (`base`) and the network, with `DESC` naming
/// the model's values as pycls's set-up does ("KEY value" pairs), which its
/// collection keeps and our import reads back.
pub fn pycls_cfg(model: &Model, recipe: &Recipe, dataset: Dataset) -> String {
    let list = |xs: Vec<String>| format!("[{}]", xs.join(", "));
    let ints = |xs: &[u32]| list(xs.iter().map(u32::to_string).collect());
    let bot_muls = list(
        model
            .bottleneck_ratios
            .iter()
            .map(|b| py_float(1.0 / b))
            .collect(),
    );
    let stem = dataset.stem();
    let stem_type = match dataset {
        Dataset::Cifar10 => "res_stem_cifar",
        Dataset::Imagenet => "simple_stem_in",
    };
    format!(
        "DESC: '{desc}'\n\
         MODEL:\n  TYPE: anynet\n  NUM_CLASSES: {classes}\n\
         ANYNET:\n  STEM_TYPE: {stem_type}\n  STEM_W: {stem_w}\n  BLOCK_TYPE: res_bottleneck_block\n\
         \x20 DEPTHS: {depths}\n  WIDTHS: {widths}\n  STRIDES: {strides}\n  BOT_MULS: {bot_muls}\n\
         \x20 GROUP_WS: {groups}\n  SE_ON: {se}\n  SE_R: 0.25\n{base}",
        desc = desc(model),
        classes = dataset.num_classes(),
        stem_w = stem.w_out,
        depths = ints(&model.depths),
        widths = ints(&model.widths),
        strides = ints(&vec![2; model.depths.len()]),
        groups = ints(&model.group_widths),
        se = py_bool(model.se),
        base = base_cfg(recipe, dataset, ""),
    )
}

/// pycls's `DESC` of a sampled config: the sampled keys and values, space-separated.
/// For a RegNet the group width is the model's (after pycls's re-rounding), so the
/// description matches the network the config builds.
fn desc(model: &Model) -> String {
    let list = |xs: Vec<String>| format!("[{}]", xs.join(", "));
    let ints = |xs: &[u32]| list(xs.iter().map(u32::to_string).collect());
    match (model.d, model.w0, model.wa, model.wm) {
        (Some(d), Some(w0), Some(wa), Some(wm)) => format!(
            "REGNET.DEPTH {d} REGNET.W0 {w0} REGNET.WA {} REGNET.WM {} REGNET.GROUP_W {} REGNET.BOT_MUL {}",
            py_float(wa),
            py_float(wm),
            model.group_widths.first().copied().unwrap_or(1),
            py_float(1.0 / model.bottleneck_ratios.first().copied().unwrap_or(1.0)),
        ),
        _ => format!(
            "ANYNET.DEPTHS {} ANYNET.WIDTHS {} ANYNET.BOT_MULS {} ANYNET.GROUP_WS {}",
            ints(&model.depths),
            ints(&model.widths),
            list(
                model
                    .bottleneck_ratios
                    .iter()
                    .map(|b| py_float(1.0 / b))
                    .collect()
            ),
            ints(&model.group_widths),
        ),
    }
}

/// The recipe in pycls's keys, each line indented by `indent`.
fn base_cfg(recipe: &Recipe, dataset: Dataset, indent: &str) -> String {
    let size = dataset.resolution();
    let lines = [
        "OPTIM:".to_string(),
        format!("  BASE_LR: {}", py_float(recipe.lr)),
        "  LR_POLICY: cos".into(),
        format!("  MAX_EPOCH: {}", recipe.epochs),
        format!("  MOMENTUM: {}", py_float(recipe.momentum)),
        format!("  NESTEROV: {}", py_bool(recipe.nesterov)),
        format!("  WEIGHT_DECAY: {}", py_float(recipe.weight_decay)),
        format!("  WARMUP_FACTOR: {}", py_float(WARMUP_FACTOR)),
        // pycls counts warm-up in whole epochs.
        format!("  WARMUP_EPOCHS: {}", recipe.warmup_epochs.round() as u32),
        "BN:".into(),
        "  USE_CUSTOM_WEIGHT_DECAY: True".into(),
        "  CUSTOM_WEIGHT_DECAY: 0.0".into(),
        format!(
            "  ZERO_INIT_FINAL_GAMMA: {}",
            py_bool(recipe.zero_final_gamma)
        ),
        "TRAIN:".into(),
        format!("  DATASET: {}", dataset.key()),
        "  SPLIT: train".into(),
        format!("  BATCH_SIZE: {}", recipe.batch),
        format!("  IM_SIZE: {size}"),
        format!("  LABEL_SMOOTHING: {}", py_float(recipe.label_smoothing)),
        "TEST:".into(),
        format!("  DATASET: {}", dataset.key()),
        format!(
            "  SPLIT: {}",
            if dataset == Dataset::Cifar10 {
                "test"
            } else {
                "val"
            }
        ),
        "  BATCH_SIZE: 1000".into(),
        format!("  IM_SIZE: {size}"),
        format!("RNG_SEED: {}", recipe.seed),
        "NUM_GPUS: 1".into(),
    ];
    lines.iter().map(|l| format!("{indent}{l}\n")).collect()
}

/// The sweep's own config, for `sweep_launch.py --sweep-cfg`: where the sweep lives,
/// what it is (the space, band and recipe, and how pycls's training differs from
/// ours), and the base config every job shares.
fn sweep_cfg(name: &str, root: &str, sampler: &Sampler, n: usize, recipe: &Recipe) -> String {
    let band = &sampler.band;
    let bound = |b: &crate::space::Bound| format!("[{}, {}]", b.low, b.high);
    let desc = format!(
        "{n} models of {} exported by regnet sweep --emit-pycls (flops {}, params {}, acts {}). \
         Unlike regnet sweep, pycls trains on the whole CIFAR-10 sets (regnet sweep: {} and {} \
         class-balanced images), sets the learning rate per epoch with whole warm-up epochs, and \
         tests an EMA of the weights too.",
        sampler.space.label(),
        bound(&band.flops),
        bound(&band.params),
        bound(&band.acts),
        recipe.train_images,
        recipe.test_images,
    );
    format!(
        "ROOT_DIR: '{root}'\nNAME: '{name}'\nDESC: '{}'\nSETUP:\n  NUM_CONFIGS: {n}\n  BASE_CFG:\n    MODEL:\n      TYPE: anynet\n      NUM_CLASSES: {}\n{}",
        desc.replace('\'', "''"),
        sampler.dataset.num_classes(),
        base_cfg(recipe, sampler.dataset, "    "),
    )
}

/// A float as Python prints it (`repr`): always with a decimal point or exponent, so
/// yacs reads it back as a float.
fn py_float(x: f64) -> String {
    let s = format!("{x:?}");
    // Rust writes 1e-5 where Python writes 1e-05.
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.0005), "0.0005");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(2.5e20), "2.5e+20");
    }
}
