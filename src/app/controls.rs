//! Parameter controls (one component per table entry), presets and the link button.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::url_state::use_url_state;
use crate::design::{Dataset, Preset, PRESETS, REFERENCE_MODELS};
use crate::url_params::{slider, PageState, ParamDef, DATA, MODEL, SE};

/// Every control of the parameter table, presets first, advanced ones folded away.
#[component]
pub fn Controls() -> impl IntoView {
    let url = use_url_state();
    let (exercise, _) = url.exercise.get_untracked();
    let sliders = |advanced: bool| {
        MODEL
            .iter()
            .filter(|d| d.advanced == advanced && d.is_slider() && !exercise.hides(d.key))
            .map(|def| view! { <ParamSlider def=*def locked=exercise.locks(def.key) /> })
            .collect_view()
    };
    // A preset sets every parameter, so an exercise that locks any hides the menu.
    let presets = !exercise.hides("preset") && exercise.lock.is_empty();
    let any_advanced = MODEL
        .iter()
        .any(|d| d.advanced && d.is_slider() && !exercise.hides(d.key));
    let (basic, advanced) = (sliders(false), sliders(true));
    view! {
        {presets.then(|| view! { <PresetMenu /> })}
        <Toggles />
        {basic}
        {any_advanced.then(|| view! {
            <details class="advanced">
                <summary>"advanced"</summary>
                {advanced}
            </details>
        })}
    }
}

/// A slider with a number box beside it and the parameter's one-sentence meaning;
/// `locked` (by an exercise link) shows both but fixed.
#[component]
fn ParamSlider(def: ParamDef, locked: bool) -> impl IntoView {
    let url = use_url_state();
    let state = url.state;
    let key = def.key;
    let value = move || state.with(|s| s.get(key));
    let bounds = Memo::new(move |_| state.with(|s| slider(&def, s)));
    view! {
        <div class="param" class:locked=locked>
            <label for=format!("slider-{key}")>
                <span>{def.label} {locked.then_some(" (locked by this exercise)")}</span>
                <input
                    type="number"
                    data-testid=format!("param-{key}-number")
                    aria-label=def.label
                    min=move || bounds.get().0
                    max=move || bounds.get().1
                    step="any"
                    disabled=locked
                    prop:value=value
                    on:change=move |ev| url.set(vec![(key, event_target_value(&ev))], false)
                />
            </label>
            <input
                type="range"
                id=format!("slider-{key}")
                data-testid=format!("param-{key}")
                min=move || bounds.get().0
                max=move || bounds.get().1
                step=move || bounds.get().2
                disabled=locked
                prop:value=value
                on:input=move |ev| url.set(vec![(key, event_target_value(&ev))], false)
            />
            <p class="help">{def.help}</p>
        </div>
    }
}

/// The 24 published models and the CIFAR-10 reference models (choosing one of those
/// also switches the dataset to CIFAR-10); "custom" when the sliders match none.
#[component]
fn PresetMenu() -> impl IntoView {
    let url = use_url_state();
    let state = url.state;
    let current = move || state.with(|s| Preset::matching(&s.params).map_or("custom", |p| p.name));
    view! {
        <label class="preset">
            "preset "
            <select
                data-testid="preset"
                prop:value=current
                on:change=move |ev| {
                    if let Ok(p) = Preset::find(&event_target_value(&ev)) {
                        let mut s = PageState { params: p.params(), ..state.get_untracked() };
                        if REFERENCE_MODELS.iter().any(|r| r.name == p.name) {
                            s.dataset = Dataset::Cifar10;
                        }
                        url.set(s.to_query(), true);
                    }
                }
            >
                <option value="custom">"custom"</option>
                <optgroup label="published (pycls model zoo)">
                    {options(&PRESETS)}
                </optgroup>
                <optgroup label="CIFAR-10 reference models">
                    {options(&REFERENCE_MODELS)}
                </optgroup>
            </select>
        </label>
    }
}

fn options(presets: &'static [Preset]) -> impl IntoView {
    presets
        .iter()
        .map(|p| view! { <option value=p.name>{p.name}</option> })
        .collect_view()
}

/// X/Y (squeeze-excitation) and the dataset the stages are placed in.
#[component]
fn Toggles() -> impl IntoView {
    let url = use_url_state();
    let state = url.state;
    let se = move || state.with(|s| s.params.se);
    let dataset = move || state.with(|s| s.dataset);
    let (exercise, _) = url.exercise.get_untracked();
    let (se_locked, data_locked) = (exercise.locks(SE.key), exercise.locks(DATA.key));
    let block = (!exercise.hides(SE.key)).then(|| view! {
        <div class="segmented" role="group" aria-label="block type">
            <button data-testid="block-x" class:on=move || !se() disabled=se_locked on:click=move |_| url.set(vec![(SE.key, "0".into())], false)>
                "RegNetX"
            </button>
            <button data-testid="block-y" class:on=se disabled=se_locked on:click=move |_| url.set(vec![(SE.key, "1".into())], false)>
                "RegNetY (+SE)"
            </button>
        </div>
        <p class="help">{SE.help}</p>
    });
    let datasets = (!exercise.hides(DATA.key)).then(|| view! {
            <div class="segmented" role="group" aria-label="dataset">
                {Dataset::ALL
                    .map(|d| {
                        view! {
                            <button
                                data-testid=format!("dataset-{}", d.key())
                                class:on=move || dataset() == d
                                disabled=data_locked
                                on:click=move |_| url.set(vec![(DATA.key, d.key().into())], false)
                            >
                                {d.label()}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <p class="help">{DATA.help}</p>
    });
    view! { <div class="toggles">{block} {datasets}</div> }
}

/// Copies the page's URL, which holds every parameter.
#[component]
pub fn CopyLink() -> impl IntoView {
    let (status, set_status) = signal(String::new());
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let href = window.location().href().unwrap_or_default();
        let promise = window.navigator().clipboard().write_text(&href);
        leptos::task::spawn_local(async move {
            match JsFuture::from(promise).await {
                Ok(_) => set_status.set("Link copied: it reproduces this view.".into()),
                Err(_) => set_status.set(format!(
                    "Could not reach the clipboard; copy this link: {href}"
                )),
            }
        });
    };
    view! {
        <div class="copy">
            <button data-testid="copy-link" on:click=copy>"Copy link"</button>
            <span class="muted" data-testid="copy-status" role="status">{status}</span>
        </div>
    }
}
