//! The web page: a thin layer of small Leptos components over the design-space
//! core. Each route's state is its URL query (`url_state`); the site may be served
//! under any sub-path (`crate::site`).

mod complexity;
mod controls;
mod exercise;
mod explore;
mod fit;
mod lazy;
mod lessons;
mod nav;
mod notices;
mod playground;
mod plot;
mod published;
mod stages;
mod train;
mod url_state;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use wasm_bindgen::JsCast;

use self::lazy::{LazyPage, Page};
use crate::site;

/// Mounts the app on `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// `regnet sample --json` inside the page, for scripts and for the end-to-end test that
/// holds the page's sampler to the native one: `request` is a `SampleRequest` as JSON;
/// resolves to the models as a JSON array, or rejects with the reason as a string. The
/// sampler is a module of its own (`lazy::sample_json`), loaded at the first call.
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn sample_models(request: String) -> Result<String, wasm_bindgen::JsValue> {
    lazy::sample_json(request)
        .await
        .map_err(|e| e.to_string())
        .and_then(|sampled| sampled)
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))
}

/// The site's base path, from where the browser loaded the app's script (index.html
/// preloads it with a `modulepreload` link); "" when it cannot tell.
pub(crate) fn base() -> String {
    let script = document()
        .query_selector("link[rel=modulepreload]")
        .ok()
        .flatten()
        .and_then(|link| link.dyn_into::<web_sys::HtmlLinkElement>().ok())
        .map(|link| link.href());
    let path = script
        .and_then(|href| web_sys::Url::new(&href).ok())
        .map(|url| url.pathname())
        .unwrap_or_default();
    site::base_of(&path)
}

#[component]
fn App() -> impl IntoView {
    let base = base();
    let home = site::path_of(&base, site::HOME);
    provide_context(nav::Preload(lazy::preload));
    view! {
        <Router base=base>
            <Routes fallback=move || view! { <NotFound home=home.clone() /> }>
                <Route path=path!("/") view=playground::Playground />
                // Static hosts also serve the page as index.html, and links copied
                // there carry that path.
                <Route path=path!("/index.html") view=playground::Playground />
                // The other pages' code downloads when they are first opened.
                <Route path=path!("/explore") view=|| view! { <Page page=LazyPage::Explore /> } />
                <Route path=path!("/fit") view=|| view! { <Page page=LazyPage::Fit /> } />
                <Route path=path!("/models") view=|| view! { <Page page=LazyPage::Models /> } />
                <Route path=path!("/lessons") view=|| view! { <Page page=LazyPage::Lessons /> } />
                <Route path=path!("/lessons/:step") view=|| view! { <Page page=LazyPage::Lessons /> } />
            </Routes>
        </Router>
    }
}

/// A path the site has no page for (a mistyped or outdated link).
#[component]
fn NotFound(home: String) -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    view! {
        <main class="not-found" data-testid="not-found">
            <h1>"No page here"</h1>
            <p>
                {format!("This site has no page at {path}. ")}
                <a href=home>"Open the RegNet design-space playground"</a>
                "."
            </p>
        </main>
    }
}
