//! The shape explorer and trainer (the `/` route): the model in the URL, its stages,
//! complexity and notes, and the Train panel.

use leptos::prelude::*;

use super::complexity::ComplexityPanel;
use super::controls::{Controls, CopyLink};
use super::exercise::{ExerciseAsk, ExerciseBuilder};
use super::lazy::Train;
use super::nav::SiteNav;
use super::notices::{ErrorBanner, SpaceNotes, UrlNotice};
use super::plot::WidthPlot;
use super::stages::StageTable;
use super::url_state::provide_url_state;
use crate::design::ParamError;
use crate::report::Report;
use crate::site;

#[component]
pub fn Playground() -> impl IntoView {
    let url = provide_url_state();
    let (parsed, state) = (url.parsed, url.state);
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
    let notices = Memo::new(move |_| {
        let mut notices = parsed.with(|p| p.notices.clone());
        url.exercise
            .with(|(_, n)| notices.extend(n.iter().cloned()));
        notices
    });
    let train = !url.exercise.with_untracked(|(e, _)| e.hides("train"));

    view! {
        <header>
            <SiteNav current=site::HOME />
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
                <ExerciseAsk />
                <Controls />
                <CopyLink />
                <ExerciseBuilder />
            </aside>
            <section class="results">
                <ErrorBanner error=error />
                <WidthPlot report=report />
                <StageTable report=report />
                <ComplexityPanel state=state />
                <SpaceNotes report=report />
                {train.then(|| view! { <Train report=report /> })}
            </section>
        </main>
    }
}
