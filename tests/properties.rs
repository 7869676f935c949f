//! Properties over the whole slider ranges of the page (src/url_params.rs).

use proptest::prelude::*;
use regnet_playground::design::{Dataset, RegNetParams};
use regnet_playground::report::Report;

fn slider_params() -> impl Strategy<Value = (RegNetParams, Dataset)> {
    (
        1u32..=64,
        1u32..=32,
        1u32..=512,
        0u32..=25_600,
        1_050u32..=4_000,
        1u32..=256,
        1u32..=4,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(d, q, w0, wa, wm, g, b, se, cifar)| {
            let w0 = (w0 / q).max(1) * q;
            let params = RegNetParams {
                d,
                w0,
                wa: f64::from(wa) / 100.0,
                wm: f64::from(wm) / 1000.0,
                g,
                b: f64::from(b),
                q,
                se,
            };
            (
                params,
                if cifar {
                    Dataset::Cifar10
                } else {
                    Dataset::Imagenet
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn slider_range_invariants((params, dataset) in slider_params()) {
        let r = Report::new(&params, dataset).expect("every slider position is a valid RegNet");
        let q = &r.shape.quantized;
        prop_assert_eq!(r.shape.depths().iter().sum::<u32>(), params.d);
        prop_assert!(q.stage_widths.windows(2).all(|w| w[0] < w[1]), "raw stage widths strictly increase");
        prop_assert!(r.shape.widths().windows(2).all(|w| w[0] <= w[1]), "adjusted widths never decrease");
        prop_assert!(q.stage_widths.iter().all(|w| w % params.q == 0), "multiples of q before adjustment");
        prop_assert!(q.block_widths.iter().all(|w| w % params.q == 0));
        prop_assert!(q.num_stages <= q.total_stages);
        for s in &r.shape.stages {
            prop_assert!(s.width > 0 && s.group_width > 0);
            // pycls's assertion: w * bot_mul % g == 0, i.e. the bottleneck splits into groups.
            prop_assert_eq!(f64::from(s.width) / params.b % f64::from(s.group_width), 0.0);
            prop_assert_eq!(s.bottleneck_width, s.groups * s.group_width);
        }
        prop_assert!(r.complexity.params > 0 && r.complexity.flops > 0);
        let json = serde_json::to_value(r.to_json()).unwrap();
        prop_assert!(json["depths"].is_array());
    }

    #[test]
    fn no_input_panics(d in any::<u32>(), w0 in any::<u32>(), wa in any::<f64>(), wm in any::<f64>(),
                       g in any::<u32>(), b in any::<f64>(), q in any::<u32>(), se in any::<bool>()) {
        let params = RegNetParams { d, w0, wa, wm, g, b, q, se };
        if let Err(e) = Report::new(&params, Dataset::Imagenet) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn valid_but_extreme_inputs_never_panic(d in 1u32..=128, w0 in 1u32..=64, wa in 0.0f64..8192.0,
                                             wm in 1.000_001f64..16.0, g in 1u32..=8192, b in 1u32..=64) {
        let params = RegNetParams { d, w0: w0 * 8, wa, wm, g, b: f64::from(b), q: 8, se: true };
        let _ = Report::new(&params, Dataset::Cifar10);
    }
}
