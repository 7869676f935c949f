//! Error against one parameter (the paper's Figs. 5-9 style): each sweep's models as
//! points over shared axes, and where a good range (pycls's bootstrap) lies on the
//! parameter's axis. Widths, flops and the like spread over orders of magnitude, so
//! their axis is log2 when every value is positive and they span a factor of 8 or more.

use super::{labelled_ticks, nice_domain, Frame, Scale, Tick};

#[derive(Debug, Clone, PartialEq)]
pub struct ScatterChart {
    /// Pixel positions, per series, in the order given.
    pub points: Vec<Vec<(f64, f64)>>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// Whether the parameter's axis is log2.
    pub log: bool,
    xs: Scale,
}

/// A tick label without trailing zeros, in M for millions and G for billions ("3.5M").
fn label(v: f64) -> String {
    let (v, unit) = if v.abs() >= 1e9 {
        (v / 1e9, "G")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "M")
    } else {
        (v, "")
    };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

/// Ticks at 1, 2 and 5 x 10^k inside `[lo, hi]` (positive), or at 10^k alone where
/// those would be more than seven.
fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = lo.log10().floor() as i32..=hi.log10().ceil() as i32;
    let within = |m: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|k| m.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let fine = within(&[1.0, 2.0, 5.0]);
    if fine.len() > 7 {
        within(&[1.0])
    } else {
        fine
    }
}

impl ScatterChart {
    /// `series` holds each sweep's (value, error) pairs; non-finite pairs are left out.
    pub fn new(series: &[Vec<(f64, f64)>], frame: &Frame) -> Self {
        let all = || {
            series
                .iter()
                .flatten()
                .filter(|(v, e)| v.is_finite() && e.is_finite())
        };
        let (mut lo, mut hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (v, _)| {
            (l.min(*v), h.max(*v))
        });
        let (mut e_lo, mut e_hi) = all()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, e)| {
                (l.min(*e), h.max(*e))
            });
        if !lo.is_finite() {
            (lo, hi, e_lo, e_hi) = (0.0, 1.0, 0.0, 100.0);
        }
        let log = lo > 0.0 && hi / lo >= 8.0;
        // Linear domains are padded by 5% and widened to whole tick steps (see
        // `nice_domain`).
        let pad = ((hi - lo) * 0.05).max(0.5);
        let x_dom = nice_domain(lo - pad, hi + pad, 5);
        let xs = if log {
            Scale::log2((lo / 1.1, hi * 1.1), frame.x_range())
        } else {
            Scale::linear(x_dom, frame.x_range())
        };
        let e_pad = ((e_hi - e_lo) * 0.05).max(0.5);
        let y_dom = nice_domain(e_lo - e_pad, e_hi + e_pad, 5);
        let ys = Scale::linear(y_dom, frame.y_range());
        let x_ticks = if log {
            decade_ticks(lo / 1.1, hi * 1.1)
                .into_iter()
                .map(|v| Tick {
                    at: xs.map(v),
                    label: label(v),
                })
                .collect()
        } else {
            labelled_ticks(x_dom, 5, &xs, 2)
        };
        let points = series
            .iter()
            .map(|s| {
                s.iter()
                    .filter(|(v, e)| v.is_finite() && e.is_finite())
                    .map(|&(v, e)| (xs.map(v), ys.map(e)))
                    .collect()
            })
            .collect();
        ScatterChart {
            points,
            x_ticks,
            y_ticks: labelled_ticks(y_dom, 5, &ys, 1),
            log,
            xs,
        }
    }

    /// Where a parameter value is drawn on the x axis.
    pub fn x(&self, v: f64) -> f64 {
        self.xs.map(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame {
        width: 200.0,
        height: 100.0,
        left: 10.0,
        right: 10.0,
        top: 10.0,
        bottom: 10.0,
    };

    #[test]
    fn points_keep_their_order_and_wide_positive_ranges_go_log() {
        let flops = vec![vec![(1e6, 50.0), (4e6, 40.0)], vec![(16e6, 30.0)]];
        let chart = ScatterChart::new(&flops, &FRAME);
        assert!(chart.log);
        let (a, b, c) = (chart.points[0][0], chart.points[0][1], chart.points[1][0]);
        // Equal ratios are equal steps on a log axis; higher error is higher up.
        assert!(((b.0 - a.0) - (c.0 - b.0)).abs() < 1e-9);
        assert!(a.1 < b.1 && b.1 < c.1);
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1M", "2M", "5M", "10M"]);
        let depths = vec![vec![(4.0, 50.0), (12.0, 45.0), (16.0, 40.0)]];
        let chart = ScatterChart::new(&depths, &FRAME);
        assert!(!chart.log, "4..16 spans a factor of 4");
        assert!(chart.x(12.0) > chart.x(4.0));
        // Nothing to draw still gives finite axes.
        let empty = ScatterChart::new(&[vec![(f64::NAN, 1.0)]], &FRAME);
        assert!(empty.points[0].is_empty());
        assert!(empty.x_ticks.iter().all(|t| t.at.is_finite()));
    }
}
