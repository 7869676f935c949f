//! What the trainer's test binaries share: a small synthetic CIFAR-10 in the real
//! binary format, and the smallest RegNet they train.

use regnet_playground::data::cifar::{IMAGE_BYTES, RECORD_BYTES};
use regnet_playground::data::{Cifar10, Split};
use regnet_playground::design::{Dataset, NetSpec, RegNetParams};
use regnet_playground::report::Report;

/// `per_class` images of each class, in CIFAR-10's binary records, each byte from its
/// image, class and channel: the same split for training and testing.
pub fn synthetic(per_class: usize) -> Cifar10 {
    let mut bytes = Vec::new();
    for i in 0..per_class * 10 {
        let label = (i % 10) as u8;
        bytes.push(label);
        bytes.extend((0..IMAGE_BYTES).map(|p| {
            let channel = p / 1024;
            (label as usize * 25 + channel * 40 + (p * 31 + i) % 17) as u8
        }));
    }
    assert_eq!(bytes.len(), per_class * 10 * RECORD_BYTES);
    let split = Split::parse("synthetic", &bytes).unwrap();
    Cifar10 {
        train: split.clone(),
        test: split,
    }
}

/// A one-block RegNet for CIFAR-10 (d = 1, w0 = 8, g = 8), quick to train anywhere.
pub fn one_block_net() -> NetSpec {
    let params = RegNetParams {
        d: 1,
        w0: 8,
        wa: 8.0,
        wm: 2.0,
        g: 8,
        ..Default::default()
    };
    Report::new(&params, Dataset::Cifar10).unwrap().net
}
