//! Scale and path math for the page's plots, kept out of the components so it is
//! plain, testable Rust; the components only draw what these functions return, and
//! `svg` writes the same geometry as standalone SVG files for the CLI's reports.

pub mod scatter;
pub mod svg;

use std::fmt::Write;

use crate::stats::{Edf, SearchPoint};

/// The drawing area inside an SVG of `width` x `height` pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn x_range(&self) -> (f64, f64) {
        (self.left, self.width - self.right)
    }
    pub fn y_range(&self) -> (f64, f64) {
        (self.height - self.bottom, self.top)
    }
}

/// Maps a domain interval onto a pixel interval, linearly or in log2 space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
    log2: bool,
}

impl Scale {
    pub fn linear((d0, d1): (f64, f64), (r0, r1): (f64, f64)) -> Self {
        Scale {
            d0,
            d1,
            r0,
            r1,
            log2: false,
        }
    }

    /// Needs a positive domain.
    pub fn log2((d0, d1): (f64, f64), (r0, r1): (f64, f64)) -> Self {
        Scale {
            d0: d0.log2(),
            d1: d1.log2(),
            r0,
            r1,
            log2: true,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        let v = if self.log2 { v.log2() } else { v };
        let span = self.d1 - self.d0;
        let t = if span == 0.0 {
            0.5
        } else {
            (v - self.d0) / span
        };
        self.r0 + t * (self.r1 - self.r0)
    }
}

/// An axis tick: where it goes (pixels) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub label: String,
}

/// Powers of two inside `[lo, hi]` (the paper plots widths on a log2 axis).
pub fn log2_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log2().ceil() as i32, hi.log2().floor() as i32);
    (a..=b).map(|e| 2f64.powi(e)).collect()
}

/// The smallest 1/2/5 x 10^k step at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// `[lo, hi]` widened outward to whole steps of about `count` ticks (1/2/5 x 10^k).
/// Data that moves a little inside a step leaves the domain, and so every mark drawn
/// on it, where it was: a run landing in the explorer redraws only its own marks.
pub fn nice_domain(lo: f64, hi: f64, count: usize) -> (f64, f64) {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return (lo, hi);
    }
    let step = nice_step(span / count.max(1) as f64);
    // (The nudge keeps a bound that is already a whole step, such as 0.3 / 0.1, there.)
    let whole = |v: f64| v / step;
    (
        (whole(lo) + 1e-9).floor() * step,
        (whole(hi) - 1e-9).ceil() * step,
    )
}

/// Whole-number ticks for `0..=max`, about `count` of them, at 1/2/5 x 10^k steps.
pub fn integer_ticks(max: f64, count: usize) -> Vec<f64> {
    let step = nice_step((max / count.max(1) as f64).max(1.0));
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= max)
        .collect()
}

/// The per-block width figure: u_j as a line, w_j as steps, stage boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct WidthChart {
    /// SVG path of u_j through the block centres.
    pub continuous: String,
    /// SVG path of the quantized widths, one flat step per block.
    pub quantized: String,
    /// x (pixels) of each boundary between stages.
    pub boundaries: Vec<f64>,
    /// Pixel positions of widths the rule was fitted to (`WidthChart::fitted`), one
    /// per block.
    pub given: Vec<(f64, f64)>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

impl WidthChart {
    /// `continuous` and `quantized` have one entry per block, in block order.
    pub fn new(continuous: &[f64], quantized: &[u32], frame: &Frame) -> Self {
        Self::fitted(continuous, quantized, &[], frame)
    }

