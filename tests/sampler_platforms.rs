//! The same sample on every platform: tests/golden/samples.json holds sampling requests
//! and the models this native build draws for them; tests/e2e/sampler.test.mjs asks the
//! page's wasm build (`sample_models`) the same requests and expects the same models,
//! so the CLI and the page agree (f64 logs and powers included, whose last bits could
//! differ between the native and the wasm maths libraries).
//!
//! After a deliberate change to the sampler, rewrite the golden file with
//! `REGNET_BLESS=1 cargo test --test sampler_platforms`.

use regnet_playground::design::Dataset;
use regnet_playground::space::{
    AnyNetRanges, Bound, Range, Ranges, RegNetRanges, SampleRequest, Sampler, Space,
};
use serde_json::{json, Value};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/samples.json");

/// Every space twice: in the reference sweep's CIFAR regime (small ranges, a 3-6 MF
/// band) and with the paper's ranges in an ImageNet 360-400 MF band.
fn requests() -> Vec<SampleRequest> {
    let mut out = vec![];
    for space in Space::ALL {
        let mut cifar = Sampler::new(space, Dataset::Cifar10);
        cifar.band.flops = Bound {
            low: 3e6,
            high: 6e6,
        };
        match &mut cifar.ranges {
            Ranges::AnyNet(r) => {
                *r = AnyNetRanges {
                    depth: Range { low: 1, high: 4 },
                    width: Range { low: 8, high: 128 },
                    ..AnyNetRanges::default()
                }
            }
            Ranges::RegNet(r) => {
                *r = RegNetRanges {
                    depth: Range { low: 4, high: 16 },
                    group_width: Range { low: 1, high: 32 },
                    ..RegNetRanges::default()
                }
            }
        }
        out.push(SampleRequest {
            sampler: cifar,
            n: 6,
            seed: 7,
            tries: 1_000_000,
        });
        let mut imagenet = Sampler::new(space, Dataset::Imagenet);
        imagenet.band.flops = Bound {
            low: 360e6,
            high: 400e6,
        };
        out.push(SampleRequest {
            sampler: imagenet,
            n: 4,
            seed: 1,
            tries: 1_000_000,
        });
    }
    out
}

fn drawn(request: &SampleRequest) -> Value {
    let sample = request.run().expect("the band holds enough models");
    serde_json::to_value(&sample.models).unwrap()
}

#[test]
fn native_samples_match_the_golden_file_the_page_is_held_to() {
    if std::env::var_os("REGNET_BLESS").is_some() {
        let cases: Vec<Value> = requests()
            .iter()
            .map(|r| json!({ "request": r, "models": drawn(r) }))
            .collect();
        // One case per line: diffs stay readable, the file small.
        let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
        let text = format!("{{\"cases\": [\n{}\n]}}\n", lines.join(",\n"));
        std::fs::write(GOLDEN, text).unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let requests = requests();
    assert_eq!(
        cases.len(),
        requests.len(),
        "bless the golden file after changing the cases"
    );
    for (case, request) in cases.iter().zip(&requests) {
        let theirs: SampleRequest = serde_json::from_value(case["request"].clone()).unwrap();
        assert_eq!(
            &theirs, request,
            "bless the golden file after changing the cases"
        );
        assert_eq!(drawn(request), case["models"], "{}", request.sampler.space);
        assert_eq!(case["models"].as_array().unwrap().len(), request.n);
    }
}
