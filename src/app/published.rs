//! The published models side by side (the `/models` route): the pycls model zoo's
//! RegNetX, RegNetY, ResNet, ResNeXt and EfficientNet results as a table and as top-1
//! error against flops (or params, activations, GPU times), one series per family,
//! with our own complexity for every RegNet beside the published one. A RegNet opens
//! in the shape explorer. The view is the URL (`crate::published_view`).

use std::fmt::Write;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use wasm_bindgen::JsCast;

use super::nav::SiteNav;
use super::notices::UrlNotice;
use super::plot::{Axes, MarkGroups};
use super::url_state::{go_to_query, Navigate};
use crate::chart::scatter::ScatterChart;
use crate::chart::svg::{escape, PALETTE};
use crate::chart::Frame;
use crate::design::published::{published, Published, FAMILIES, SOURCE};
use crate::design::Dataset;
use crate::published_view::{from_query, to_query, Axis};
use crate::report::{grouped, human_count};
use crate::site;
use crate::url_params::PageState;

const FRAME: Frame = Frame {
    width: 640.0,
    height: 360.0,
    left: 52.0,
    right: 16.0,
    top: 16.0,
    bottom: 40.0,
};

/// The shape explorer's link for a published RegNet, at ImageNet resolution (where
/// its published complexity was counted).
fn shape_link(home: &str, model: &Published) -> Option<String> {
    let preset = model.preset()?;
    let state = PageState {
        params: preset.params(),
        dataset: Dataset::Imagenet,
        ..Default::default()
    };
    Some(format!("{home}{}", state.query_string()))
}

fn colour(family: &str) -> &'static str {
    let i = FAMILIES.iter().position(|f| *f == family).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

#[component]
pub fn PublishedPage() -> impl IntoView {
    let query = use_query_map();
    let parsed = Memo::new(move |_| query.with(|q| from_query(|k| q.get(k))));
    let x = Memo::new(move |_| parsed.with(|p| p.x));
    let notices = Memo::new(move |_| parsed.with(|p| p.notices.clone()));
    let navigate = StoredValue::new_local(Box::new(use_navigate()) as Navigate);
    let on_x = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Some(next) = Axis::ALL.into_iter().find(|a| a.key() == value) {
            let map: ParamsMap = to_query(next).into_iter().collect();
            navigate.with_value(|go| go_to_query(go, &map, true));
        }
    };
    let home = site::path_of(&super::base(), site::HOME);
    let body = match published() {
        Ok(models) => view! {
            <section class="controls">
                <label>
                    "Top-1 error against "
                    <select data-testid="models-x" prop:value=move || x.get().key() on:change=on_x>
                        {Axis::ALL.map(|a| view! { <option value=a.key()>{a.label()}</option> }).collect_view()}
                    </select>
                </label>
            </section>
            <ErrorPlot models=models.clone() x=x home=home.clone() />
            <ModelTable models=models home=home />
        }
        .into_any(),
        // The table is compiled in and tested, so this is a build gone wrong; said
        // rather than hidden.
        Err(e) => view! { <div class="error" role="alert" data-testid="models-error">{format!("The published table could not be read: {e}")}</div> }
            .into_any(),
    };
    view! {
        <header>
            <SiteNav current=site::MODELS />
            <h1>"The published models side by side"</h1>
            <p class="lede">
                "The paper's comparison: the RegNetX and RegNetY models it published against ResNet, ResNeXt and "
                "EfficientNet, all trained by pycls on ImageNet with the same recipe (100 epochs, 8 V100 GPUs, the mean "
                "of 5 runs). At equal flops the RegNets have lower error, and their activations, which govern GPU "
                "time more than flops do, grow more slowly than EfficientNet's. Beside each RegNet are the flops, "
                "parameters and activations this playground computes for it: they must equal the published ones. "
                "Numbers from "
                <a href=SOURCE>"pycls's model zoo"</a>
                "."
            </p>
        </header>
        <UrlNotice notices=notices />
        <main class="published">{body}</main>
    }
}

