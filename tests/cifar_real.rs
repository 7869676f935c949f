//! Real CIFAR-10: the mini RegNetX trained natively for one epoch on 10,000
//! images must reach a test error below 65% on 2,000 test images (chance is 90%).
//! The archive's path comes from REGNET_CIFAR, else ../shared/data next to the
//! project; a missing file fails the test, it never skips.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use regnet_playground::data::Cifar10;
use regnet_playground::design::{Dataset, MINI_REGNETX};
use regnet_playground::report::Report;
use regnet_playground::run::Recipe;
use regnet_playground::train::Trainer;

/// `$REGNET_CIFAR`, else `../shared/data/` beside the checkout. The checkout is read
/// when the test runs (cargo sets `CARGO_MANIFEST_DIR` then too): a test binary reused
/// from a shared target directory may have been compiled in another clone.
fn archive() -> PathBuf {
    let path = std::env::var_os("REGNET_CIFAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let checkout = std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
            PathBuf::from(checkout).join("../shared/data/cifar-10-binary.tar.gz")
        });
    assert!(
        path.exists(),
        "CIFAR-10 not found at {} (set REGNET_CIFAR)",
        path.display()
    );
    path
}

#[test]
fn reads_the_real_archive() {
    let data = Cifar10::open(&archive()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (50_000, 10_000));
    let mut counts = [0; 10];
    data.test
        .labels
        .iter()
        .for_each(|l| counts[*l as usize] += 1);
    assert_eq!(counts, [1000; 10]);
}

#[test]
fn mini_regnetx_learns_cifar10_in_one_epoch() {
    let data = Cifar10::open(&archive()).unwrap();
    let params = MINI_REGNETX.params();
    let report = Report::new(&params, Dataset::Cifar10).unwrap();
    assert_eq!(report.complexity.params, 111_818);
    let recipe = Recipe {
        epochs: 1,
        train_images: 10_000,
        test_images: 2_000,
        batch: 32,
        lr: 0.1,
        warmup_epochs: 0.2,
        zero_final_gamma: false,
        ..Recipe::default()
    };
    let mut trainer = Trainer::new(&report.net, recipe, &data, &Device::flex()).unwrap();
    let start = Instant::now();
    let mut steps = 0;
    for loss in trainer.losses() {
        assert!(loss.is_finite(), "loss {loss} at step {steps}");
        steps += 1;
    }
    let error = trainer.test_error(500);
    eprintln!(
        "mini RegNetX, 1 epoch of 10k images: {steps} steps in {:.1} s, test error {:.1}%",
        start.elapsed().as_secs_f64(),
        100.0 * error
    );
    assert!(error < 0.65, "test error {error}");
}
