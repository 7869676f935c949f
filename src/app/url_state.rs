//! The URL query is the page's state. It is parsed once per route and provided
//! through Leptos context: components read it with `use_url_state()` and change it
//! with `UrlState::set`, which writes the URL (the router then re-parses it).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use crate::exercise::Exercise;
use crate::url_params::{PageState, Parsed};

/// The router's navigate function, boxed to be stored.
pub type Navigate = Box<dyn Fn(&str, NavigateOptions)>;

/// The parsed query (with its notices) and a way to change it; `Copy`.
#[derive(Clone, Copy)]
pub struct UrlState {
    pub parsed: Memo<Parsed>,
    pub state: Memo<PageState>,
    /// The link's exercise keys (hidden and locked controls, the question) and the
    /// notices for names it could not use.
    pub exercise: Memo<(Exercise, Vec<String>)>,
    navigate: StoredValue<Navigate, LocalStorage>,
}

/// Parses the current query and provides it to every component below.
pub fn provide_url_state() -> UrlState {
    let query = use_query_map();
    let parsed: Memo<Parsed> =
        Memo::new(move |_| query.with(|q| PageState::from_query(|k| q.get(k))));
    let navigate = use_navigate();
    let url = UrlState {
        parsed,
        state: Memo::new(move |_| parsed.with(|p| p.state)),
        exercise: Memo::new(move |_| query.with(|q| Exercise::from_query(|k| q.get(k)))),
        navigate: StoredValue::new_local(Box::new(navigate)),
    };
    provide_context(url);
    url
}

/// The URL state of the current route (`provide_url_state` must have run above).
pub fn use_url_state() -> UrlState {
    expect_context()
}

impl UrlState {
    /// Writes parameter changes into the URL. `push` adds a history entry (presets);
    /// slider ticks replace the current one, so a drag never floods the history. The
    /// path stays the browser's own, so this works under any sub-path. An exercise's
    /// keys stay, and its locked parameters do not change.
    pub fn set(self, changes: Vec<(&'static str, String)>, push: bool) {
        let (exercise, _) = self.exercise.get_untracked();
        let mut map: ParamsMap = self.state.get_untracked().to_query().into_iter().collect();
        for (key, value) in exercise.to_query() {
            map.replace(key, value);
        }
        for (key, value) in exercise.allowed(changes) {
            map.replace(key, value);
        }
        self.navigate
            .with_value(|navigate| go_to_query(navigate, &map, push));
    }
}

/// Opens the current path with the query `map`. `push` adds a history entry, else the
/// current one is replaced. The path stays the browser's own, so this works under any
/// sub-path.
pub fn go_to_query(navigate: &Navigate, map: &ParamsMap, push: bool) {
    let path = window()
        .location()
        .pathname()
        .unwrap_or_else(|_| "/".into());
    let options = NavigateOptions {
        // The path is already absolute: the router must not prefix its base again.
        resolve: false,
        replace: !push,
        scroll: false,
        ..Default::default()
    };
    navigate(&format!("{path}{}", map.to_query_string()), options);
}
