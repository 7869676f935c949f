//! Live training curves: loss per step and test error per epoch, over the whole
//! run's length so the line grows into its axes; the previous run drawn faintly.

use leptos::prelude::*;

use super::client::Training;
use crate::chart::{CurveChart, Frame};
use crate::run::session::Curves;

const FRAME: Frame = Frame {
    width: 360.0,
    height: 200.0,
    left: 44.0,
    right: 10.0,
    top: 12.0,
    bottom: 34.0,
};

/// Which series of a run a figure draws.
#[derive(Clone, Copy)]
enum Series {
    Loss,
    TestError,
}

impl Series {
    fn of(self, c: &Curves) -> &[(f64, f64)] {
        match self {
            Series::Loss => &c.loss,
            Series::TestError => &c.test_error,
        }
    }
}

#[component]
pub fn TrainingCurves(training: Training, epochs: Signal<u32>) -> impl IntoView {
    view! {
        <div class="curves">
            <Figure training epochs series=Series::Loss title="training loss" testid="loss-curve" />
            <Figure training epochs series=Series::TestError title="test error (top-1)" testid="error-curve" />
        </div>
    }
}

#[component]
fn Figure(
    training: Training,
    epochs: Signal<u32>,
    series: Series,
    title: &'static str,
    testid: &'static str,
) -> impl IntoView {
    // Test error lives in [0, 1]; the loss axis fits both runs' points.
    let y_domain = move || match series {
        Series::TestError => Some((0.0, 1.0)),
        Series::Loss => {
            let top = |c: &Curves| series.of(c).iter().fold(0.0f64, |m, p| m.max(p.1));
            let hi = training
                .curves
                .with(top)
                .max(training.previous.with(|p| p.as_ref().map_or(0.0, top)));
            Some((
                0.0,
                if hi > 0.0 && hi.is_finite() {
                    hi * 1.05
                } else {
                    2.5
                },
            ))
        }
    };
    let x_max = move || {
        let runs = training.previous.with(|p| {
            p.as_ref()
                .and_then(|c| c.loss.last().map(|l| l.0))
                .unwrap_or(0.0)
        });
        f64::from(epochs.get().max(1)).max(runs)
    };
    let chart = Memo::new(move |_| {
        let (x, y) = (x_max(), y_domain());
        training
            .curves
            .with(|c| CurveChart::new(series.of(c), x, y, &FRAME))
    });
    let previous = Memo::new(move |_| {
        let (x, y) = (x_max(), y_domain());
        training.previous.with(|p| {
            p.as_ref()
                .map(|c| CurveChart::new(series.of(c), x, y, &FRAME).path)
        })
    });
    let (x0, x1) = FRAME.x_range();
    let (y0, _) = FRAME.y_range();
    let dots = matches!(series, Series::TestError);
    view! {
        <figure class="plot curve">
            <svg data-testid=testid viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="img" aria-label=title>
                <g class="grid">
                    {move || chart.with(|c| c.y_ticks.iter().map(|t| view! {
                        <line x1=x0 x2=x1 y1=t.at y2=t.at />
                        <text x=x0 - 5.0 y=t.at + 4.0 text-anchor="end">{t.label.clone()}</text>
                    }).collect_view())}
                    {move || chart.with(|c| c.x_ticks.iter().map(|t| view! {
                        <text x=t.at y=y0 + 14.0 text-anchor="middle">{t.label.clone()}</text>
                    }).collect_view())}
                </g>
                <path class="previous" d=move || previous.get().unwrap_or_default() />
                <path class="live" d=move || chart.with(|c| c.path.clone()) />
                {move || dots.then(|| chart.with(|c| c.points.iter().map(|(x, y)| view! {
                    <circle class="live" cx=*x cy=*y r="3" />
                }).collect_view()))}
                <text class="axis-label" x=(x0 + x1) / 2.0 y=FRAME.height - 4.0 text-anchor="middle">"epoch"</text>
            </svg>
            <figcaption>
                <span class="key live">{title}</span>
                {move || training.previous.with(|p| p.as_ref().map(|c| view! {
                    <span class="key previous">{format!("previous run: {}", c.label)}</span>
                }))}
            </figcaption>
        </figure>
    }
}
