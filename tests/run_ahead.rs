//! Recording a step before the last one's loss is read (`Trainer::losses`, the
//! browser's worker) takes the same steps as reading each loss at once. In a test
//! binary of its own: it compares two runs from one seed, and Burn's flex backend
//! seeds one RNG for the whole process, which other tests running beside it would draw
//! from between a trainer's seeding and its model's initialisation.

mod common;

use burn::prelude::*;
use common::{one_block_net, synthetic};
use regnet_playground::run::Recipe;
use regnet_playground::train::Trainer;

#[test]
fn running_a_step_ahead_takes_the_same_steps() {
    let data = synthetic(3);
    let net = one_block_net();
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
