//! The web page: a thin layer of small Leptos components over the design-space
//! core. The URL query is the single source of truth for what is shown.

mod complexity;
mod controls;
mod notices;
mod playground;
mod plot;
mod stages;
mod train;

use leptos::prelude::*;
use leptos_router::components::Router;

/// Mounts the app on `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <Router>
            <playground::Playground />
        </Router>
    }
}
