//! The site's navigation, the same on every page: each page by name, the current one
//! marked (`site::PAGES`).

use leptos::prelude::*;

use crate::site;

#[component]
pub fn SiteNav(
    /// The route of the page it is on (one of `site::PAGES`).
    current: &'static str,
) -> impl IntoView {
    let base = super::base();
    let items = site::PAGES
        .iter()
        .enumerate()
        .map(|(i, &(route, name, id))| {
            let item = if route == current {
                view! { <strong aria-current="page">{name}</strong> }.into_any()
            } else {
                // Its module starts downloading before the click lands (src/app/lazy.rs).
                let preload = move |_| super::lazy::preload(route);
                view! {
                    <a href=site::path_of(&base, route) data-testid=id on:pointerenter=preload on:focus=preload>
                        {name}
                    </a>
                }
                .into_any()
            };
            view! { {(i > 0).then_some(" · ")} {item} }
        })
        .collect_view();
    view! { <nav class="site-nav" aria-label="Pages">{items}</nav> }
}