    /// As `new`, with the widths a rule was fitted to drawn as points on the same axes.
    pub fn fitted(continuous: &[f64], quantized: &[u32], given: &[u32], frame: &Frame) -> Self {
        let n = continuous.len().min(quantized.len());
        let x = Scale::linear((-0.5, n as f64 - 0.5), frame.x_range());
        let given = &given[..given.len().min(n)];
        let all = continuous[..n]
            .iter()
            .copied()
            .chain(quantized[..n].iter().map(|w| f64::from(*w)))
            .chain(given.iter().map(|w| f64::from(*w)));
        let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if n == 0 {
            (1.0, 2.0)
        } else {
            (lo / 1.25, hi * 1.25)
        };
        let y = Scale::log2((lo, hi), frame.y_range());

        let mut cont = String::new();
        for (j, u) in continuous[..n].iter().enumerate() {
            let cmd = if j == 0 { 'M' } else { 'L' };
            let _ = write!(cont, "{cmd}{:.1},{:.1}", x.map(j as f64), y.map(*u));
        }
        let mut quant = String::new();
        let mut boundaries = Vec::new();
        for (j, w) in quantized[..n].iter().enumerate() {
            let (x0, x1, yw) = (
                x.map(j as f64 - 0.5),
                x.map(j as f64 + 0.5),
                y.map(f64::from(*w)),
            );
            let cmd = if j == 0 { 'M' } else { 'L' };
            let _ = write!(quant, "{cmd}{x0:.1},{yw:.1}H{x1:.1}");
            if j > 0 && quantized[j - 1] != *w {
                boundaries.push(x0);
            }
        }
        let x_ticks = integer_ticks(n.saturating_sub(1) as f64, 8)
            .into_iter()
            .map(|v| Tick {
                at: x.map(v),
                label: format!("{v}"),
            })
            .collect();
        let y_ticks = log2_ticks(lo, hi)
            .into_iter()
            .map(|v| Tick {
                at: y.map(v),
                label: format!("{v}"),
            })
            .collect();
        let given = given
            .iter()
            .enumerate()
            .map(|(j, w)| (x.map(j as f64), y.map(f64::from(*w))))
            .collect();
        WidthChart {
            continuous: cont,
            quantized: quant,
            boundaries,
            given,
            x_ticks,
            y_ticks,
        }
    }
}

/// Ticks at 1/2/5 x 10^k steps covering `[lo, hi]`, about `count` of them.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let step = nice_step(span / count.max(1) as f64);
    let first = (lo / step).ceil() as i64;
    (first..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect()
}

/// Ticks from `nice_ticks` placed by `scale`, labelled with at most `decimals`
/// decimals (trailing zeros dropped: "0.25", "1").
pub fn labelled_ticks(
    (lo, hi): (f64, f64),
    count: usize,
    scale: &Scale,
    decimals: usize,
) -> Vec<Tick> {
    nice_ticks(lo, hi, count)
        .into_iter()
        .map(|v| {
            let s = format!("{v:.decimals$}");
            let label = if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            };
            Tick {
                at: scale.map(v),
                label,
            }
        })
        .collect()
}

/// A training curve: one polyline of (x, y) points over fixed axes, with optional
/// dots (for sparse series such as the per-epoch test error).
#[derive(Debug, Clone, PartialEq)]
pub struct CurveChart {
    pub path: String,
    /// Pixel positions of the points, for dots.
    pub points: Vec<(f64, f64)>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

impl CurveChart {
    /// `x_max` fixes the x axis (the run's length) so a live curve grows into it;
    /// `y` is the y domain, or `None` to fit the points (from zero).
    pub fn new(points: &[(f64, f64)], x_max: f64, y: Option<(f64, f64)>, frame: &Frame) -> Self {
        let finite = points.iter().filter(|(_, v)| v.is_finite());
        let y_dom = y.unwrap_or_else(|| {
            let hi = finite.clone().fold(0.0f64, |m, (_, v)| m.max(*v));
            (0.0, if hi > 0.0 { hi * 1.05 } else { 1.0 })
        });
        let xs = Scale::linear((0.0, x_max.max(1e-9)), frame.x_range());
        let ys = Scale::linear(y_dom, frame.y_range());
        let pixels: Vec<(f64, f64)> = finite
            .map(|(x, v)| (xs.map(*x), ys.map(v.clamp(y_dom.0, y_dom.1))))
            .collect();
        let mut path = String::new();
        for (i, (px, py)) in pixels.iter().enumerate() {
            let cmd = if i == 0 { 'M' } else { 'L' };
            let _ = write!(path, "{cmd}{px:.1},{py:.1}");
        }
        CurveChart {
            path,
            points: pixels,
            x_ticks: labelled_ticks((0.0, x_max), 6, &xs, 3),
            y_ticks: labelled_ticks(y_dom, 4, &ys, 3),
        }
    }
}

/// NDS's random-search efficiency of several sweeps on shared axes: x the number of
/// models tried (log2, 1, 2, 4, ...), y the expected best error, each sweep a line
/// through the means and a band of mean +- 2 sd.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchChart {
    /// Per curve, in the order given: the path through the means.
    pub lines: Vec<String>,
    /// Per curve: the closed band from mean - 2 sd to mean + 2 sd.
    pub bands: Vec<String>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

impl SearchChart {
    /// Curves without points draw nothing (an empty path).
    pub fn new(curves: &[&[SearchPoint]], frame: &Frame) -> Self {
        let points = || curves.iter().flat_map(|c| c.iter());
        let k_max = points().map(|p| p.k).max().unwrap_or(1).max(2) as f64;
        let lo = points()
            .map(|p| p.mean - 2.0 * p.sd)
            .fold(f64::INFINITY, f64::min);
        let hi = points()
            .map(|p| p.mean + 2.0 * p.sd)
            .fold(f64::NEG_INFINITY, f64::max);
        let y_dom = if lo.is_finite() && hi > lo {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        } else {
            (0.0, 100.0)
        };
        let xs = Scale::log2((1.0, k_max), frame.x_range());
        let ys = Scale::linear(y_dom, frame.y_range());
        let at = |k: usize, y: f64| (xs.map(k as f64), ys.map(y));
        let polyline = |pts: &mut dyn Iterator<Item = (f64, f64)>| {
            let mut path = String::new();
            for (i, (x, y)) in pts.enumerate() {
                let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { 'M' } else { 'L' });
            }
            path
        };
        let lines = curves
            .iter()
            .map(|c| polyline(&mut c.iter().map(|p| at(p.k, p.mean))))
            .collect();
        let bands = curves
            .iter()
            .map(|c| {
                let upper = c.iter().map(|p| at(p.k, p.mean + 2.0 * p.sd));
                let lower = c.iter().rev().map(|p| at(p.k, p.mean - 2.0 * p.sd));
                let path = polyline(&mut upper.chain(lower));
                if path.is_empty() {
                    path
                } else {
                    path + "Z"
                }
            })
            .collect();
        SearchChart {
            lines,
            bands,
            x_ticks: log2_ticks(1.0, k_max)
                .into_iter()
                .map(|k| Tick {
                    at: xs.map(k),
                    label: format!("{k}"),
                })
                .collect(),
            y_ticks: labelled_ticks(y_dom, 5, &ys, 2),
        }
    }
}

