//! The Burn model and trainer on real Burn backends: flex (CPU) and wgpu (on a
//! machine without a GPU, Mesa's lavapipe Vulkan adapter).

use burn::prelude::*;
mod common;

use common::{one_block_net, synthetic};
use regnet_playground::design::{Dataset, NetSpec, RegNetParams, PRESETS, REGNETY_125MF_CIFAR};
use regnet_playground::report::Report;
use regnet_playground::run::Recipe;
use regnet_playground::train::{RegNet, Trainer, TrainerError};

fn spec(params: &RegNetParams, dataset: Dataset) -> (NetSpec, u64) {
    let r = Report::new(params, dataset).unwrap();
    (r.net, r.complexity.params)
}

#[test]
fn param_counts_match_the_analytic_count() {
    let device = Device::flex();
    // Every preset up to 4.0GF (X and Y) at CIFAR-10 resolution, plus pycls's CIFAR best.
    let small = PRESETS.iter().filter(|p| {
        !["6.4gf", "8.0gf", "12gf", "16gf", "32gf"]
            .iter()
            .any(|s| p.name.ends_with(s))
    });
    let mut checked = 0;
    for p in small {
        let (net, analytic) = spec(&p.params(), Dataset::Cifar10);
        assert_eq!(
            RegNet::new(&net, true, &device).trainable_params() as u64,
            analytic,
            "{}",
            p.name
        );
        checked += 1;
    }
    assert_eq!(checked, 14);
    let (net, analytic) = spec(&REGNETY_125MF_CIFAR.params(), Dataset::Cifar10);
    assert_eq!(analytic, 1_811_688);
    assert_eq!(
        RegNet::new(&net, true, &device).trainable_params(),
        1_811_688
    );
    // Random valid configurations, bottlenecks and groups included.
    for (d, w0, wa, wm, g, b, se) in [
        (3, 16, 4.5, 1.7, 4, 2.0, true),
        (7, 8, 11.0, 2.9, 1, 1.0, false),
        (5, 24, 30.0, 2.2, 16, 4.0, true),
        (9, 32, 0.0, 2.0, 8, 1.0, false),
    ] {
        let params = RegNetParams {
            d,
            w0,
            wa,
            wm,
            g,
            b,
            q: 8,
            se,
        };
        for dataset in Dataset::ALL {
            let (net, analytic) = spec(&params, dataset);
            assert_eq!(
                RegNet::new(&net, false, &device).trainable_params() as u64,
                analytic,
                "{params:?} {dataset}"
            );
        }
    }
}

#[test]
fn forward_gives_one_logit_per_class() {
    let device = Device::flex();
    let (net, _) = spec(
        &RegNetParams {
            d: 3,
            w0: 8,
            wa: 8.0,
            wm: 2.0,
            ..Default::default()
        },
        Dataset::Cifar10,
    );
    let logits = RegNet::new(&net, true, &device).forward(Tensor::zeros([2, 3, 32, 32], &device));
    assert_eq!(logits.dims(), [2, 10]);
}

/// 10 images per class, each a flat class colour plus a little texture: learnable.
fn loss_falls(device: Device) {
    let data = synthetic(2);
    let (net, _) = spec(
        &RegNetParams {
            d: 2,
            w0: 16,
            wa: 16.0,
            wm: 2.0,
            ..Default::default()
        },
        Dataset::Cifar10,
    );
    let recipe = Recipe {
        epochs: 12,
        train_images: 20,
        test_images: 20,
        batch: 20,
        lr: 0.1,
        warmup_epochs: 0.0,
        weight_decay: 0.0,
        ..Recipe::default()
    };
    let mut trainer = Trainer::new(&net, recipe, &data, &device).unwrap();
    let losses: Vec<f32> = trainer.losses().collect();
    assert_eq!(losses.len(), 12);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let first = (losses[0] + losses[1]) / 2.0;
    let last = (losses[10] + losses[11]) / 2.0;
    assert!(last < 0.7 * first, "loss did not fall: {losses:?}");
    let error = trainer.test_error(8);
    assert!((0.0..=1.0).contains(&error));
}

#[test]
fn sgd_lowers_the_loss_on_flex() {
    loss_falls(Device::flex());
}

/// Built with `--features gpu` only (Burn's native wgpu backend; `cargo test --features
/// gpu` runs it on Mesa's lavapipe here). CI leaves it out of the default build; the
/// browser tests train on WebGPU instead.
#[cfg(feature = "gpu")]
#[test]
fn sgd_lowers_the_loss_on_wgpu() {
    loss_falls(Device::wgpu(Default::default()));
}

#[test]
fn runs_that_cannot_start_are_errors() {
    let data = synthetic(1);
    let (net, _) = spec(&RegNetParams::default(), Dataset::Cifar10);
    let device = Device::flex();
    let err = |r: Recipe| Trainer::new(&net, r, &data, &device).err().unwrap();
    assert_eq!(
        err(Recipe {
            batch: 1,
            ..Recipe::default()
        }),
        TrainerError::Batch(1)
    );
    assert_eq!(
        err(Recipe {
            batch: 64,
            ..Recipe::default()
        }),
        TrainerError::TooFewImages {
            images: 10,
            batch: 64
        }
    );
}

/// A recipe that asks for more images than the data has (a small archive, a picked
/// file) trains on what there is: the steps per epoch count the images present, and
/// the run ends instead of slicing past them (it panicked before).
#[test]
fn a_recipe_larger_than_the_data_counts_the_data() {
    let data = synthetic(3);
    let net = one_block_net();
    let recipe = Recipe {
        epochs: 2,
        train_images: 100,
        test_images: 100,
        batch: 8,
        ..Recipe::default()
    };
    let mut trainer = Trainer::new(&net, recipe, &data, &Device::flex()).unwrap();
    assert_eq!(trainer.recipe.train_images, 30);
    assert_eq!(trainer.recipe.test_images, 30);
    assert_eq!(trainer.recipe.steps_per_epoch(), 3);
    let steps = trainer.losses().count();
    assert_eq!(steps, 6);
}
