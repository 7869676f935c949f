//! Standalone SVG documents for the CLI's reports (`regnet analyze --svg`), drawn from
//! the same geometry as the page's plots: crisp at any size, readable without the page.

use std::fmt::Write;

use super::{labelled_ticks, EdfChart, Frame, Scale, SearchChart, Tick};
use crate::stats::{Edf, GoodRange, SearchPoint};

/// Series colours, in order (colour-blind safe: Okabe and Ito).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
];

const FRAME: Frame = Frame {
    width: 640.0,
    height: 400.0,
    left: 56.0,
    right: 16.0,
    top: 36.0,
    bottom: 48.0,
};

/// Text made safe inside SVG or HTML markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The frame, ticks, axis labels and title every plot shares.
fn axes(out: &mut String, title: &str, x_label: &str, y_label: &str, x: &[Tick], y: &[Tick]) {
    let f = FRAME;
    let (x0, x1) = f.x_range();
    let (y0, y1) = f.y_range();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#,
        w = f.width,
        h = f.height
    );
    let _ = write!(
        out,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="{}" y="22" font-size="14" font-weight="bold">{}</text>"##,
        x0,
        escape(title)
    );
    let _ = write!(
        out,
        r##"<path d="M{x0},{y1}V{y0}H{x1}" fill="none" stroke="#333"/>"##
    );
    for t in x {
        let _ = write!(
            out,
            r##"<path d="M{at:.1},{y0}v5" stroke="#333"/><text x="{at:.1}" y="{ty}" text-anchor="middle">{}</text>"##,
            escape(&t.label),
            at = t.at,
            ty = y0 + 18.0
        );
    }
    for t in y {
        let _ = write!(
            out,
            r##"<path d="M{x0},{at:.1}h-5" stroke="#333"/><path d="M{x0},{at:.1}H{x1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"##,
            escape(&t.label),
            at = t.at,
            tx = x0 - 8.0,
            ty = t.at + 4.0
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text><text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        f.height - 8.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// Error EDFs of named sweeps, pycls's style: legend entries "name n|min|mean".
pub fn edf_plot(title: &str, x_label: &str, series: &[(&str, &Edf)]) -> String {
    let edfs: Vec<&Edf> = series.iter().map(|(_, e)| *e).collect();
    let chart = EdfChart::new(&edfs, None, &FRAME);
    let mut out = String::new();
    axes(
        &mut out,
        title,
        x_label,
        "cumulative prob.",
        &chart.x_ticks,
        &chart.y_ticks,
    );
    let (x0, _) = FRAME.x_range();
    for (i, ((name, edf), path)) in series.iter().zip(&chart.paths).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>"#
        );
        let y = FRAME.top + 12.0 + 16.0 * i as f64;
        let _ = write!(
            out,
            r#"<path d="M{lx},{ly:.1}h18" stroke="{colour}" stroke-width="3"/><text x="{tx}" y="{ty:.1}" font-family="monospace">{} {}</text>"#,
            escape(name),
            escape(&edf.legend()),
            lx = x0 + 12.0,
            ly = y,
            tx = x0 + 36.0,
            ty = y + 4.0
        );
    }
    out + "</svg>\n"
}

/// The random-search efficiency of named sweeps (NDS figure): the expected best error
/// of k random models against k, mean +- 2 sd shaded, one colour per sweep.
pub fn search_plot(title: &str, series: &[(&str, &[SearchPoint])]) -> String {
    let curves: Vec<&[SearchPoint]> = series.iter().map(|(_, c)| *c).collect();
    let chart = SearchChart::new(&curves, &FRAME);
    let mut out = String::new();
    axes(
        &mut out,
        title,
        "models tried (k)",
        "best error of k",
        &chart.x_ticks,
        &chart.y_ticks,
    );
    let (_, x1) = FRAME.x_range();
    for (i, (name, _)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            r#"<path d="{}" fill="{colour}" fill-opacity="0.12" stroke="none"/><path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            chart.bands[i], chart.lines[i]
        );
        let y = FRAME.top + 12.0 + 16.0 * i as f64;
        let _ = write!(
            out,
            r#"<path d="M{lx},{ly:.1}h18" stroke="{colour}" stroke-width="3"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"#,
            escape(name),
            lx = x1 - 30.0,
            ly = y,
            tx = x1 - 36.0,
            ty = y + 4.0
        );
    }
    out + "</svg>\n"
}