/// Error EDFs of several sweeps on shared axes: x the error (percent), y the
/// cumulative probability from 0 to 1, each EDF a step path.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfChart {
    /// One path per EDF, in the order given: from (x min, 0) along each step to
    /// (x max, 1).
    pub paths: Vec<String>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    xs: Scale,
    ys: Scale,
}

impl EdfChart {
    /// Where the point (error `e`, cumulative probability `f`) is drawn: a model's
    /// place on its EDF, for the marks a person hovers.
    pub fn point(&self, e: f64, f: f64) -> (f64, f64) {
        (self.xs.map(e), self.ys.map(f))
    }

    /// `x` fixes the error axis, or `None` to fit every EDF's errors (padded by 2% and
    /// widened to whole tick steps by `nice_domain`; 0 to 100 without any EDF).
    pub fn new(edfs: &[&Edf], x: Option<(f64, f64)>, frame: &Frame) -> Self {
        let x_dom = x.unwrap_or_else(|| {
            if edfs.is_empty() {
                return (0.0, 100.0);
            }
            let lo = edfs.iter().map(|e| e.min()).fold(f64::INFINITY, f64::min);
            let hi = edfs
                .iter()
                .flat_map(|e| e.steps().last())
                .map(|(e, _)| e)
                .fold(f64::NEG_INFINITY, f64::max);
            let pad = ((hi - lo) * 0.02).max(0.5);
            nice_domain(lo - pad, hi + pad, 6)
        });
        let xs = Scale::linear(x_dom, frame.x_range());
        let ys = Scale::linear((0.0, 1.0), frame.y_range());
        let paths = edfs
            .iter()
            .map(|edf| {
                let mut path = format!("M{:.1},{:.1}", xs.map(x_dom.0), ys.map(0.0));
                for (e, f) in edf.steps() {
                    let _ = write!(path, "H{:.1}V{:.1}", xs.map(e), ys.map(f));
                }
                let _ = write!(path, "H{:.1}", xs.map(x_dom.1));
                path
            })
            .collect();
        EdfChart {
            paths,
            x_ticks: labelled_ticks(x_dom, 6, &xs, 2),
            y_ticks: labelled_ticks((0.0, 1.0), 5, &ys, 2),
            xs,
            ys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame {
        width: 400.0,
        height: 200.0,
        left: 40.0,
        right: 10.0,
        top: 10.0,
        bottom: 30.0,
    };

    #[test]
    fn scales_map_domain_ends_to_range_ends() {
        let s = Scale::log2((8.0, 512.0), (100.0, 0.0));
        assert_eq!(s.map(8.0), 100.0);
        assert_eq!(s.map(512.0), 0.0);
        assert!((s.map(64.0) - 50.0).abs() < 1e-9);
        assert_eq!(Scale::linear((0.0, 0.0), (0.0, 10.0)).map(0.0), 5.0);
    }

    #[test]
    fn ticks() {
        assert_eq!(log2_ticks(20.0, 300.0), vec![32.0, 64.0, 128.0, 256.0]);
        assert_eq!(
            integer_ticks(12.0, 8),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
        );
        assert_eq!(
            integer_ticks(63.0, 8),
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        assert_eq!(integer_ticks(0.0, 8), vec![0.0]);
    }

    #[test]
    fn paper_example_has_one_boundary_between_blocks_1_and_2() {
        let c = WidthChart::new(&[32.0, 40.0, 48.0, 56.0], &[32, 32, 64, 64], &FRAME);
        // x spans -0.5..3.5 over 40..390: block edge 1.5 sits at 40 + 2/4 * 350.
        assert_eq!(c.boundaries, vec![215.0]);
        assert_eq!(c.quantized.matches('H').count(), 4);
        assert_eq!(c.continuous.matches('L').count(), 3);
        assert!(c.y_ticks.iter().any(|t| t.label == "64"));
        let empty = WidthChart::new(&[], &[], &FRAME);
        assert!(empty.quantized.is_empty() && empty.boundaries.is_empty());
    }

    #[test]
    fn curves_fill_their_axes() {
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.5, 1.0]);
        assert_eq!(nice_ticks(0.0, 5.0, 6), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let c = CurveChart::new(
            &[(0.0, 2.0), (1.0, 1.0), (2.0, f64::NAN)],
            4.0,
            None,
            &FRAME,
        );
        assert_eq!(c.points.len(), 2, "non-finite points are left out");
        let (x0, _) = FRAME.x_range();
        let (y0, _) = FRAME.y_range();
        assert_eq!(c.points[0].0, x0);
        assert!(
            c.points[0].1 < c.points[1].1,
            "larger values are drawn higher"
        );
        assert!(c.points[1].1 < y0);
        assert!(c.path.starts_with('M') && c.path.contains('L'));
        let fixed = CurveChart::new(&[(4.0, 0.5)], 4.0, Some((0.0, 1.0)), &FRAME);
        assert_eq!(fixed.points[0].0, FRAME.width - FRAME.right);
        assert_eq!(fixed.y_ticks.first().map(|t| t.label.as_str()), Some("0"));
        assert_eq!(fixed.y_ticks.last().map(|t| t.label.as_str()), Some("1"));
    }

    #[test]
    fn charts_without_data_have_finite_ticks() {
        let edf = EdfChart::new(&[], None, &FRAME);
        assert!(edf.paths.is_empty());
        let search = SearchChart::new(&[&[]], &FRAME);
        for t in edf
            .x_ticks
            .iter()
            .chain(&edf.y_ticks)
            .chain(&search.x_ticks)
            .chain(&search.y_ticks)
        {
            assert!(t.at.is_finite(), "{t:?}");
        }
    }

    #[test]
    fn nice_domains_cover_the_data_in_whole_steps_and_hold_still() {
        assert_eq!(nice_domain(13.2, 88.7, 6), (0.0, 100.0));
        let (lo, hi) = nice_domain(0.3, 0.71, 5);
        assert!(
            (lo - 0.3).abs() < 1e-12 && (hi - 0.8).abs() < 1e-12,
            "{lo} {hi}"
        );
        // A new extreme inside the same step leaves the domain as it was.
        assert_eq!(nice_domain(13.2, 91.4, 6), nice_domain(13.2, 88.7, 6));
        assert_eq!(nice_domain(5.0, 5.0, 6), (5.0, 5.0));
        let edf = Edf::new(&[21.3, 34.8]).unwrap();
        let chart = EdfChart::new(&[&edf], None, &FRAME);
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels.first(), Some(&"20"), "{labels:?}");
        assert_eq!(labels.last(), Some(&"40"), "{labels:?}");
    }

    #[test]
    fn edf_paths_step_up_at_each_error() {
        let edf = Edf::new(&[10.0, 20.0]).unwrap();
        let chart = EdfChart::new(&[&edf], Some((0.0, 40.0)), &FRAME);
        // x: 0..40 -> 40..390 px; y: 0..1 -> 170..10 px.
        assert_eq!(chart.paths, ["M40.0,170.0H127.5V90.0H215.0V10.0H390.0"]);
        assert_eq!(chart.y_ticks.first().map(|t| t.label.as_str()), Some("0"));
        assert_eq!(chart.y_ticks.last().map(|t| t.label.as_str()), Some("1"));
    }
}
