//! Recording a step before the last one's loss is read (`Trainer::losses`, the
//! browser's worker) takes the same steps as reading each loss at once. In a test
//! binary of its own: it compares two runs from one seed, and Burn's flex backend
//! seeds one RNG for the whole process, which other tests running beside it would draw
//! from between a trainer's seeding and its model's initialisation.

use burn::prelude::*;
use regnet_playground::data::cifar::RECORD_BYTES;
use regnet_playground::data::{Cifar10, Split};
use regnet_playground::design::{Dataset, RegNetParams};
use regnet_playground::report::Report;
use regnet_playground::run::Recipe;
use regnet_playground::train::Trainer;

#[test]
fn running_a_step_ahead_takes_the_same_steps() {
    // 3 images a class, each byte from its index and class.
    let bytes: Vec<u8> = (0..30 * RECORD_BYTES)
        .map(|k| match k % RECORD_BYTES {
            0 => ((k / RECORD_BYTES) % 10) as u8,
            p => ((k / RECORD_BYTES) % 10 * 25 + p * 7 % 23) as u8,
        })
        .collect();
    let split = Split::parse("synthetic", &bytes).unwrap();
    let data = Cifar10 {
        train: split.clone(),
        test: split,
    };
    let params = RegNetParams {
        d: 1,
        w0: 8,
        wa: 8.0,
        wm: 2.0,
        g: 8,
        ..Default::default()
    };
    let net = Report::new(&params, Dataset::Cifar10).unwrap().net;
    let recipe = Recipe {
        epochs: 2,
        train_images: 24,
        test_images: 30,
        batch: 8,
        ..Recipe::default()
    };
    let new = || Trainer::new(&net, recipe, &data, &Device::flex()).unwrap();

    let mut one_by_one = new();
    let (mut at_once, mut ahead_allowed, mut correct) = (vec![], vec![], vec![]);
    while let Some(loss) = one_by_one.step() {
        at_once.push(loss.into_scalar::<f32>());
        ahead_allowed.push(one_by_one.can_run_ahead());
        if one_by_one.step_index() % 3 == 0 {
            correct.push(one_by_one.test_correct(10));
        }
    }
    assert_eq!(
        ahead_allowed,
        [true, true, false, true, true, false],
        "never past an epoch's last step"
    );

    let mut ahead = new();
    let first_epoch: Vec<f32> = ahead.losses().take(3).collect();
    assert_eq!(
        ahead.step_index(),
        3,
        "nothing recorded past the epoch's end"
    );
    assert_eq!(ahead.test_correct(10), correct[0], "the epoch's model");
    let rest: Vec<f32> = ahead.losses().collect();
    assert_eq!([first_epoch, rest].concat(), at_once);
    assert_eq!(ahead.test_correct(10), correct[1]);

    let mut probe = new();
    assert_eq!(probe.losses().next(), Some(at_once[0]));
    assert_eq!(probe.step_index(), 2, "the second step was recorded ahead");
}
