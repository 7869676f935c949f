//! Error against one parameter of the shown sweeps (d, w0, wa, wm, g for RegNets; each
//! stage's depth and width, b and g for AnyNets; flops and params for all), with each
//! sweep's good range from pycls's bootstrap shaded and its median marked: where in a
//! space the good models are.

use std::fmt::Write;

use leptos::prelude::*;

use super::cache::PerSweep;
use super::FRAME;
use crate::app::plot::{Axes, MarkGroups};
use crate::chart::scatter::ScatterChart;
use crate::chart::svg::{escape, PALETTE};
use crate::stats::GoodRange;
use crate::sweep::Sweep;

/// Bootstrap samples per good range: pycls's `analysis` default (seeded here, so the
/// band does not move between renders).
const RESAMPLES: usize = 2_500;

/// The parameters any shown sweep carries, in a stable order: complexity first.
pub fn parameters(sweeps: &[Sweep]) -> Vec<String> {
    let mut names = vec!["flops".to_string(), "params".to_string()];
    for sweep in sweeps {
        for model in sweep.models.iter().take(1) {
            for (name, _) in &model.values {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

/// A model's value of `param` (flops and params from its complexity).
fn value(model: &crate::sweep::SweepModel, param: &str) -> Option<f64> {
    match param {
        "flops" => Some(model.flops as f64),
        "params" => Some(model.params as f64),
        _ => model
            .values
            .iter()
            .find(|(n, _)| n == param)
            .map(|(_, v)| *v),
    }
}

/// The good range of `param` in `sweep` (flops and params included).
fn good_range(sweep: &Sweep, param: &str) -> Option<GoodRange> {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let errors = sweep.errors();
    let best = crate::stats::best_of_resamples(&errors, RESAMPLES, 0.25, &mut rng).ok()?;
    let values: Option<Vec<f64>> = sweep.models.iter().map(|m| value(m, param)).collect();
    crate::stats::good_range(&values?, &best).ok()
}

#[component]
pub fn ParamPlot(
    sweeps: Memo<Vec<Sweep>>,
    colours: Signal<Vec<&'static str>>,
    param: Memo<String>,
    on_param: Callback<String>,
) -> impl IntoView {
    let names = Memo::new(move |_| sweeps.with(|s| parameters(s)));
    let ranges = StoredValue::new_local(PerSweep::<Option<GoodRange>>::new());
    let drawn = Memo::new(move |_| {
        let p = param.get();
        sweeps.with(|sweeps| {
            let series: Vec<Vec<(f64, f64)>> = sweeps
                .iter()
                .map(|s| {
                    s.models
                        .iter()
                        .filter_map(|m| Some((value(m, &p)?, m.error)))
                        .collect()
                })
                .collect();
            let ranges: Vec<Option<GoodRange>> = ranges.with_value(|cache| {
                sweeps
                    .iter()
                    .map(|s| cache.get(s, &p, |s| good_range(s, &p)))
                    .collect()
            });
            let labels: Vec<String> = sweeps.iter().map(|s| s.name.clone()).collect();
            (ScatterChart::new(&series, &FRAME), ranges, labels)
        })
    });
    let colour = move |i: usize| colours.with(|c| c.get(i).copied().unwrap_or(PALETTE[0]));
    let x_label = Signal::derive(move || {
        let p = param.get();
        if drawn.with(|(c, _, _)| c.log) {
            format!("{p} (log scale)")
        } else {
            p
        }
    });
    let bands = move || {
        drawn.with(|(chart, ranges, labels)| {
            let (bottom, top) = FRAME.y_range();
            ranges.iter().enumerate().filter_map(|(i, r)| {
                let r = (*r)?;
                let (x0, x1, xm) = (chart.x(r.low), chart.x(r.high), chart.x(r.median));
                Some(view! {
                    <rect class="good-range" data-testid="good-range" data-name=labels[i].clone()
                        data-low=format!("{}", r.low) data-high=format!("{}", r.high)
                        x=format!("{:.1}", x0.min(x1)) y=format!("{top:.1}") width=format!("{:.1}", (x1 - x0).abs().max(1.0))
                        height=format!("{:.1}", bottom - top) fill=colour(i)>
                        <title>{format!("{}: good range {:.3} to {:.3}, median {:.3}", labels[i], r.low, r.high, r.median)}</title>
                    </rect>
                    <line class="good-median" x1=format!("{xm:.1}") x2=format!("{xm:.1}") y1=format!("{top:.1}") y2=format!("{bottom:.1}") stroke=colour(i) />
                })
            }).collect_view()
        })
    };
    // Each sweep's dots as one group of markup, so a landing run redraws its own only.
    let points = Memo::new(move |_| {
        drawn.with(|(chart, _, labels)| {
            chart
                .points
                .iter()
                .zip(labels)
                .enumerate()
                .map(|(i, (pts, name))| {
                    let mut group = format!("<title>{}</title>", escape(name));
                    for (x, y) in pts {
                        let _ = write!(
                            group,
                            r#"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#,
                            colour(i)
                        );
                    }
                    group
                })
                .collect()
        })
    });
    view! {
        <figure class="plot" data-testid="param-plot">
            <label class="param">
                "Error against "
                <select data-testid="param-select" prop:value=move || param.get()
                    on:change=move |ev| on_param.run(event_target_value(&ev))>
                    {move || names.get().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
            <svg viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="img" aria-label="Error against a parameter">
                <Axes frame=FRAME ticks=Signal::derive(move || drawn.with(|(c, _, _)| (c.x_ticks.clone(), c.y_ticks.clone())))
                    x_label=x_label y_label="error (%)" />
                {bands}
                <MarkGroups groups=points />
            </svg>
            <figcaption>
                "Each dot is a trained model. The shaded band is the sweep's good range (pycls's bootstrap: the best model of each of 2,500 random quarters of the sweep; the band holds the middle 95% of their values) and the line its median."
            </figcaption>
        </figure>
    }
}
