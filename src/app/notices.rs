//! Messages: fixed-up link values, invalid parameters, leaving the paper's space.

use leptos::prelude::*;

use crate::report::Report;

/// Names every link value that was out of range or unreadable, and what replaced it.
#[component]
pub fn UrlNotice(notices: Memo<Vec<String>>) -> impl IntoView {
    view! {
        <Show when=move || notices.with(|n| !n.is_empty())>
            <div class="notice" data-testid="url-notice" role="status">
                <strong>"Some values in this link could not be used:"</strong>
                <ul>{move || notices.get().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            </div>
        </Show>
    }
}

/// Shown when the current parameters are invalid; the last valid view stays below it.
#[component]
pub fn ErrorBanner(error: Memo<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.with(Option::is_some)>
            <div class="error" data-testid="param-error" role="alert">
                {move || error.get()} " (showing the last valid model)"
            </div>
        </Show>
    }
}

/// Where this model departs from the paper's RegNet space, or was adjusted by pycls.
#[component]
pub fn SpaceNotes(report: Memo<Report>) -> impl IntoView {
    let notes = Memo::new(move |_| report.with(Report::notes));
    view! {
        <div class="notes" data-testid="space-notes">
            <h2>"Notes"</h2>
            <Show
                when=move || notes.with(|n| !n.is_empty())
                fallback=|| view! { <p class="muted">"This model lies inside the paper's RegNet space."</p> }
            >
                <ul>{move || notes.get().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            </Show>
        </div>
    }
}