/// Top-1 error against the chosen measure, one line per family through its models in
/// order of size; a click (or Enter) on a RegNet's point opens its shape.
#[component]
fn ErrorPlot(models: Vec<Published>, x: Memo<Axis>, home: String) -> impl IntoView {
    let models = StoredValue::new(models);
    let drawn = Memo::new(move |_| {
        let x = x.get();
        models.with_value(|models| {
            // Each family's models, smallest first on this axis.
            let families: Vec<Vec<Published>> = FAMILIES
                .iter()
                .map(|f| {
                    let mut of: Vec<Published> =
                        models.iter().filter(|m| m.family == *f).cloned().collect();
                    of.sort_by(|a, b| x.of(a).total_cmp(&x.of(b)));
                    of
                })
                .collect();
            let series: Vec<Vec<(f64, f64)>> = families
                .iter()
                .map(|of| of.iter().map(|m| (x.of(m), m.top1_err)).collect())
                .collect();
            (ScatterChart::new(&series, &FRAME), families)
        })
    });
    let lines = move || {
        drawn.with(|(chart, _)| {
            chart
                .points
                .iter()
                .zip(FAMILIES)
                .map(|(pts, family)| {
                    let mut d = String::new();
                    for (i, (px, py)) in pts.iter().enumerate() {
                        let _ = write!(d, "{}{px:.1},{py:.1}", if i == 0 { 'M' } else { 'L' });
                    }
                    view! { <path class="family" data-testid="models-series" data-family=family d=d stroke=colour(family) /> }
                })
                .collect_view()
        })
    };
    let home_for_marks = home.clone();
    let points = Memo::new(move |_| {
        let x = x.get();
        drawn.with(|(chart, families)| {
                chart
                    .points
                    .iter()
                    .zip(families)
                    .zip(FAMILIES)
                    .map(|((pts, of), family)| {
                        let mut group = String::new();
                        for ((px, py), m) in pts.iter().zip(of) {
                            let value = match x {
                                Axis::TestTime | Axis::TrainTime => format!("{:.4} s", x.of(m)),
                                _ => human_count(x.of(m) as u64),
                            };
                            let open = shape_link(&home_for_marks, m).map_or(r#"class="point""#.to_string(), |href| {
                                format!(r#"class="point link" tabindex="0" role="link" data-href="{}""#, escape(&href))
                            });
                            let _ = write!(
                                group,
                                r#"<circle data-testid="models-point" data-model="{name}" {open} cx="{px:.1}" cy="{py:.1}" r="4" fill="{}"><title>{name}: {:.2}% top-1 error, {} {value}</title></circle>"#,
                                colour(family),
                                m.top1_err,
                                x.key(),
                                name = escape(&m.model),
                            );
                        }
                        group
                    })
                    .collect()
        })
    });
    // A RegNet's point opens its shape: one listener for every point.
    let open_at = |target: Option<web_sys::EventTarget>| -> Option<String> {
        target?
            .dyn_into::<web_sys::Element>()
            .ok()?
            .closest("circle[data-href]")
            .ok()??
            .get_attribute("data-href")
    };
    let go = |href: String| {
        let _ = window().location().assign(&href);
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(href) = open_at(ev.target()) {
            go(href);
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            if let Some(href) = open_at(ev.target()) {
                go(href);
            }
        }
    };
    let x_label = Signal::derive(move || {
        let x = x.get();
        if drawn.with(|(c, _)| c.log) {
            format!("{} (log scale)", x.label())
        } else {
            x.label().to_string()
        }
    });
    let legend = FAMILIES
        .map(|f| {
            view! { <span class="key"><span class="swatch" style=format!("background:{}", colour(f))></span>{f}</span> }
        })
        .collect_view();
    view! {
        <figure class="plot">
            <svg data-testid="models-plot" viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="group"
                aria-label="Top-1 error of the published models against a measure of their size"
                on:click=on_click on:keydown=on_key>
                <Axes frame=FRAME ticks=Signal::derive(move || drawn.with(|(c, _)| (c.x_ticks.clone(), c.y_ticks.clone())))
                    x_label=x_label y_label="top-1 error (%)" />
                {lines}
                <MarkGroups groups=points />
            </svg>
            <figcaption class="legend">{legend} " Click a RegNet to open its shape."</figcaption>
        </figure>
    }
}

/// Every model's published numbers; for a RegNet, ours beside them.
#[component]
fn ModelTable(models: Vec<Published>, home: String) -> impl IntoView {
    let rows = models
        .into_iter()
        .map(|m| {
            let ours = m.ours();
            let name = match shape_link(&home, &m) {
                Some(href) => view! { <a href=href data-testid="models-open">{m.model.clone()}</a> }.into_any(),
                None => view! { <span>{m.model.clone()}</span> }.into_any(),
            };
            let check = match (&ours, m.agrees()) {
                (_, Some(true)) => view! { <td class="agree">"same"</td> }.into_any(),
                (Some(o), _) => view! {
                    <td class="differs">{format!("differs: {} / {} / {}", grouped(o.flops), grouped(o.params), grouped(o.acts))}</td>
                }
                .into_any(),
                _ => view! { <td class="muted">"(not a RegNet)"</td> }.into_any(),
            };
            let attr = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
            view! {
                <tr data-testid="models-row" data-model=m.model.clone() data-family=m.family.clone()
                    data-flops=m.flops.to_string() data-params=m.params.to_string() data-acts=m.acts.to_string()
                    data-ours-flops=attr(ours.map(|o| o.flops)) data-ours-params=attr(ours.map(|o| o.params))
                    data-ours-acts=attr(ours.map(|o| o.acts))>
                    <th scope="row">{name}</th>
                    <td>{m.family.clone()}</td>
                    <td>{format!("{:.2}", m.top1_err)}</td>
                    <td>{format!("{:.2}", m.top5_err)}</td>
                    <td title=grouped(m.flops)>{human_count(m.flops)}</td>
                    <td title=grouped(m.params)>{human_count(m.params)}</td>
                    <td title=grouped(m.acts)>{human_count(m.acts)}</td>
                    <td>{format!("{:.1}", m.test_time_s * 1e3)}</td>
                    <td>{format!("{:.1}", m.train_time_s * 1e3)}</td>
                    {check}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table data-testid="models-table">
                <caption>"ImageNet, pycls model zoo. Times are for 64 images on one V100 GPU."</caption>
                <thead>
                    <tr>
                        <th scope="col">"model"</th>
                        <th scope="col">"family"</th>
                        <th scope="col">"top-1 err (%)"</th>
                        <th scope="col">"top-5 err (%)"</th>
                        <th scope="col">"flops"</th>
                        <th scope="col">"params"</th>
                        <th scope="col">"acts"</th>
                        <th scope="col">"inference (ms)"</th>
                        <th scope="col">"training step (ms)"</th>
                        <th scope="col">"ours: flops, params, acts"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
