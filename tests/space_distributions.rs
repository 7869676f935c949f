//! Goodness of fit: each sampler's draws against the distribution its definition gives
//! (pycls's `uniform`, `log_uniform` and `power2_or_log_uniform`; the paper's uniform
//! choices of b and g). The check is the DKW bound on the largest gap between the
//! empirical and the defined CDF: with 20,000 draws a gap above 0.019 has probability
//! below 1e-6 if the sampler is right, and the draws are seeded, so the test is stable.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use regnet_playground::space::anynet::AnyNetDraw;
use regnet_playground::space::regnet::RegNetDraw;
use regnet_playground::space::{AnyNetRanges, Range, RegNetRanges, Space};

const N: usize = 20_000;
const MAX_GAP: f64 = 0.019;

/// Fails unless the CDF of `samples` stays within MAX_GAP of the one `pmf` defines
/// (values ascending with their probabilities, summing to 1).
fn assert_fits(name: &str, samples: &[f64], pmf: &[(f64, f64)]) {
    let total: f64 = pmf.iter().map(|p| p.1).sum();
    assert!(
        (total - 1.0).abs() < 1e-9,
        "{name}: the pmf sums to {total}"
    );
    for s in samples {
        assert!(
            pmf.iter().any(|p| p.0 == *s),
            "{name}: {s} is outside the support"
        );
    }
    let mut cdf = 0.0;
    let mut worst: f64 = 0.0;
    for &(v, p) in pmf {
        cdf += p;
        let seen = samples.iter().filter(|&&s| s <= v).count() as f64 / samples.len() as f64;
        worst = worst.max((seen - cdf).abs());
    }
    assert!(worst < MAX_GAP, "{name}: the CDFs differ by {worst}");
}

/// pycls's `log_uniform(low, high, q)`: f log-uniform on (low - q*, high], q* =
/// min(q, low / 2), then ceiled to a multiple of q.
fn log_uniform_pmf(low: f64, high: f64, q: f64) -> Vec<(f64, f64)> {
    let a = low - q.min(low / 2.0);
    let span = (high / a).ln();
    let first = (a / q).floor() as i64 + 1;
    let last = (high / q).ceil() as i64;
    (first..=last)
        .map(|k| {
            let (lo, hi) = (((k - 1) as f64 * q).max(a), (k as f64 * q).min(high));
            (k as f64 * q, (hi / lo).ln() / span)
        })
        .filter(|p| p.1 > 0.0)
        .collect()
}

fn uniform_pmf(values: &[f64]) -> Vec<(f64, f64)> {
    values
        .iter()
        .map(|&v| (v, 1.0 / values.len() as f64))
        .collect()
}

fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

#[test]
fn regnet_parameters_follow_pyclss_distributions() {
    let ranges = RegNetRanges {
        group_width: Range::new(1, 32),
        ..RegNetRanges::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let draws: Vec<_> = (0..N).map(|_| ranges.draw(&mut rng)).collect();
    let column = |f: &dyn Fn(&RegNetDraw) -> f64| draws.iter().map(f).collect::<Vec<f64>>();
    let depths: Vec<f64> = (12..=28).map(f64::from).collect();
    assert_fits("d", &column(&|d| f64::from(d.d)), &uniform_pmf(&depths));
    assert_fits(
        "w0",
        &column(&|d| f64::from(d.w0)),
        &log_uniform_pmf(8.0, 256.0, 8.0),
    );
    // Compare wa and wm on their quanta (the pmf's k * q and the draw's decimal agree
    // once both are rounded to the quantum).
    let wa_pmf: Vec<_> = log_uniform_pmf(8.0, 256.0, 0.1)
        .into_iter()
        .map(|(v, p)| (round_to(v, 10.0), p))
        .collect();
    assert_fits("wa", &column(&|d| d.wa), &wa_pmf);
    let wm_pmf: Vec<_> = log_uniform_pmf(2.0, 3.0, 0.001)
        .into_iter()
        .map(|(v, p)| (round_to(v, 1000.0), p))
        .collect();
    assert_fits("wm", &column(&|d| d.wm), &wm_pmf);
    // Group width over [1, 32], q = 8: 1, 2, 4 each 1/6, else log-uniform over (4, 32].
    let mut g_pmf = vec![(1.0, 1.0 / 6.0), (2.0, 1.0 / 6.0), (4.0, 1.0 / 6.0)];
    g_pmf.extend(
        log_uniform_pmf(8.0, 32.0, 8.0)
            .into_iter()
            .map(|(v, p)| (v, p / 2.0)),
    );
    assert_fits(
        "group width",
        &column(&|d| f64::from(d.group_width)),
        &g_pmf,
    );
}

#[test]
fn anynet_choices_follow_the_papers_distributions() {
    let ranges = AnyNetRanges::default();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    // A draws every stage independently: pool the stages' values.
    let draws: Vec<_> = (0..N / 4)
        .map(|_| {
            ranges
                .draw(Space::AnyNetXA, &mut rng)
                .expect("A has no order to meet")
        })
        .collect();
    let pooled = |f: &dyn Fn(&AnyNetDraw) -> &Vec<u32>| {
        draws
            .iter()
            .flat_map(|d| f(d).iter().map(|&v| f64::from(v)))
            .collect::<Vec<f64>>()
    };
    assert_fits(
        "depth",
        &pooled(&|d| &d.depths),
        &log_uniform_pmf(1.0, 16.0, 1.0),
    );
    assert_fits(
        "width",
        &pooled(&|d| &d.widths),
        &log_uniform_pmf(8.0, 1024.0, 8.0),
    );
    assert_fits(
        "b",
        &pooled(&|d| &d.bottleneck_ratios),
        &uniform_pmf(&[1.0, 2.0, 4.0]),
    );
    assert_fits(
        "g",
        &pooled(&|d| &d.group_widths),
        &uniform_pmf(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
    );
}

#[test]
fn a_wrong_distribution_fails_the_check() {
    // The check has teeth: uniform depths are not log-uniform ones.
    let samples: Vec<f64> = (0..N).map(|i| (1 + i % 16) as f64).collect();
    let result = std::panic::catch_unwind(|| {
        assert_fits("depth", &samples, &log_uniform_pmf(1.0, 16.0, 1.0));
    });
    assert!(result.is_err());
}