/// Error against one parameter: a dot per model, the good range shaded and its median
/// drawn as a line labelled "best: v", as pycls's `plot_values`.
pub fn values_plot(
    title: &str,
    name: &str,
    points: &[(f64, f64)],
    good: Option<GoodRange>,
) -> String {
    let span = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = ((hi - lo) * 0.05).max(1e-9);
        (lo - pad, hi + pad)
    };
    let x_dom = span(&mut points.iter().map(|p| p.0));
    let y_dom = span(&mut points.iter().map(|p| p.1));
    let xs = Scale::linear(x_dom, FRAME.x_range());
    let ys = Scale::linear(y_dom, FRAME.y_range());
    let mut out = String::new();
    let x_ticks = labelled_ticks(x_dom, 6, &xs, 3);
    let y_ticks = labelled_ticks(y_dom, 6, &ys, 3);
    axes(&mut out, title, name, "error", &x_ticks, &y_ticks);
    let (y0, y1) = FRAME.y_range();
    if let Some(g) = good {
        let (a, b) = (xs.map(g.low), xs.map(g.high));
        let m = xs.map(g.median);
        let _ = write!(
            out,
            r##"<rect x="{a:.1}" y="{y1}" width="{w:.1}" height="{h}" fill="#0072B2" fill-opacity="0.12"/><path d="M{m:.1},{y1}V{y0}" stroke="#0072B2" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" fill="#0072B2">best: {}</text>"##,
            g.median,
            w = (b - a).max(1.0),
            h = y0 - y1,
            tx = m + 4.0,
            ty = y1 + 14.0
        );
    }
    for (x, y) in points {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#D55E00" fill-opacity="0.7"/>"##,
            xs.map(*x),
            ys.map(*y)
        );
    }
    out + "</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_plots_draw_a_line_and_a_closed_band_per_sweep() {
        let p = |k, mean, sd| SearchPoint { k, mean, sd };
        let a = [p(1, 40.0, 5.0), p(2, 35.0, 4.0), p(4, 31.0, 2.0)];
        let b = [p(1, 45.0, 6.0), p(2, 41.0, 3.0), p(4, 38.0, 1.0)];
        let svg = search_plot("search", &[("a", &a[..]), ("b", &b[..])]);
        assert_eq!(svg.matches("fill-opacity=\"0.12\"").count(), 2);
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        let chart = SearchChart::new(&[&a[..]], &FRAME);
        // k = 1, 2, 4 sit evenly on the log2 axis, from the left edge to the right.
        let xs: Vec<f64> = chart.lines[0]
            .split(['M', 'L'])
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').next().unwrap().parse().unwrap())
            .collect();
        let (x0, x1) = FRAME.x_range();
        assert_eq!(xs, [x0, (x0 + x1) / 2.0, x1]);
        assert!(chart.bands[0].ends_with('Z'));
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "4"]);
    }

    #[test]
    fn edf_plots_draw_one_step_path_and_legend_per_sweep() {
        let a = Edf::new(&[10.0, 20.0, 30.0]).unwrap();
        let b = Edf::new(&[15.0, 25.0]).unwrap();
        let svg = edf_plot("EDF <a & b>", "error", &[("a", &a), ("b", &b)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        assert!(svg.contains("a   3|10.0|20.0"));
        assert!(svg.contains("EDF &lt;a &amp; b&gt;"));
    }

    #[test]
    fn values_plots_shade_the_good_range() {
        let good = GoodRange {
            low: 2.0,
            median: 3.0,
            high: 4.0,
        };
        let svg = values_plot(
            "d",
            "d",
            &[(1.0, 30.0), (3.0, 10.0), (5.0, 20.0)],
            Some(good),
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("best: 3"));
    }
}
