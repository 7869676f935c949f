//! One model of a shown sweep, opened from its EDF mark (`pick` in the URL): what it
//! is, its error and complexity, its training curves where the file has them, and, for a
//! RegNet a sweep drew, a link that opens it in the shape explorer.

use leptos::prelude::*;

use super::super::plot::Axes;
use crate::chart::{integer_ticks, CurveChart, Frame, Tick};
use crate::explore::Pick;
use crate::run::{EpochPoint, RunCurves};
use crate::site;
use crate::sweep::{Sweep, SweepModel};

const FRAME: Frame = Frame {
    width: 300.0,
    height: 170.0,
    left: 44.0,
    right: 10.0,
    top: 12.0,
    bottom: 34.0,
};

#[component]
pub fn ModelDetail(
    sweeps: Memo<Vec<Sweep>>,
    pick: Memo<Option<Pick>>,
    colours: Signal<Vec<&'static str>>,
    on_close: Callback<()>,
) -> impl IntoView {
    let found = Memo::new(move |_| {
        let pick = pick.get()?;
        sweeps.with(|sweeps| {
            let (i, sweep) = sweeps
                .iter()
                .enumerate()
                .find(|(_, s)| s.name == pick.sweep)?;
            Some((i, sweep.model(pick.id)?.clone()))
        })
    });
    let home = site::path_of(&super::super::base(), site::HOME);
    move || {
        let pick = pick.get()?;
        let Some((i, model)) = found.get() else {
            return Some(
                view! {
                    <p class="notice" data-testid="model-missing">
                        {format!("Model {} of {} is not among the shown sweeps.", pick.id, pick.sweep)}
                        " " <button on:click=move |_| on_close.run(())>"Close"</button>
                    </p>
                }
                .into_any(),
            );
        };
        let colour = colours.with(|c| c.get(i).copied().unwrap_or("currentColor"));
        let shape = model.shape.as_ref().map(|q| {
            view! { <a href=format!("{home}?{q}") data-testid="model-shape-link">"Open its shape in the shape explorer"</a> }
        });
        let curves = match &model.curves {
            Some(c) if !c.test_error.is_empty() || !c.train_loss.is_empty() => {
                view! { <Curves curves=c.clone() colour /> }.into_any()
            }
            _ => view! { <p>"The file has no per-epoch curves for this model."</p> }.into_any(),
        };
        Some(
            view! {
                <section class="model-detail" data-testid="model-detail" aria-label="the chosen model">
                    <header>
                        <h3><span class="swatch" style=format!("background:{colour}")></span>
                            {format!("{}, model {}", pick.sweep, pick.id)}</h3>
                        <button class="close" data-testid="model-close" title="close" on:click=move |_| on_close.run(())>"×"</button>
                    </header>
                    <Facts model=model.clone() />
                    {shape}
                    {curves}
                </section>
            }
            .into_any(),
        )
    }
}

/// Its error, complexity and drawn values, as a definition list.
#[component]
fn Facts(model: SweepModel) -> impl IntoView {
    let mut rows = vec![
        ("error".to_string(), format!("{:.2}%", model.error)),
        (
            "flops".to_string(),
            format!("{:.2} M", model.flops as f64 / 1e6),
        ),
        (
            "params".to_string(),
            format!("{:.3} M", model.params as f64 / 1e6),
        ),
    ];
    if model.acts > 0 {
        rows.push(("acts".into(), format!("{:.3} M", model.acts as f64 / 1e6)));
    }
    rows.extend(
        model
            .values
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v}"))),
    );
    view! {
        <dl class="facts" data-testid="model-facts">
            {rows.into_iter().map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
        </dl>
    }
}

/// Training loss and test error by epoch, side by side.
#[component]
fn Curves(curves: RunCurves, colour: &'static str) -> impl IntoView {
    let epochs = curves
        .train_loss
        .iter()
        .chain(&curves.test_error)
        .map(|p| p.epoch)
        .max()
        .unwrap_or(1);
    view! {
        <div class="curves">
            <Curve points=curves.train_loss.clone() epochs percent=false title="training loss" colour />
            <Curve points=curves.test_error.clone() epochs percent=true title="test error (%)" colour />
        </div>
    }
}

#[component]
fn Curve(
    points: Vec<EpochPoint>,
    epochs: u32,
    /// Values are fractions drawn as percent.
    percent: bool,
    title: &'static str,
    colour: &'static str,
) -> impl IntoView {
    let scale = if percent { 100.0 } else { 1.0 };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (f64::from(p.epoch), p.value * scale))
        .collect();
    let mut chart = CurveChart::new(&xy, f64::from(epochs), None, &FRAME);
    // Epochs are whole: no tick between them.
    let (x0, x1) = FRAME.x_range();
    chart.x_ticks = integer_ticks(f64::from(epochs), 6)
        .into_iter()
        .map(|e| Tick {
            at: x0 + (x1 - x0) * e / f64::from(epochs.max(1)),
            label: format!("{e}"),
        })
        .collect();
    let dots = chart
        .points
        .iter()
        .zip(&points)
        .map(|((x, y), p)| {
            view! {
                <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="3" fill=colour>
                    <title>{format!("epoch {}: {:.3}", p.epoch, p.value * scale)}</title>
                </circle>
            }
        })
        .collect_view();
    view! {
        <figure class="plot curve">
            <svg data-testid="model-curve" data-points=points.len().to_string()
                viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="img" aria-label=title>
                <Axes frame=FRAME ticks=Signal::stored((chart.x_ticks.clone(), chart.y_ticks.clone())) x_label="epoch" y_label="" />
                <path class="line" d=chart.path.clone() stroke=colour />
                {dots}
            </svg>
            <figcaption>{title}</figcaption>
        </figure>
    }
}
