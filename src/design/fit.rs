//! Fitting the quantized linear rule to given per-block widths (paper section 3.3):
//! with d the number of blocks, the w0, wa and wm whose quantized widths come closest to
//! the given ones by the paper's `e_fit`, the mean absolute log-ratio of fitted to given
//! widths.
//!
//! Two phases. When the widths could be a RegNet's (multiples of q, non-decreasing), the
//! fit is solved exactly: block 0's width is w0 (u_0 = w0 always), each distinct width is
//! some level k with round_q(w0 * wm^k) = width, which bounds wm, and each block's level
//! bounds wa. Any parameters inside those bounds reproduce the widths bit for bit, and
//! the fit says so (`e_fit` 0). Otherwise (or when no level assignment works) a grid
//! search over w0 near block 0's width, wm and wa, refined around its best point, keeps
//! the lowest `e_fit`. Pure: the page and `regnet fit` call the same function.

use serde::Serialize;
use thiserror::Error;

use super::numpy::round_half_even;
use super::regnet::{RegNetParams, MAX_D, MAX_Q, MAX_WA, MAX_WIDTH, MAX_WM};

/// A fitted RegNet rule and how well it fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    pub d: u32,
    pub w0: u32,
    pub wa: f64,
    pub wm: f64,
    pub q: u32,
    /// Mean |ln(fitted / given)| over the blocks: 0 for an exact fit.
    pub e_fit: f64,
    /// The fitted rule's quantized per-block widths.
    pub block_widths: Vec<u32>,
    /// Its continuous widths u_j = w0 + wa * j (the line the quantized steps follow).
    pub continuous: Vec<f64>,
}

#[derive(Debug, Error, PartialEq)]
pub enum FitError {
    #[error("no widths to fit")]
    Empty,
    #[error("{got} blocks is more than the {max} a RegNet here may have")]
    TooDeep { got: usize, max: u32 },
    #[error("block {index} has width {width}: widths run from 1 to {max}")]
    Width { index: usize, width: u32, max: u64 },
    #[error("q = {0}: the quantum runs from 1 to {MAX_Q}")]
    Quantum(u32),
}

/// Widths as a person types them: numbers separated by commas or spaces, a run written
/// `WIDTHxCOUNT`. The error names the first part that is not one.
pub fn parse_widths(text: &str) -> Result<Vec<u32>, String> {
    let mut widths = vec![];
    for part in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let (width, count) = match part.split_once(['x', 'X', '*']) {
            Some((w, n)) => (w, n.parse::<usize>().ok()),
            None => (part, Some(1)),
        };
        let width = width.parse::<u32>().ok();
        match (width, count) {
            (Some(w), Some(n)) if (1..=MAX_WIDTH).contains(&u64::from(w)) && n >= 1 => {
                if widths.len() + n > MAX_D as usize {
                    return Err(format!("more than {MAX_D} blocks"));
                }
                widths.extend(std::iter::repeat_n(w, n));
            }
            _ => {
                return Err(format!(
                    "'{part}' is not a width from 1 to {MAX_WIDTH} (or WIDTHxCOUNT)"
                ))
            }
        }
    }
    if widths.is_empty() {
        return Err("no widths".into());
    }
    Ok(widths)
}

/// `widths` written short: runs of one width as `WIDTHxCOUNT`.
pub fn format_widths(widths: &[u32]) -> String {
    let mut parts: Vec<String> = vec![];
    let mut i = 0;
    while i < widths.len() {
        let run = widths[i..].iter().take_while(|&&w| w == widths[i]).count();
        parts.push(if run == 1 {
            widths[i].to_string()
        } else {
            format!("{}x{run}", widths[i])
        });
        i += run;
    }
    parts.join(",")
}

/// The best fit of the rule to `widths` (block 0 first) with widths multiples of `q`.
pub fn fit(widths: &[u32], q: u32) -> Result<Fit, FitError> {
    check(widths, q)?;
    let fit = exact(widths, q).unwrap_or_else(|| search(widths, q));
    Ok(finish(widths, q, fit.0, fit.1, fit.2))
}

