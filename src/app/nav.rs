//! The site's navigation, the same on every page: each page by name, the current one
//! marked (`site::PAGES`).

use leptos::prelude::*;

use crate::site;

/// What the navigation calls with a link's route when the link is under the pointer or
/// has the keyboard's focus: the app provides the lazily loaded pages' preload
/// (`super::lazy`), so a page's module starts downloading before the click lands.
#[derive(Clone, Copy)]
pub struct Preload(pub fn(&'static str));

#[component]
pub fn SiteNav(
    /// The route of the page it is on (one of `site::PAGES`).
    current: &'static str,
) -> impl IntoView {
    let base = super::base();
    let preload = use_context::<Preload>();
    let items = site::PAGES
        .iter()
        .enumerate()
        .map(|(i, &(route, name, id))| {
            let item = if route == current {
                view! { <strong aria-current="page">{name}</strong> }.into_any()
            } else {
                let preload = move || {
                    if let Some(Preload(start)) = preload {
                        start(route);
                    }
                };
                view! {
                    <a
                        href=site::path_of(&base, route)
                        data-testid=id
                        on:pointerenter=move |_| preload()
                        on:focus=move |_| preload()
                    >
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
