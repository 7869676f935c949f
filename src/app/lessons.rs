//! The lessons (`/lessons/STEP`): one step of the guided path at a time (its text, the
//! constraint it adds, the sizes of the spaces before and after, the reference sweep's
//! EDFs, a "try it" link), with previous/next, a progress bar and the arrow keys.
//! The steps are `crate::lessons`.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;

use super::explore::load_reference;
use super::nav::SiteNav;
use crate::chart::svg::edf_plot;
use crate::lessons::{size_text, step, Param, Step, STEPS};
use crate::site;
use crate::sweep::Sweep;

/// The in-page path of step `slug`.
fn step_path(base: &str, slug: &str) -> String {
    site::path_of(base, &format!("{}/{slug}", site::LESSONS))
}

#[component]
pub fn LessonPage() -> impl IntoView {
    let params = use_params_map();
    // No step in the path opens the first.
    let slug = Memo::new(move |_| {
        params
            .with(|p| p.get("step"))
            .unwrap_or_else(|| STEPS[0].slug.to_string())
    });
    let found = Memo::new(move |_| slug.with(|s| step(s).map(|(i, _)| i)));
    let base = super::base();
    // The reference sweep, fetched once for every step.
    let reference = RwSignal::new(None::<Result<Vec<Sweep>, String>>);
    {
        let base = base.clone();
        leptos::task::spawn_local(async move {
            let lib = load_reference(&base).await;
            reference.set(Some(if lib.errors.is_empty() {
                Ok(lib.sweeps)
            } else {
                Err(lib.errors.join("; "))
            }));
        });
    }
    // The arrow keys step back and forth (not while typing in a field).
    let navigate = use_navigate();
    let keys_base = base.clone();
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let typing = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing || ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let Some(i) = found.get_untracked() else {
            return;
        };
        let to = match ev.key().as_str() {
            "ArrowRight" => STEPS.get(i + 1),
            "ArrowLeft" => i.checked_sub(1).and_then(|j| STEPS.get(j)),
            _ => None,
        };
        if let Some(to) = to {
            // The path is absolute (base included): the router must not prefix it again.
            let options = NavigateOptions {
                resolve: false,
                ..Default::default()
            };
            navigate(&step_path(&keys_base, to.slug), options);
        }
    });
    on_cleanup(move || keys.remove());

    let body = move || match found.get() {
        Some(i) => view! { <StepView index=i base=base.clone() reference=reference /> }.into_any(),
        None => view! {
            <main class="lesson" data-testid="lesson-missing">
                <p class="notice">
                    {format!("There is no lesson step '{}'. ", slug.get())}
                    <a href=step_path(&base, STEPS[0].slug)>"Start at the first step"</a>
                    "."
                </p>
            </main>
        }
        .into_any(),
    };
    view! {
        <header>
            <SiteNav current=site::LESSONS />
            <h1>"Designing network design spaces, step by step"</h1>
        </header>
        {body}
    }
}

#[component]
fn StepView(
    index: usize,
    base: String,
    reference: RwSignal<Option<Result<Vec<Sweep>, String>>>,
) -> impl IntoView {
    let step: &'static Step = &STEPS[index];
    let total = STEPS.len();
    let steps = STEPS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let current = (i == index).then_some("step");
            view! { <li><a href=step_path(&base, s.slug) aria-current=current>{s.title}</a></li> }
        })
        .collect_view();
    let link = |to: Option<&Step>, test_id: &'static str, label: &'static str| {
        to.map(|s| view! { <a href=step_path(&base, s.slug) data-testid=test_id rel=test_id.trim_start_matches("lesson-")>{format!("{label} {}", s.title)}</a> })
    };
    let prev = link(index.checked_sub(1).map(|i| &STEPS[i]), "lesson-prev", "←");
    let next = link(STEPS.get(index + 1), "lesson-next", "→");
    let sizes = step.before.map(|before| {
        let (b, a) = (Step::size_of(before), Step::size_of(step.space));
        view! {
            <p class="lesson-size" data-testid="lesson-size" data-before=b.to_string() data-after=a.to_string()>
                {before.label()} ": " <Count n=b /> " models → " {step.space.label()} ": " <Count n=a /> " models"
            </p>
        }
    });
    let rules = Param::ALL
        .map(|p| {
            let added = step.adds == Some(p);
            view! {
                <tr class:added=added data-testid="lesson-constraint" data-param=p.symbol() data-added=added.to_string()>
                    <th scope="row">{p.symbol()}</th>
                    <td>{p.name()}</td>
                    <td>{p.rule_in(step.space)}{added.then_some(" (this step)")}</td>
                </tr>
            }
        })
        .collect_view();
    let edf = move || {
        if step.show.is_empty() {
            return None;
        }
        Some(match reference.get() {
            None => {
                view! { <p data-testid="lesson-edf-loading">"Loading the reference sweep..."</p> }
                    .into_any()
            }
            Some(Err(e)) => view! { <div class="error" role="alert">{e}</div> }.into_any(),
            Some(Ok(sweeps)) => {
                let shown: Vec<&Sweep> = step
                    .show
                    .iter()
                    .filter_map(|n| sweeps.iter().find(|s| s.name == *n))
                    .collect();
                let edfs: Vec<crate::stats::Edf> = shown
                    .iter()
                    .filter_map(|s| crate::stats::Edf::new(&s.errors()).ok())
                    .collect();
                let series: Vec<(&str, &crate::stats::Edf)> =
                    shown.iter().map(|s| s.name.as_str()).zip(&edfs).collect();
                let svg = edf_plot("Error EDFs, reference sweep", "error (%)", &series);
                let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
                view! { <figure class="lesson-edf" data-testid="lesson-edf" data-names=names.join(",") inner_html=svg></figure> }.into_any()
            }
        })
    };
    let try_it = format!(
        "{}?{}",
        site::path_of(&base, step.try_it.route),
        step.try_it.query
    );
    view! {
        <main class="lesson" data-testid="lesson" data-step=step.slug>
            <nav class="lesson-progress" aria-label="Lesson steps">
                <label>
                    {format!("Step {} of {total}", index + 1)}
                    <progress data-testid="lesson-progress" value=(index + 1).to_string() max=total.to_string()></progress>
                </label>
                <ol>{steps}</ol>
            </nav>
            <article>
                <h2 data-testid="lesson-title">{step.title}</h2>
                {step.text.iter().map(|p| view! { <p>{*p}</p> }).collect_view()}
                {sizes}
                <table class="lesson-rules">
                    <caption>{format!("The parameters of each of the four stages in {}", step.space.label())}</caption>
                    <tbody>{rules}</tbody>
                </table>
                {edf}
                <p><a class="try-it" data-testid="lesson-try" href=try_it>{format!("Try it: {}", step.try_it.label)}</a></p>
                <p class="lesson-nav">{prev} " " {next} <span class="muted">" (or the arrow keys)"</span></p>
            </article>
        </main>
    }
}

/// A space's size as a person reads it: "1.8 × 10" with the exponent raised.
#[component]
fn Count(n: f64) -> impl IntoView {
    let text = size_text(n);
    match text.split_once('^') {
        Some((mantissa, exp)) => {
            view! { {mantissa.to_string()}<sup>{exp.to_string()}</sup> }.into_any()
        }
        None => text.into_any(),
    }
}