fn check(widths: &[u32], q: u32) -> Result<(), FitError> {
    if widths.is_empty() {
        return Err(FitError::Empty);
    }
    if widths.len() > MAX_D as usize {
        return Err(FitError::TooDeep {
            got: widths.len(),
            max: MAX_D,
        });
    }
    if !(1..=MAX_Q).contains(&q) {
        return Err(FitError::Quantum(q));
    }
    for (index, &width) in widths.iter().enumerate() {
        if width == 0 || u64::from(width) > MAX_WIDTH {
            return Err(FitError::Width {
                index,
                width,
                max: MAX_WIDTH,
            });
        }
    }
    Ok(())
}

/// The rule's quantized width of block `j` (pycls's rounding, as `RegNetParams::quantize`).
fn width_at(w0: f64, wa: f64, wm: f64, q: f64, j: usize) -> f64 {
    let u = w0 + wa * j as f64;
    let k = round_half_even((u / w0).ln() / wm.ln());
    round_half_even(w0 * wm.powf(k) / q) * q
}

/// Mean |ln(fitted / given)|.
fn e_fit(widths: &[u32], w0: f64, wa: f64, wm: f64, q: f64) -> f64 {
    let sum: f64 = widths
        .iter()
        .enumerate()
        .map(|(j, &w)| (width_at(w0, wa, wm, q, j) / f64::from(w)).ln().abs())
        .sum();
    sum / widths.len() as f64
}

/// Parameters that reproduce `widths` exactly, if the widths are a RegNet's.
fn exact(widths: &[u32], q: u32) -> Option<(u32, f64, f64)> {
    let w0 = widths[0];
    if widths.iter().any(|w| w % q != 0) || widths.windows(2).any(|p| p[1] < p[0]) {
        return None;
    }
    let mut stages: Vec<u32> = widths.to_vec();
    stages.dedup();
    if stages.len() == 1 {
        return Some((w0, 0.0, 2.0));
    }
    // Levels of the stages after the first: each one or two above the last (a level
    // no block reaches is skipped). Consecutive levels first, as in every published
    // RegNet.
    let gaps = stages.len() - 1;
    let tries = 1u32 << gaps.min(10);
    let mut assignments: Vec<Vec<u32>> = (0..tries)
        .map(|mask| {
            let mut level = 0;
            (0..gaps)
                .map(|i| {
                    level += 1 + (mask >> i & 1);
                    level
                })
                .collect()
        })
        .collect();
    assignments.sort_by_key(|levels| levels.last().copied());
    let (w0f, qf) = (f64::from(w0), f64::from(q));
    for levels in assignments {
        // round_q(w0 * wm^k) = width  <=>  w0 * wm^k in (width - q/2, width + q/2).
        let (mut lo, mut hi) = (1.0f64, MAX_WM);
        for (&width, &k) in stages[1..].iter().zip(&levels) {
            let k = f64::from(k);
            let w = f64::from(width);
            lo = lo.max(((w - qf / 2.0) / w0f).max(0.0).powf(1.0 / k));
            hi = hi.min(((w + qf / 2.0) / w0f).powf(1.0 / k));
        }
        if lo >= hi {
            continue;
        }
        let level_of = |width: u32| -> u32 {
            let i = stages.iter().position(|&s| s == width).expect("a stage");
            if i == 0 {
                0
            } else {
                levels[i - 1]
            }
        };
        for wm in wm_candidates(lo, hi) {
            // round(ln(u_j / w0) / ln(wm)) = k  <=>  u_j in (w0 wm^(k-1/2), w0 wm^(k+1/2)).
            let (mut a_lo, mut a_hi) = (0.0f64, MAX_WA);
            for (j, &width) in widths.iter().enumerate().skip(1) {
                let k = f64::from(level_of(width));
                let j = j as f64;
                a_lo = a_lo.max(w0f * (wm.powf(k - 0.5) - 1.0) / j);
                a_hi = a_hi.min(w0f * (wm.powf(k + 0.5) - 1.0) / j);
            }
            if a_lo >= a_hi {
                continue;
            }
            for (wa, wm) in nice(a_lo, a_hi, wm, lo, hi) {
                let same = widths
                    .iter()
                    .enumerate()
                    .all(|(j, &w)| width_at(w0f, wa, wm, qf, j) == f64::from(w));
                if same {
                    return Some((w0, wa, wm));
                }
            }
        }
    }
    None
}

