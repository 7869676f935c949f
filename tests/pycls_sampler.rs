//! tests/golden/pycls_sampler.json holds pycls's own `regnet_sampler`,
//! `check_regnet_constraints` and `scale_model` run on recorded uniform draws (see
//! tests/golden/gen_pycls_goldens.py `sampler`). Replaying the same draws through our
//! RegNet sampler must give the same parameters, the same keep/reject decision, and the
//! same AnyNet stages.

use regnet_playground::space::random::Draws;
use regnet_playground::space::sample::standardize;
use regnet_playground::space::{Range, RegNetRanges};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct Ranges {
    depth: [u32; 2],
    w0: [u32; 2],
    wa: [f64; 2],
    wm: [f64; 2],
    group_w: [u32; 2],
    bot_mul: [f64; 2],
    num_stages: [u32; 2],
}

#[derive(Deserialize, Debug, PartialEq)]
struct Sampled {
    depth: u32,
    w0: u32,
    wa: f64,
    wm: f64,
    group_w: u32,
    bot_mul: f64,
}

#[derive(Deserialize, Debug, PartialEq)]
struct AnyNet {
    depths: Vec<u32>,
    widths: Vec<u32>,
    bot_muls: Vec<f64>,
    group_ws: Vec<u32>,
}

#[derive(Deserialize)]
struct Case {
    ranges: Ranges,
    draws: Vec<f64>,
    sampled: Sampled,
    kept: bool,
    anynet: Option<AnyNet>,
}

fn range<T>([low, high]: [T; 2]) -> Range<T> {
    Range::new(low, high)
}

#[test]
fn replayed_draws_give_pyclss_models() {
    let golden: Golden =
        serde_json::from_str(include_str!("golden/pycls_sampler.json")).expect("golden parses");
    assert_eq!(golden.cases.len(), 600);
    let mut kept = 0;
    for (i, case) in golden.cases.iter().enumerate() {
        let r = &case.ranges;
        let ranges = RegNetRanges {
            depth: range(r.depth),
            w0: range(r.w0),
            wa: range(r.wa),
            wm: range(r.wm),
            group_width: range(r.group_w),
            bot_mul: range(r.bot_mul),
            stages: range(r.num_stages),
        };
        ranges.validate().expect("pycls's ranges are valid");
        let mut draws = Draws(&case.draws);
        let draw = ranges.draw(&mut draws);
        assert!(draws.0.is_empty(), "case {i}: every recorded draw used");
        let got = Sampled {
            depth: draw.d,
            w0: draw.w0,
            wa: draw.wa,
            wm: draw.wm,
            group_w: draw.group_width,
            bot_mul: draw.bot_mul,
        };
        assert_eq!(got, case.sampled, "case {i}");
        let shape = draw
            .params(false)
            .shape()
            .expect("sampled parameters are valid");
        assert_eq!(
            ranges.keeps(&shape.quantized),
            case.kept,
            "case {i}: {got:?}"
        );
        if let Some(want) = &case.anynet {
            kept += 1;
            let stages = standardize(&shape.stage_specs()).expect("standardized");
            let got = AnyNet {
                depths: stages.iter().map(|s| s.depth).collect(),
                widths: stages.iter().map(|s| s.width).collect(),
                bot_muls: stages.iter().map(|s| s.bot_mul()).collect(),
                group_ws: stages.iter().map(|s| s.group_width).collect(),
            };
            assert_eq!(&got, want, "case {i}: {:?}", case.sampled);
        }
    }
    // Both branches are exercised: pycls keeps some draws and rejects others.
    assert!(kept > 100 && kept < 500, "{kept} kept");
}
