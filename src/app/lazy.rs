//! The parts of the page that load their code when first shown: each page other than
//! `/`, and the Train panel of `/`, is a wasm module of its own. A visit to the shape
//! explorer downloads neither the design-space explorer nor the lessons nor the rest,
//! and draws before the Train panel's code is in (BENCHMARKS.md, bundle size).
//!
//! Each `#[wasm_split]` function below is a split point: `scripts/package-site.mjs`
//! cuts the page's wasm there (wasm-split-cli, which also writes the loaders the
//! functions import, so the page's wasm cannot go without it), and calling the function
//! first loads its module. The split is `fallible`: a module that does not arrive (the
//! network dropped, the site was redeployed) is an `Err`, shown as a message with a
//! button that tries again, never a panic, which would stop the whole page and
//! whatever it holds. A failed load is not remembered, so the retry fetches afresh.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use send_wrapper::SendWrapper;

use super::nav::SiteNav;
use crate::report::Report;
use crate::site;
use crate::space::SampleRequest;

/// A split point's result: the page's view, or the reason its module did not load.
type Loaded = Result<AnyView, SplitLoaderError>;

/// A split point's call, boxed: loads its module, then builds the view.
type Loading = Pin<Box<dyn Future<Output = Loaded>>>;

/// A split point's module alone, loading (its `preload`), boxed.
type Preloading = Pin<Box<dyn Future<Output = Result<(), SplitLoaderError>>>>;

#[wasm_split(explore_page, fallible, preload(preload_explore), wasm_split_path = ::leptos::wasm_split)]
fn explore_view() -> Loaded {
    Ok(view! { <super::explore::Explore /> }.into_any())
}

#[wasm_split(fit_page, fallible, preload(preload_fit), wasm_split_path = ::leptos::wasm_split)]
fn fit_view() -> Loaded {
    Ok(view! { <super::fit::FitPage /> }.into_any())
}

#[wasm_split(models_page, fallible, preload(preload_models), wasm_split_path = ::leptos::wasm_split)]
fn models_view() -> Loaded {
    Ok(view! { <super::published::PublishedPage /> }.into_any())
}

#[wasm_split(lessons_page, fallible, preload(preload_lessons), wasm_split_path = ::leptos::wasm_split)]
fn lessons_view() -> Loaded {
    Ok(view! { <super::lessons::LessonPage /> }.into_any())
}

#[wasm_split(train_panel, fallible, preload(preload_train), wasm_split_path = ::leptos::wasm_split)]
fn train_view(report: Memo<Report>) -> Loaded {
    Ok(view! { <super::train::TrainPanel report=report /> }.into_any())
}

/// The models `request` (a `SampleRequest` as JSON) draws, as a JSON array, or why
/// not (`super::sample_models`).
#[wasm_split(sampler, fallible, wasm_split_path = ::leptos::wasm_split)]
pub fn sample_json(request: String) -> Result<Result<String, String>, SplitLoaderError> {
    let sampled = serde_json::from_str::<SampleRequest>(&request)
        .map_err(|e| format!("not a sample request: {e}"))
        .and_then(|request| request.run().map_err(|e| e.to_string()))
        .and_then(|sample| serde_json::to_string(&sample.models).map_err(|e| e.to_string()));
    Ok(sampled)
}

/// The Train panel of `/` for the model `report` describes: its code (the training
/// worker's client, the run protocol, the curves) downloads beside the shape
/// explorer's instead of before it, and not at all where an exercise hides the panel.
#[component]
pub fn Train(report: Memo<Report>) -> impl IntoView {
    let loading = || view! { <p class="page-loading" data-testid="train-loading">"Loading the Train panel…"</p> };
    let failed = |retry: RwSignal<u32>| {
        view! {
            <section class="train" role="alert" data-testid="train-load-failed">
                <h2>"Train it on CIFAR-10, in this browser"</h2>
                <p class="error">
                    "The Train panel's code is a separate file, and the browser could not "
                    "fetch it (the connection may have dropped). The shape above is unaffected."
                </p>
                <RetryButton retry=retry />
            </section>
        }
        .into_any()
    };
    lazily(
        || Box::pin(preload_train()),
        move || Box::pin(train_view(report)),
        loading,
        failed,
    )
}

/// The pages whose code is a module of its own: every route but `/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LazyPage {
    Explore,
    Fit,
    Models,
    Lessons,
}