/// wm values strictly inside (lo, hi) to try: the roundest first (2, then 2.5, then
/// 2.49 ...), at most a few of each, then evenly spaced ones.
fn wm_candidates(lo: f64, hi: f64) -> Vec<f64> {
    const SAMPLES: usize = 64;
    let mut out = vec![];
    for scale in [1.0, 10.0, 100.0, 1000.0] {
        let first = (lo * scale).floor() as i64 + 1;
        out.extend(
            (first..)
                .map(|i| i as f64 / scale)
                .take_while(|&wm| wm < hi)
                .take(8),
        );
    }
    out.extend((1..SAMPLES).map(|s| lo + (hi - lo) * s as f64 / SAMPLES as f64));
    out.retain(|&wm| wm > 1.0 && wm > lo && wm < hi);
    out
}

/// Candidate (wa, wm) inside the bounds, the shortest decimals first (a person reads
/// "wa=36.44 wm=2.49", as the paper writes them), then the midpoint.
fn nice(a_lo: f64, a_hi: f64, wm: f64, m_lo: f64, m_hi: f64) -> Vec<(f64, f64)> {
    let mut out = vec![];
    for (da, dm) in [
        (1.0, 100.0),
        (10.0, 100.0),
        (100.0, 1000.0),
        (100.0, 10_000.0),
    ] {
        let wa = ((a_lo + a_hi) / 2.0 * da).round() / da;
        let m = (wm * dm).round() / dm;
        if wa > a_lo && wa < a_hi && m > m_lo && m < m_hi && m > 1.0 {
            out.push((wa, m));
        }
    }
    out.push(((a_lo + a_hi) / 2.0, wm));
    out
}

/// The lowest `e_fit` on a grid over w0 (multiples of q near block 0's width), wm and wa,
/// then on finer grids around the best point.
fn search(widths: &[u32], q: u32) -> (u32, f64, f64) {
    let qf = f64::from(q);
    let first = f64::from(widths[0]);
    let top = f64::from(*widths.iter().max().expect("not empty"));
    let base = (round_half_even(first / qf) as u32).max(1);
    let w0s: Vec<u32> = (base.saturating_sub(3)..=base + 3)
        .filter(|&m| m >= 1)
        .map(|m| m * q)
        .filter(|&w| u64::from(w) <= MAX_WIDTH)
        .collect();
    let d = widths.len().max(2) as f64;
    // wa up to the slope that reaches twice the widest block by the last one.
    let wa_max = ((2.0 * top - first) / (d - 1.0)).clamp(1.0, MAX_WA);
    let ln_wm_max = 4.0f64.ln();
    let mut best = (f64::INFINITY, w0s[0], 0.0, 2.0);
    const STEPS: usize = 96;
    for &w0 in &w0s {
        let w0f = f64::from(w0);
        for i in 1..=STEPS {
            let wm = (ln_wm_max * i as f64 / STEPS as f64).exp();
            for k in 0..=STEPS {
                let wa = wa_max * k as f64 / STEPS as f64;
                let e = e_fit(widths, w0f, wa, wm, qf);
                if e < best.0 {
                    best = (e, w0, wa, wm);
                }
            }
        }
    }
    // Refine: three rounds, each a grid a tenth as wide around the best point.
    let (mut da, mut dm) = (wa_max / STEPS as f64, ln_wm_max / STEPS as f64);
    for _ in 0..3 {
        let (_, w0, wa0, wm0) = best;
        let w0f = f64::from(w0);
        for i in -10..=10 {
            let wm = (wm0.ln() + dm * f64::from(i) / 10.0).exp();
            if !(wm > 1.0 && wm <= MAX_WM) {
                continue;
            }
            for k in -10..=10 {
                let wa = (wa0 + da * f64::from(k) / 10.0).clamp(0.0, MAX_WA);
                let e = e_fit(widths, w0f, wa, wm, qf);
                if e < best.0 {
                    best = (e, w0, wa, wm);
                }
            }
        }
        da /= 10.0;
        dm /= 10.0;
    }
    // Shorter decimals where they fit as well.
    let (e, w0, wa, wm) = best;
    let (short_wa, short_wm) = ((wa * 100.0).round() / 100.0, (wm * 1000.0).round() / 1000.0);
    if short_wm > 1.0 && e_fit(widths, f64::from(w0), short_wa, short_wm, qf) <= e {
        return (w0, short_wa, short_wm);
    }
    (w0, wa, wm)
}

