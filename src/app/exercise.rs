//! "Share this as an exercise": writes a shape-explorer link that hides controls, locks
//! parameters at their current values and asks a question (`crate::exercise`), for a
//! teacher to hand out; and the question such a link asks, shown above the controls.

use leptos::prelude::*;

use super::url_state::use_url_state;
use crate::exercise::{hideable, lockable, Exercise, MAX_ASK};

/// The link's question, if it asks one.
#[component]
pub fn ExerciseAsk() -> impl IntoView {
    let url = use_url_state();
    move || {
        url.exercise.with(|(e, _)| e.ask.clone()).map(|ask| {
            view! { <p class="exercise-ask" data-testid="exercise-ask" role="note"><strong>"Exercise: "</strong>{ask}</p> }
        })
    }
}

#[component]
pub fn ExerciseBuilder() -> impl IntoView {
    let url = use_url_state();
    let (start, _) = url.exercise.get_untracked();
    let hide = RwSignal::new(start.hide.clone());
    let lock = RwSignal::new(start.lock.clone());
    let ask = RwSignal::new(start.ask.clone().unwrap_or_default());
    // The link: this view's parameters, then the exercise's keys.
    let link = Memo::new(move |_| {
        let exercise = Exercise {
            hide: hideable()
                .filter(|k| hide.with(|h| h.contains(k)))
                .collect(),
            lock: lockable()
                .filter(|k| lock.with(|l| l.contains(k)))
                .collect(),
            ask: ask
                .with(|a| (!a.trim().is_empty()).then(|| a.trim().chars().take(MAX_ASK).collect())),
        };
        let query: Vec<String> = url
            .state
            .get()
            .to_query()
            .into_iter()
            .chain(exercise.to_query())
            .map(|(k, v)| format!("{k}={}", String::from(js_sys::encode_uri_component(&v))))
            .collect();
        let location = window().location();
        format!(
            "{}{}?{}",
            location.origin().unwrap_or_default(),
            location.pathname().unwrap_or_default(),
            query.join("&")
        )
    });
    let toggle = |list: RwSignal<Vec<&'static str>>, key: &'static str| {
        move |ev: leptos::ev::Event| {
            let on = event_target_checked(&ev);
            list.update(|l| {
                l.retain(|k| *k != key);
                if on {
                    l.push(key);
                }
            });
        }
    };
    let rows = hideable()
        .map(|key| {
            let lockable = lockable().any(|k| k == key);
            view! {
                <tr>
                    <th scope="row">{key}</th>
                    <td><input type="checkbox" data-testid=format!("exercise-hide-{key}") aria-label=format!("hide {key}")
                        prop:checked=move || hide.with(|h| h.contains(&key)) on:change=toggle(hide, key) /></td>
                    <td>{lockable.then(|| view! {
                        <input type="checkbox" data-testid=format!("exercise-lock-{key}") aria-label=format!("lock {key}")
                            prop:checked=move || lock.with(|l| l.contains(&key)) on:change=toggle(lock, key) />
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <details class="exercise-builder" data-testid="exercise-builder">
            <summary>"Share this as an exercise"</summary>
            <p class="help">
                "A link to this view for students: hidden controls are left out, locked ones stay at this view's values, "
                "and the question shows above the controls."
            </p>
            <table>
                <thead><tr><th>"control"</th><th>"hide"</th><th>"lock"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <label>
                "Question"
                <textarea data-testid="exercise-ask-input" rows="2" maxlength=MAX_ASK.to_string()
                    placeholder="Only move wm: what happens to the stages?"
                    prop:value=move || ask.get() on:input=move |ev| ask.set(event_target_value(&ev))></textarea>
            </label>
            <label>
                "Exercise link"
                <input type="text" readonly data-testid="exercise-link" prop:value=move || link.get() />
            </label>
            <a href=move || link.get() data-testid="exercise-open">"Open the exercise"</a>
        </details>
    }
}
