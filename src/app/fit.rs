//! Fit a RegNet to any network (the `/fit` route, paper section 3.3): per-block widths
//! typed, pasted or taken from an example, the rule `design::fit` finds for them, and
//! both width curves on one plot. The view is the URL (`crate::fit_view`).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use super::nav::SiteNav;
use super::notices::UrlNotice;
use super::plot::{Axes, FRAME};
use super::url_state::{go_to_query, Navigate};
use crate::chart::WidthChart;
use crate::design::fit::{format_widths, parse_widths};
use crate::design::{fit, Fit};
use crate::fit_view::{examples, FitState};
use crate::site;

#[component]
pub fn FitPage() -> impl IntoView {
    let query = use_query_map();
    let parsed = Memo::new(move |_| query.with(|q| FitState::from_query(|k| q.get(k))));
    let state = Memo::new(move |_| parsed.with(|p| p.state.clone()));
    let notices = Memo::new(move |_| parsed.with(|p| p.notices.clone()));
    let navigate = StoredValue::new_local(Box::new(use_navigate()) as Navigate);
    let set_state = move |next: FitState| {
        let map: ParamsMap = next.to_query().into_iter().collect();
        navigate.with_value(|go| go_to_query(go, &map, true));
    };
    let result = Memo::new(move |_| state.with(|s| fit(&s.widths, s.q).map_err(|e| e.to_string())));
    let input_error = RwSignal::new(None::<String>);
    let on_widths = move |ev: leptos::ev::Event| match parse_widths(&event_target_value(&ev)) {
        Ok(widths) => {
            input_error.set(None);
            let mut next = state.get_untracked();
            next.widths = widths;
            set_state(next);
        }
        Err(e) => input_error.set(Some(format!("Not fitted: {e}."))),
    };
    let on_q = move |ev: leptos::ev::Event| {
        if let Ok(q) = event_target_value(&ev).trim().parse::<u32>() {
            let mut next = state.get_untracked();
            next.q = q.clamp(1, crate::design::regnet::MAX_Q);
            set_state(next);
        }
    };
    let examples = StoredValue::new(examples());
    let on_example = move |ev: leptos::ev::Event| {
        let name = event_target_value(&ev);
        if let Some(widths) =
            examples.with_value(|ex| ex.iter().find(|(n, _)| *n == name).map(|(_, w)| w.clone()))
        {
            input_error.set(None);
            let mut next = state.get_untracked();
            next.widths = widths;
            set_state(next);
        }
    };
    let home = site::path_of(&super::base(), site::HOME);
    view! {
        <header>
            <SiteNav current=site::FIT />
            <h1>"Fit a RegNet to any network"</h1>
            <p class="lede">
                "Give a network's width block by block. The fit finds the RegNet rule (d, w0, wa, wm) whose quantized "
                "widths come closest, measured as the paper does by e_fit, the mean |ln(fitted / given)| over the blocks: "
                "0 when the rule gives exactly these widths. Any RegNet's own widths fit exactly; the paper (section 3.3) "
                "found that the best models of its AnyNet spaces fit well too."
            </p>
        </header>
        <UrlNotice notices=notices />
        <main class="fit">
            <section class="controls">
                <label>
                    "Per-block widths (block 0 first; a run as WIDTHxCOUNT)"
                    <textarea data-testid="fit-widths" rows="3"
                        prop:value=move || state.with(|s| format_widths(&s.widths))
                        on:change=on_widths></textarea>
                </label>
                <Show when=move || input_error.with(Option::is_some)>
                    <div class="error" role="alert" data-testid="fit-input-error">{move || input_error.get()}</div>
                </Show>
                <label>
                    "or take a network's "
                    <select data-testid="fit-example" on:change=on_example>
                        <option value="">"(choose one)"</option>
                        {examples.with_value(|ex| ex.iter().map(|(n, _)| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view())}
                    </select>
                </label>
                <label>
                    "quantum q "
                    <input type="number" min="1" max="256" data-testid="fit-q"
                        prop:value=move || state.with(|s| s.q.to_string()) on:change=on_q />
                </label>
            </section>
            <section class="results">
                {move || match result.get() {
                    Err(e) => view! { <div class="error" role="alert" data-testid="fit-error">{e}</div> }.into_any(),
                    Ok(f) => view! {
                        <FitResult fit=f.clone() home=home.clone() />
                        <FitPlot fit=f given=state.with(|s| s.widths.clone()) />
                    }.into_any(),
                }}
            </section>
        </main>
    }
}

#[component]
fn FitResult(fit: Fit, home: String) -> impl IntoView {
    let verdict = if fit.e_fit == 0.0 {
        "exact: the rule gives these widths".to_string()
    } else {
        format!("e_fit = {:.4}", fit.e_fit)
    };
    let open = format!(
        "{home}?d={}&w0={}&wa={}&wm={}&q={}",
        fit.d, fit.w0, fit.wa, fit.wm, fit.q
    );
    view! {
        <p class="fit-result" data-testid="fit-result" data-d=fit.d.to_string() data-w0=fit.w0.to_string()
            data-wa=fit.wa.to_string() data-wm=fit.wm.to_string() data-efit=fit.e_fit.to_string()>
            <strong>{format!("d = {}, w0 = {}, wa = {}, wm = {}", fit.d, fit.w0, fit.wa, fit.wm)}</strong>
            {format!(" ({verdict})")}
        </p>
        <p><a href=open data-testid="fit-open">"Open the fitted RegNet in the shape explorer"</a></p>
    }
}

/// The given widths as points, the fitted rule's quantized steps and its line.
#[component]
fn FitPlot(fit: Fit, given: Vec<u32>) -> impl IntoView {
    let chart = WidthChart::fitted(&fit.continuous, &fit.block_widths, &given, &FRAME);
    let points = chart
        .given
        .iter()
        .zip(&given)
        .enumerate()
        .map(|(j, ((x, y), w))| {
            view! {
                <circle class="given" data-testid="fit-given" cx=format!("{x:.1}") cy=format!("{y:.1}") r="3.5">
                    <title>{format!("block {j}: given {w}, fitted {}", fit.block_widths[j])}</title>
                </circle>
            }
        })
        .collect_view();
    view! {
        <figure class="plot">
            <svg data-testid="fit-plot" viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="img"
                aria-label="Given per-block widths and the fitted rule">
                <Axes frame=FRAME ticks=Signal::stored((chart.x_ticks.clone(), chart.y_ticks.clone()))
                    x_label="block index j" y_label="width (log2 scale)" />
                <path class="continuous" d=chart.continuous.clone() />
                <path class="quantized" data-testid="fit-quantized" d=chart.quantized.clone() />
                {points}
            </svg>
            <figcaption>
                <span class="key given">"given widths"</span>
                <span class="key quantized">"fitted w_j (quantized)"</span>
                <span class="key continuous">"fitted u_j = w0 + wa·j"</span>
            </figcaption>
        </figure>
    }
}