fn finish(widths: &[u32], q: u32, w0: u32, wa: f64, wm: f64) -> Fit {
    let (w0f, qf) = (f64::from(w0), f64::from(q));
    let d = widths.len();
    Fit {
        d: d as u32,
        w0,
        wa,
        wm,
        q,
        e_fit: e_fit(widths, w0f, wa, wm, qf),
        block_widths: (0..d)
            .map(|j| width_at(w0f, wa, wm, qf, j) as u32)
            .collect(),
        continuous: (0..d).map(|j| w0f + wa * j as f64).collect(),
    }
}

impl Fit {
    /// The fitted rule as RegNet parameters (group width 8, b 1, no SE: the fit is
    /// about widths only).
    pub fn params(&self) -> RegNetParams {
        RegNetParams {
            d: self.d,
            w0: self.w0,
            wa: self.wa,
            wm: self.wm,
            q: self.q,
            ..RegNetParams::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::PRESETS;

    #[test]
    fn the_papers_worked_example_fits_exactly() {
        let f = fit(&[32, 32, 64, 64], 8).unwrap();
        assert_eq!(f.e_fit, 0.0);
        assert_eq!(f.block_widths, [32, 32, 64, 64]);
        assert_eq!((f.d, f.w0, f.wm), (4, 32, 2.0), "the roundest wm that fits");
    }

    #[test]
    fn every_published_regnet_fits_exactly_and_quantizes_back() {
        for preset in PRESETS {
            let given = preset.params().quantize().unwrap().block_widths;
            let f = fit(&given, 8).unwrap_or_else(|e| panic!("{}: {e}", preset.name));
            assert_eq!(f.e_fit, 0.0, "{}", preset.name);
            // The rule's own code (pycls's, bit for bit) agrees with the fit.
            let back = f.params().quantize().unwrap().block_widths;
            assert_eq!(back, given, "{}: {:?}", preset.name, f);
        }
    }

    #[test]
    fn other_networks_get_the_closest_rule() {
        // ResNet-50's stages (3, 4, 6, 3 blocks at 256, 512, 1024, 2048): not a RegNet's
        // (its widths double exactly but its depths do not follow a line).
        let mut widths = vec![];
        for (n, w) in [(3, 256), (4, 512), (6, 1024), (3, 2048)] {
            widths.extend(std::iter::repeat_n(w, n));
        }
        let f = fit(&widths, 8).unwrap();
        assert!(f.e_fit > 0.0 && f.e_fit < 0.2, "{f:?}");
        assert_eq!(f.block_widths.len(), 16);
        // Not a multiple of q, nor sorted: still a fit, never an error.
        let f = fit(&[30, 70, 50], 8).unwrap();
        assert!(f.e_fit.is_finite() && f.e_fit > 0.0);
        assert!(f.params().quantize().is_ok());
    }

    #[test]
    fn widths_read_with_runs_and_write_short() {
        assert_eq!(
            parse_widths("24, 56 152x4 368x7").unwrap(),
            [24, 56, 152, 152, 152, 152, 368, 368, 368, 368, 368, 368, 368]
        );
        let w = parse_widths("256x3,512x4,1024x6,2048x3").unwrap();
        assert_eq!(w.len(), 16);
        assert_eq!(format_widths(&w), "256x3,512x4,1024x6,2048x3");
        assert_eq!(format_widths(&[32, 64, 32]), "32,64,32");
        for bad in ["", "a", "32,,0", "32x0", "32x", "99999999", "8x200"] {
            assert!(parse_widths(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(fit(&[], 8), Err(FitError::Empty));
        assert!(matches!(
            fit(&[8, 0], 8),
            Err(FitError::Width { index: 1, .. })
        ));
        assert_eq!(fit(&[8], 0), Err(FitError::Quantum(0)));
        assert!(matches!(
            fit(&vec![8; 200], 8),
            Err(FitError::TooDeep { got: 200, .. })
        ));
    }
}
