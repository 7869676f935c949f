//! The shape explorer: reads the state from the URL, writes changes back to it.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use super::complexity::ComplexityPanel;
use super::controls::{Controls, CopyLink};
use super::notices::{ErrorBanner, SpaceNotes, UrlNotice};
use super::plot::WidthPlot;
use super::stages::StageTable;
use super::train::TrainPanel;
use crate::design::ParamError;
use crate::report::Report;
use crate::url_params::{PageState, Parsed};

/// Writes parameter changes into the URL. `push` adds a history entry (presets);
/// slider ticks replace the current one, so a drag never floods the history.
pub fn use_set_params(
    state: Memo<PageState>,
) -> impl Fn(Vec<(&'static str, String)>, bool) + Clone {
    let navigate = use_navigate();
    let location = use_location();
    move |changes, push| {
        let mut map: ParamsMap = state.get_untracked().to_query().into_iter().collect();
        for (key, value) in changes {
            map.replace(key, value);
        }
        let path = location.pathname.get_untracked();
        let options = NavigateOptions {
            replace: !push,
            scroll: false,
            ..Default::default()
        };
        navigate(&format!("{path}{}", map.to_query_string()), options);
    }
}

#[component]
pub fn Playground() -> impl IntoView {
    let query = use_query_map();
    let parsed: Memo<Parsed> =
        Memo::new(move |_| query.with(|q| PageState::from_query(|k| q.get(k))));
    let state = Memo::new(move |_| parsed.with(|p| p.state));
    let result: Memo<Result<Report, ParamError>> = Memo::new(move |_| {
        let s = state.get();
        Report::new(&s.params, s.dataset)
    });
    // What is drawn: the newest valid report, so an error never blanks the view.
    let report: Memo<Report> = Memo::new(move |prev: Option<&Report>| match (result.get(), prev) {
        (Ok(r), _) => r,
        (Err(_), Some(prev)) => prev.clone(),
        (Err(_), None) => {
            Report::new(&Default::default(), Default::default()).expect("defaults are valid")
        }
    });
    let error = Memo::new(move |_| result.with(|r| r.as_ref().err().map(ToString::to_string)));
    let notices = Memo::new(move |_| parsed.with(|p| p.notices.clone()));

    view! {
        <header>
            <h1>"RegNet design-space playground"</h1>
            <p class="lede">
                "A RegNet's widths follow one line, u"<sub>"j"</sub>" = w"<sub>"0"</sub>" + w"<sub>"a"</sub>
                "·j, cut into stages where it crosses powers of w"<sub>"m"</sub>
                ". Move the sliders to see the rule of "
                <a href="https://arxiv.org/abs/2003.13678">"Designing Network Design Spaces"</a>
                " (Radosavovic et al., CVPR 2020) at work, computed exactly as pycls does."
            </p>
        </header>
        <UrlNotice notices=notices />
        <main>
            <aside class="controls">
                <Controls state=state />
                <CopyLink />
            </aside>
            <section class="results">
                <ErrorBanner error=error />
                <WidthPlot report=report />
                <StageTable report=report />
                <ComplexityPanel state=state />
                <SpaceNotes report=report />
                <TrainPanel state=state report=report />
            </section>
        </main>
    }
}
