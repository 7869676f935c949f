//! The per-block width figure in the style of the paper: u_j as a line, w_j as
//! steps, on a log2 axis, with stage boundaries. Geometry comes from `crate::chart`.

use leptos::prelude::*;

use crate::chart::{Frame, Tick, WidthChart};
use crate::report::Report;

/// The width figure's frame (the fit page draws the same figure).
pub const FRAME: Frame = Frame {
    width: 640.0,
    height: 300.0,
    left: 52.0,
    right: 16.0,
    top: 16.0,
    bottom: 40.0,
};

#[component]
pub fn WidthPlot(report: Memo<Report>) -> impl IntoView {
    let chart = Memo::new(move |_| {
        report.with(|r| {
            WidthChart::new(
                &r.shape.quantized.block_widths_continuous,
                &r.shape.quantized.block_widths,
                &FRAME,
            )
        })
    });
    let (y0, y1) = FRAME.y_range();
    view! {
        <figure class="plot">
            <svg
                data-testid="width-plot"
                viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height)
                role="img"
                aria-label="Per-block widths: continuous line and quantized steps"
            >
                <Axes
                    frame=FRAME
                    ticks=Signal::derive(move || chart.with(|c| (c.x_ticks.clone(), c.y_ticks.clone())))
                    x_label="block index j"
                    y_label="width (log2 scale)"
                />
                <g class="boundaries">
                    {move || {
                        chart.with(|c| {
                            c.boundaries
                                .iter()
                                .map(|x| view! { <line data-testid="stage-boundary" x1=*x x2=*x y1=y0 y2=y1 /> })
                                .collect_view()
                        })
                    }}
                </g>
                <path class="continuous" d=move || chart.with(|c| c.continuous.clone()) />
                <path class="quantized" data-testid="quantized-path" d=move || chart.with(|c| c.quantized.clone()) />
            </svg>
            <figcaption>
                <span class="key continuous">"u_j = w0 + wa·j (continuous)"</span>
                <span class="key quantized">"w_j (quantized to wm powers, multiple of q)"</span>
                <span class="key boundary">"stage boundary"</span>
            </figcaption>
        </figure>
    }
}

/// A plot's grid, tick labels and axis labels inside `frame`: a horizontal grid line
/// and label per y tick, a label under the axis per x tick (the ticks' pixel
/// positions come from `crate::chart`).
#[component]
pub fn Axes(
    frame: Frame,
    /// (x ticks, y ticks).
    ticks: Signal<(Vec<Tick>, Vec<Tick>)>,
    #[prop(into)] x_label: Signal<String>,
    #[prop(into)] y_label: String,
) -> impl IntoView {
    let (x0, x1) = frame.x_range();
    let (y0, y1) = frame.y_range();
    view! {
        <g class="grid">
            {move || {
                ticks.with(|(_, y)| {
                    y.iter()
                        .map(|t| {
                            view! {
                                <line x1=x0 x2=x1 y1=t.at y2=t.at />
                                <text x=x0 - 6.0 y=t.at + 4.0 text-anchor="end">{t.label.clone()}</text>
                            }
                        })
                        .collect_view()
                })
            }}
            {move || {
                ticks.with(|(x, _)| {
                    x.iter()
                        .map(|t| view! { <text x=t.at y=y0 + 16.0 text-anchor="middle">{t.label.clone()}</text> })
                        .collect_view()
                })
            }}
        </g>
        <text class="axis-label" x=(x0 + x1) / 2.0 y=frame.height - 6.0 text-anchor="middle">{x_label}</text>
        <text class="axis-label" transform=format!("translate(12 {}) rotate(-90)", (y0 + y1) / 2.0) text-anchor="middle">
            {y_label}
        </text>
    }
}

/// Groups of SVG marks given as markup, one `<g>` each, keyed by that markup: a redraw
/// that leaves a group's markup as it was keeps its elements. So a run landing in the
/// explorer rebuilds its own sweep's marks, not the reference's hundreds (the axes'
/// domains hold still within a tick step, see `chart::nice_domain`). Text in the markup
/// must be escaped (`chart::svg::escape`); two non-empty groups are never equal, since
/// each names its sweep.
#[component]
pub fn MarkGroups(groups: Memo<Vec<String>>) -> impl IntoView {
    view! {
        <For
            each=move || groups.get().into_iter().filter(|g| !g.is_empty())
            key=|g| g.clone()
            let(markup)
        >
            <g inner_html=markup />
        </For>
    }
}