impl LazyPage {
    const ALL: [Self; 4] = [Self::Explore, Self::Fit, Self::Models, Self::Lessons];

    /// The lazily loaded page at `route` (one of `site::PAGES`), if it is one.
    fn at(route: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|page| page.route() == route)
    }

    fn route(self) -> &'static str {
        match self {
            Self::Explore => site::EXPLORE,
            Self::Fit => site::FIT,
            Self::Models => site::MODELS,
            Self::Lessons => site::LESSONS,
        }
    }

    /// Loads the page's module, then builds its view.
    fn load(self) -> Loading {
        match self {
            Self::Explore => Box::pin(explore_view()),
            Self::Fit => Box::pin(fit_view()),
            Self::Models => Box::pin(models_view()),
            Self::Lessons => Box::pin(lessons_view()),
        }
    }

    /// Starts fetching the page's module, so that a link under the pointer or the
    /// keyboard's focus opens without a wait (the navigation calls it). A module
    /// already in returns at once; a failure is left for the page to show if it is
    /// opened, when its load tries again.
    fn preload(self) {
        // The result is the page's to report, not the hover's.
        leptos::task::spawn_local(async move {
            let _ = self.preloading().await;
        });
    }

    /// Loads the page's module alone.
    fn preloading(self) -> Preloading {
        match self {
            Self::Explore => Box::pin(preload_explore()),
            Self::Fit => Box::pin(preload_fit()),
            Self::Models => Box::pin(preload_models()),
            Self::Lessons => Box::pin(preload_lessons()),
        }
    }
}

/// Starts fetching the module of the page at `route`, if it has one of its own: what
/// the navigation's links call (`super::nav::Preload`).
pub fn preload(route: &'static str) {
    if let Some(page) = LazyPage::at(route) {
        page.preload();
    }
}

/// The page `page`: a line saying it is loading until its module is in, and if the
/// module does not arrive, the site's navigation, what went wrong and a button that
/// tries again.
#[component]
pub fn Page(page: LazyPage) -> impl IntoView {
    let loading =
        || view! { <p class="page-loading" data-testid="page-loading">"Loading this page…"</p> };
    lazily(
        move || page.preloading(),
        move || page.load(),
        loading,
        move |retry| view! { <LoadFailed route=page.route() retry=retry /> }.into_any(),
    )
}

/// The view `load` builds once `preload` has its module in, `loading` until then;
/// `failed(retry)` if the module does not arrive, where updating `retry` tries again (a
/// failed load is not kept, so the retry fetches afresh). Nothing is built if this part
/// of the page is gone by the time the module is in (the user went on to another
/// page): the view would belong to no page, and whatever it starts, no one would stop.
fn lazily<V: IntoView + 'static>(
    preload: impl Fn() -> Preloading + Copy + Send + Sync + 'static,
    load: impl Fn() -> Loading + Copy + Send + Sync + 'static,
    loading: impl Fn() -> V + Send + Sync + 'static,
    failed: impl Fn(RwSignal<u32>) -> AnyView + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let retry = RwSignal::new(0_u32);
    let view = move || {
        retry.track();
        Suspend::new(SendWrapper::new(async move {
            let loaded = preload().await;
            if retry.is_disposed() {
                return ().into_any();
            }
            match loaded {
                Ok(()) => load().await.unwrap_or_else(|_| failed(retry)),
                Err(_) => failed(retry),
            }
        }))
    };
    view! { <Suspense fallback=loading>{view}</Suspense> }
}

/// Tries a failed load again.
#[component]
fn RetryButton(retry: RwSignal<u32>) -> impl IntoView {
    view! {
        <button class="retry" data-testid="load-retry" on:click=move |_| retry.update(|n| *n += 1)>
            "Try again"
        </button>
    }
}

/// A page whose module did not download.
#[component]
fn LoadFailed(route: &'static str, retry: RwSignal<u32>) -> impl IntoView {
    view! {
        <header>
            <SiteNav current=route />
        </header>
        <main class="load-failed" role="alert" data-testid="page-load-failed">
            <h1>"This page did not load"</h1>
            <p>
                "Its code is a separate file, and the browser could not fetch it: the "
                "connection may have dropped, or the site was updated since this tab "
                "opened it (then reloading the tab fixes it). Nothing kept in this "
                "browser is lost."
            </p>
            <RetryButton retry=retry />
        </main>
    }
}
