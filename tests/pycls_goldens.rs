//! Every number in tests/golden/pycls.json was produced by running pycls's own
//! `generate_regnet`, `adjust_block_compatibility` and `AnyNet.complexity`
//! (see tests/golden/gen_pycls_goldens.py), and tests/golden/pycls_anynet.json by its
//! `AnyNet.complexity` on per-stage lists. We must match all of them exactly.

use regnet_playground::design::{adjust_compatibility, Dataset, NetSpec, RegNetParams, StageSpec};
use regnet_playground::report::Report;
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Input {
    d: u32,
    w0: u32,
    wa: f64,
    wm: f64,
    g: u32,
    b: f64,
    q: u32,
    se: bool,
    dataset: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: Input,
    block_widths_continuous: Vec<f64>,
    block_widths: Vec<u32>,
    raw_widths: Vec<u32>,
    depths: Vec<u32>,
    num_stages: u32,
    total_stages: u32,
    widths: Vec<u32>,
    group_widths: Vec<u32>,
    flops: u64,
    params: u64,
    acts: u64,
}

fn cases() -> Vec<Case> {
    let text = include_str!("golden/pycls.json");
    serde_json::from_str::<Golden>(text)
        .expect("golden file parses")
        .cases
}

#[test]
fn all_pycls_goldens_match_exactly() {
    let cases = cases();
    assert!(cases.len() > 300, "golden file lost its cases");
    for c in &cases {
        let i = &c.input;
        let params = RegNetParams {
            d: i.d,
            w0: i.w0,
            wa: i.wa,
            wm: i.wm,
            g: i.g,
            b: i.b,
            q: i.q,
            se: i.se,
        };
        let dataset: Dataset = i.dataset.parse().unwrap();
        let r = Report::new(&params, dataset).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let q = &r.shape.quantized;
        let n = &c.name;
        assert_eq!(
            q.block_widths_continuous, c.block_widths_continuous,
            "{n}: u_j"
        );
        assert_eq!(q.block_widths, c.block_widths, "{n}: w_j");
        assert_eq!(q.stage_widths, c.raw_widths, "{n}: raw stage widths");
        assert_eq!(r.shape.depths(), c.depths, "{n}: depths");
        assert_eq!(
            (q.num_stages, q.total_stages),
            (c.num_stages, c.total_stages),
            "{n}: stages"
        );
        assert_eq!(r.shape.widths(), c.widths, "{n}: adjusted widths");
        assert_eq!(r.shape.group_widths(), c.group_widths, "{n}: group widths");
        let cx = r.complexity;
        assert_eq!(
            (cx.flops, cx.params, cx.acts),
            (c.flops, c.params, c.acts),
            "{n}: complexity"
        );
    }
}

#[test]
fn published_param_counts() {
    let by_name = |name: &str| cases().into_iter().find(|c| c.name == name).unwrap();
    // Numbers from the pycls model zoo / the paper, independent of the golden file.
    assert_eq!(by_name("regnetx-200mf/imagenet").params, 2_684_792);
    assert_eq!(by_name("regnety-200mf/imagenet").params, 3_162_996);
    assert_eq!(by_name("cifar_best").params, 1_811_688);
    assert_eq!(by_name("mini_regnetx").params, 111_818);
    let x200 = Report::new(&RegNetParams::default(), Dataset::Imagenet).unwrap();
    assert_eq!(x200.shape.depths(), vec![1, 1, 4, 7]);
    assert_eq!(x200.shape.widths(), vec![24, 56, 152, 368]);
    assert_eq!(x200.complexity.params, 2_684_792);
}

/// tests/golden/pycls_anynet.json: AnyNets from per-stage lists (non-monotone widths,
/// stride-1 stages, each stage its own b and g), through pycls's
/// `adjust_block_compatibility` where `fix` is set, counted by `AnyNet.complexity`.
#[derive(Deserialize)]
struct AnyNetGolden {
    cases: Vec<AnyNetCase>,
}

#[derive(Deserialize)]
struct GoldenStage {
    depth: u32,
    width: u32,
    bot_mul: f64,
    group_w: u32,
    stride: u32,
}

#[derive(Deserialize)]
struct AnyNetCase {
    name: String,
    stages: Vec<GoldenStage>,
    se: bool,
    dataset: String,
    fix: bool,
    widths: Vec<u32>,
    group_widths: Vec<u32>,
    flops: u64,
    params: u64,
    acts: u64,
}

#[test]
fn anynet_goldens_match_exactly() {
    let text = include_str!("golden/pycls_anynet.json");
    let cases = serde_json::from_str::<AnyNetGolden>(text)
        .expect("golden file parses")
        .cases;
    assert!(cases.len() > 200, "golden file lost its cases");
    let mut fixed_changed = 0;
    for c in &cases {
        let n = &c.name;
        let stages: Vec<StageSpec> = c
            .stages
            .iter()
            .map(|s| {
                let stage = StageSpec {
                    depth: s.depth,
                    width: s.width,
                    bottleneck_ratio: 1.0 / s.bot_mul,
                    group_width: s.group_w,
                    stride: s.stride,
                };
                if !c.fix {
                    return stage;
                }
                let fixed = adjust_compatibility(s.width, 1.0 / s.bot_mul, s.group_w)
                    .unwrap_or_else(|e| panic!("{n}: {e}"));
                fixed_changed += usize::from(fixed.width != s.width);
                StageSpec {
                    width: fixed.width,
                    group_width: fixed.group_width,
                    ..stage
                }
            })
            .collect();
        let widths: Vec<u32> = stages.iter().map(|s| s.width).collect();
        let group_widths: Vec<u32> = stages.iter().map(|s| s.group_width).collect();
        assert_eq!(widths, c.widths, "{n}: widths");
        assert_eq!(group_widths, c.group_widths, "{n}: group widths");
        let dataset: Dataset = c.dataset.parse().unwrap();
        let net =
            NetSpec::from_stages(&stages, dataset, c.se).unwrap_or_else(|e| panic!("{n}: {e}"));
        let cx = net.complexity();
        assert_eq!(
            (cx.flops, cx.params, cx.acts),
            (c.flops, c.params, c.acts),
            "{n}: complexity"
        );
    }
    assert!(
        fixed_changed > 50,
        "the fix changed only {fixed_changed} widths"
    );
}
