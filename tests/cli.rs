//! Runs the real `regnet` binary.

use std::process::{Command, Output};

use regnet_playground::run::{BackendChoice, RunRecord, RunStatus};

fn regnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regnet"))
        .args(args)
        .output()
        .expect("regnet runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = regnet(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn shape_json_has_the_documented_keys() {
    let v = json(&[
        "shape", "--d", "13", "--w0", "24", "--wa", "36.44", "--wm", "2.49", "--json",
    ]);
    for key in [
        "depths",
        "widths",
        "group_widths",
        "num_stages",
        "total_stages",
        "block_widths",
        "block_widths_continuous",
        "flops",
        "params",
        "acts",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["depths"], serde_json::json!([1, 1, 4, 7]));
    assert_eq!(v["widths"], serde_json::json!([24, 56, 152, 368]));
    assert_eq!(v["params"], 2_684_792);
    assert_eq!(v["block_widths"].as_array().unwrap().len(), 13);
}

#[test]
fn presets_and_datasets() {
    let y = json(&["shape", "--preset", "regnety-200mf", "--json"]);
    assert_eq!(y["params"], 3_162_996);
    let best = json(&[
        "shape",
        "--d",
        "12",
        "--w0",
        "96",
        "--wa",
        "19.5",
        "--wm",
        "2.942",
        "--se",
        "--dataset",
        "cifar10",
        "--json",
    ]);
    assert_eq!(best["params"], 1_811_688);
    assert_eq!(best["depths"], serde_json::json!([4, 8]));
    for p in regnet_playground::design::PRESETS {
        let out = regnet(&["shape", "--preset", p.name]);
        assert!(out.status.success(), "{}", p.name);
        assert!(String::from_utf8_lossy(&out.stdout).contains("stage  blocks"));
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        &[
            "shape", "--d", "13", "--w0", "20", "--wa", "36", "--wm", "2.49",
        ][..],
        &[
            "shape", "--d", "13", "--w0", "24", "--wa", "-1", "--wm", "2.49",
        ],
        &[
            "shape", "--d", "13", "--w0", "24", "--wa", "36", "--wm", "1",
        ],
        &[
            "shape", "--d", "abc", "--w0", "24", "--wa", "36", "--wm", "2",
        ],
        &["shape", "--d", "13"],
        &["shape", "--preset", "resnet50"],
        &["shape", "--preset", "regnetx-200mf", "--dataset", "mnist"],
        &["shape", "--preset", "regnetx-200mf", "--b", "0"],
    ] {
        let out = regnet(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn train_runs_on_extracted_batches_and_reports_json() {
    let dir = std::env::temp_dir().join(format!("regnet-cli-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = |i: usize| -> Vec<u8> {
        let mut r = vec![(i % 10) as u8];
        r.extend((0..3072).map(|p| ((i * 13 + p) % 251) as u8));
        r
    };
    let batch: Vec<u8> = (0..20).flat_map(record).collect();
    for name in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        std::fs::write(dir.join(format!("{name}.bin")), &batch).unwrap();
    }
    let data = dir.to_str().unwrap();
    let record_path = dir.join("run.json");
    let common = [
        "--d", "2", "--w0", "8", "--wa", "8", "--wm", "2", "--epochs", "1", "--batch", "8",
    ];
    let mut args = vec![
        "train",
        "--data",
        data,
        "--train-images",
        "16",
        "--test-images",
        "10",
        "--json",
        "--seed",
        "9",
        "--record",
        record_path.to_str().unwrap(),
    ];
    args.extend(common);
    let v = json(&args);
    for key in [
        "test_error",
        "train_loss",
        "images_per_s",
        "params",
        "flops",
        "seconds",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!(v["train_loss"].as_f64().unwrap().is_finite());
    assert_eq!(v["test_images"], 10);

    // The record file holds the same run in the run model's schema.
    let text = std::fs::read_to_string(&record_path).unwrap();
    let record = RunRecord::from_json(&text).unwrap();
    assert_eq!(record.status, RunStatus::Finished);
    assert_eq!(record.spec.seed(), 9);
    assert_eq!(record.spec.label, "d=2 w0=8 wa=8 wm=2 g=8");
    assert_eq!(record.spec.backend, BackendChoice::Cpu);
    assert_eq!(
        (record.facts.train_images, record.facts.test_images),
        (16, 10)
    );
    let result = record.result.unwrap();
    assert_eq!(result.test_error, v["test_error"].as_f64().unwrap());
    assert_eq!(record.curves.train_loss.len(), 1);
    assert_eq!(record.curves.test_error[0].epoch, 1);

    let mut bad = vec!["train", "--data", "/nonexistent/cifar.tar.gz"];
    bad.extend(common);
    let out = regnet(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cifar.tar.gz"));
    std::fs::remove_dir_all(&dir).unwrap();
}
