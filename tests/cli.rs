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
fn fit_finds_a_published_regnets_rule_from_its_block_widths() {
    // RegNetX-200MF's widths as `regnet shape` prints them, fitted back.
    let shape = json(&["shape", "--preset", "regnetx-200mf", "--json"]);
    let widths: Vec<String> = shape["block_widths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.to_string())
        .collect();
    let v = json(&["fit", "--widths", &widths.join(","), "--json"]);
    for key in ["d", "w0", "wa", "wm", "e_fit", "block_widths"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["e_fit"], 0.0);
    assert_eq!(v["block_widths"], shape["block_widths"]);
    assert_eq!((v["d"].as_u64(), v["w0"].as_u64()), (Some(13), Some(24)));
    let out = regnet(&["fit", "--widths", "32x2,64x2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("d=4 w0=32 "), "{text}");
    assert!(text.contains("exact"), "{text}");
}

#[test]
fn shape_gives_every_published_regnet_its_published_complexity() {
    // The published-models page shows these same numbers (`design::published`).
    let models = regnet_playground::design::published::published().unwrap();
    let regnets: Vec<_> = models.iter().filter(|m| m.preset().is_some()).collect();
    assert_eq!(regnets.len(), 24);
    for m in regnets {
        let v = json(&["shape", "--preset", &m.model, "--json"]);
        let got = ["flops", "params", "acts"].map(|k| v[k].as_u64().unwrap());
        assert_eq!(got, [m.flops, m.params, m.acts], "{}", m.model);
    }
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
        &["fit", "--widths", "32,0,64"],
        &["fit"],
        &["fit", "--widths", "32,x"],
        &["fit", "--widths", "32,64", "--q", "0"],
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

#[test]
fn sample_draws_the_same_models_for_the_same_seed_within_the_band() {
    let args = [
        "sample",
        "--space",
        "regnety",
        "--n",
        "8",
        "--depth",
        "6:16",
        "--group-width",
        "1:32",
        "--stages",
        "2:2",
        "--flops",
        "120M:130M",
        "--params",
        "0:2M",
        "--seed",
        "4",
        "--json",
    ];
    let a = json(&args);
    assert_eq!(a, json(&args), "the same seed gives the same models");
    let models = a.as_array().expect("one JSON array");
    assert_eq!(models.len(), 8);
    for m in models {
        for key in [
            "space",
            "depths",
            "widths",
            "bottleneck_ratios",
            "group_widths",
            "d",
            "w0",
            "wa",
            "wm",
            "flops",
            "params",
            "acts",
        ] {
            assert!(m.get(key).is_some(), "missing {key}: {m}");
        }
        assert_eq!(m["space"], "regnety");
        let flops = m["flops"].as_u64().unwrap();
        assert!((120_000_000..=130_000_000).contains(&flops), "{m}");
        assert!(m["params"].as_u64().unwrap() <= 2_000_000);
        assert_eq!(m["depths"].as_array().unwrap().len(), 2);
    }
    let anynet = json(&["sample", "--space", "anynetx-e", "--n", "3", "--json"]);
    for m in anynet.as_array().unwrap() {
        assert!(m["d"].is_null() && m["w0"].is_null(), "{m}");
        let widths: Vec<u64> = m["widths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap())
            .collect();
        assert_eq!(widths.len(), 4);
    }
}

#[test]
fn sample_refuses_bad_flags_with_one_line() {
    for (args, says) in [
        (
            vec!["sample", "--space", "anynetx-z"],
            "unknown design space 'anynetx-z'",
        ),
        (
            vec!["sample", "--space", "regnetx", "--width", "8:64"],
            "--width applies to the AnyNetX spaces only",
        ),
        (
            vec!["sample", "--space", "anynetx-a", "--wm", "2:3"],
            "--wm applies to regnetx and regnety only",
        ),
        (
            vec!["sample", "--space", "regnetx", "--flops", "5:1"],
            "low end above its high end",
        ),
        (
            vec!["sample", "--space", "regnetx", "--group-width", "8:100"],
            "powers of two",
        ),
        (
            vec![
                "sample",
                "--space",
                "anynetx-a",
                "--n",
                "4",
                "--flops",
                "1:2",
                "--tries",
                "500",
            ],
            "found only 0 of 4 models in 500 tries",
        ),
    ] {
        let out = regnet(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The real CIFAR-10 archive: `$REGNET_CIFAR`, else `../shared/data/` beside the checkout
/// this test runs in. Missing data is a failure, never a skip.
fn cifar_archive() -> String {
    let path = std::env::var("REGNET_CIFAR").unwrap_or_else(|_| {
        let checkout =
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
        format!("{checkout}/../shared/data/cifar-10-binary.tar.gz")
    });
    assert!(
        std::path::Path::new(&path).exists(),
        "CIFAR-10 not found at {path} (set REGNET_CIFAR)"
    );
    path
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_sweep_writes_resumes_after_a_kill_and_analyzes() {
    let dir = std::env::temp_dir().join(format!("regnet-cli-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = cifar_archive();
    let recipe = [
        "--data",
        &archive,
        "--epochs",
        "1",
        "--train-images",
        "100",
        "--test-images",
        "50",
        "--batch",
        "50",
    ];
    let anynet_out = dir.join("anynetx-a.jsonl");
    let mut anynet: Vec<&str> = vec![
        "sweep",
        "--space",
        "anynetx-a",
        "--n",
        "3",
        "--stages",
        "2",
        "--depth",
        "1:1",
        "--width",
        "8:16",
        "--bottleneck-ratios",
        "1",
        "--group-widths",
        "8",
        "--out",
        anynet_out.to_str().unwrap(),
    ];
    anynet.extend(recipe);

    // Killed once its first run is on disk; then a torn line, as a kill mid-write leaves.
    let mut child = Command::new(env!("CARGO_BIN_EXE_regnet"))
        .args(&anynet)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while lines(&anynet_out).is_empty() {
        assert!(
            started.elapsed().as_secs() < 300,
            "no run finished in 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = lines(&anynet_out);
    assert!((1..=3).contains(&before.len()));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&anynet_out)
        .unwrap();
    std::io::Write::write_all(&mut file, br#"{"schema":1,"spec":{"id":"#).unwrap();
    drop(file);

    let out = regnet(&anynet);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    let after = lines(&anynet_out);
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(
        after[..before.len()],
        before[..],
        "finished runs are kept, not retrained"
    );
    assert!(
        summary.contains(&format!("3 of 3 runs done ({} now", 3 - before.len())),
        "{summary}"
    );
    let mut indices: Vec<usize> = after
        .iter()
        .map(|l| RunRecord::from_json(l).unwrap().spec.sweep.unwrap().index)
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, [0, 1, 2]);

    // The same file with another sample is refused, not mixed.
    let mut other = anynet.clone();
    other.extend(["--sample-seed", "5"]);
    let out = regnet(&other);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds runs of another sweep"));

    let regnet_out = dir.join("regnetx.jsonl");
    let mut regnetx: Vec<&str> = vec![
        "sweep",
        "--space",
        "regnetx",
        "--n",
        "3",
        "--depth",
        "1:3",
        "--w0",
        "8:16",
        "--wa",
        "8:16",
        "--wm",
        "2:3",
        "--group-width",
        "8:8",
        "--stages",
        "1:2",
        "--out",
        regnet_out.to_str().unwrap(),
    ];
    regnetx.extend(recipe);
    let out = regnet(&regnetx);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&regnet_out).len(), 3);
    // The seed-noise reference: its first 2 models again with another seed.
    let noise_out = dir.join("regnetx-seed1.jsonl");
    let mut noise = regnetx.clone();
    let at = noise.iter().position(|a| *a == "--out").unwrap();
    noise[at + 1] = noise_out.to_str().unwrap();
    noise.extend(["--first", "2", "--seed", "1"]);
    let out = regnet(&noise);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&noise_out).len(), 2);

    let plots = dir.join("plots");
    let v = json(&[
        "analyze",
        anynet_out.to_str().unwrap(),
        regnet_out.to_str().unwrap(),
        "--noise",
        noise_out.to_str().unwrap(),
        "--json",
        "--svg",
        plots.to_str().unwrap(),
        "--html",
        dir.join("report.html").to_str().unwrap(),
    ]);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(
        report.matches("<svg").count(),
        std::fs::read_dir(&plots).unwrap().count()
    );
    let edf = std::fs::read_to_string(plots.join("edf.svg")).unwrap();
    assert!(
        edf.contains("anynetx-a   3|") && edf.contains("regnetx   3|"),
        "{edf}"
    );
    assert!(plots.join("regnetx-wm.svg").exists() && plots.join("anynetx-a-w2.svg").exists());
    let search = std::fs::read_to_string(plots.join("search.svg")).unwrap();
    assert_eq!(search.matches("fill-opacity=\"0.12\"").count(), 2);
    // The regnetx sweep holds the noise file's 2 models: seeds 0 and 1.
    assert_eq!(
        (v["noise"]["models"].as_u64(), v["noise"]["seeds"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(v["noise"]["sd"].as_f64().unwrap() >= 0.0);
    let good = v["sweeps"][1]["good"].as_array().unwrap();
    let names: Vec<&str> = good.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["d", "w0", "wa", "wm", "g"]);
    let sweeps = v["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 2);
    assert_eq!(sweeps[0]["name"], "anynetx-a");
    assert_eq!(sweeps[1]["name"], "regnetx");
    for s in sweeps {
        assert_eq!(s["n"], 3);
        for key in ["min", "mean", "median"] {
            let e = s[key].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&e), "{key} {e}");
        }
    }
    let ks = v["ks"].as_array().unwrap();
    assert_eq!(ks.len(), 1);
    assert_eq!(
        (ks[0]["a"].as_str(), ks[0]["b"].as_str()),
        (Some("anynetx-a"), Some("regnetx"))
    );
    assert!((0.0..=1.0).contains(&ks[0]["d"].as_f64().unwrap()));
    // 3 against 3 models: no distance can beat the 5% sampling bound, 1.358 * sqrt(2/3).
    assert!((ks[0]["critical"].as_f64().unwrap() - 1.108_87).abs() < 1e-4);
    assert_eq!(ks[0]["beyond_noise"], false);
    std::fs::remove_dir_all(&dir).ok();
}

/// `sweep --emit-pycls` writes, byte for byte, the files that
/// tests/golden/pycls_emit.json records pycls's own loaders reading (yacs rejects an
/// unknown key or a wrong type), and pycls computes from each model config the
/// complexity `regnet sample` gives the same model.
#[test]
fn emitted_pycls_sweeps_are_what_pycls_loads() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/pycls_emit.json")).unwrap();
    let root = std::env::temp_dir().join(format!("regnet-cli-emit-{}", std::process::id()));
    for (i, sweep) in golden["sweeps"].as_array().unwrap().iter().enumerate() {
        let args: Vec<&str> = sweep["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let dir = root.join(format!("sweep{i}"));
        let mut emit = vec!["sweep"];
        emit.extend(&args);
        emit.extend(["--emit-pycls", dir.to_str().unwrap()]);
        let out = regnet(&emit);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let files = sweep["files"].as_object().unwrap();
        for (path, text) in files {
            let ours = std::fs::read_to_string(dir.join(path)).unwrap();
            // Where the sweep lives differs from where the golden was made.
            let root_line = |t: &str| {
                t.lines()
                    .filter(|l| !l.starts_with("ROOT_DIR:") && !l.starts_with("NAME:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(
                root_line(&ours),
                root_line(text.as_str().unwrap()),
                "{path}"
            );
        }
        // The sample flags are those before --sample-seed, whose value seeds `sample`.
        let seed_at = args.iter().position(|a| *a == "--sample-seed").unwrap();
        let mut sample = vec!["sample"];
        sample.extend(&args[..seed_at]);
        sample.extend(["--seed", args[seed_at + 1], "--json"]);
        let models = json(&sample);
        let pycls = sweep["models"].as_array().unwrap();
        assert_eq!(models.as_array().unwrap().len(), pycls.len());
        for (ours, theirs) in models.as_array().unwrap().iter().zip(pycls) {
            for key in ["flops", "params", "acts"] {
                assert_eq!(ours[key], theirs[key], "{key} of {}", theirs["cfg"]);
            }
        }
    }
    // A sweep pycls has launched is not overwritten.
    let dir = root.join("sweep0");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let out = regnet(&[
        "sweep",
        "--space",
        "regnetx",
        "--emit-pycls",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already launched"));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bench_times_our_layers_and_burns_on_the_same_network() {
    let args = |layers: &'static str| {
        [
            "bench",
            "--preset",
            "mini-regnetx",
            "--batch",
            "4",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--layers",
            layers,
            "--json",
        ]
    };
    for layers in ["measured", "ours", "burn"] {
        let v = json(&args(layers));
        assert_eq!(v["layers"], layers);
        assert_eq!(v["params"], 111_818);
        assert!(v["images_per_s"].as_f64().unwrap() > 0.0, "{v}");
    }
    let out = regnet(&args("fastest"));
    assert_eq!(out.status.code(), Some(2));
}
