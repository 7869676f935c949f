//! Flops, params and activations at both resolutions, the selected one highlighted.

use leptos::prelude::*;

use crate::design::{Complexity, Dataset};
use crate::report::{grouped, human_count, Report};
use crate::url_params::PageState;

#[component]
pub fn ComplexityPanel(state: Memo<PageState>) -> impl IntoView {
    // Both datasets, so a reader sees how the same stages cost at 32 px and 224 px.
    let both = Memo::new(move |_| {
        let s = state.get();
        Dataset::ALL.map(|d| (d, Report::new(&s.params, d).ok().map(|r| r.complexity)))
    });
    let selected = move || state.with(|s| s.dataset);
    let row = move |name: &'static str, pick: fn(&Complexity) -> u64| {
        view! {
            <tr>
                <th>{name}</th>
                {move || {
                    both.get()
                        .into_iter()
                        .map(|(d, cx)| {
                            let n = cx.as_ref().map(pick);
                            let is_selected = d == selected();
                            view! {
                                <td
                                    class:selected=is_selected
                                    data-testid=if is_selected { name } else { "" }
                                    title=n.map(grouped).unwrap_or_default()
                                >
                                    {n.map(human_count).unwrap_or_else(|| "-".into())}
                                </td>
                            }
                        })
                        .collect_view()
                }}
            </tr>
        }
    };
    view! {
        <div class="complexity">
            <h2>"Complexity"</h2>
            <table>
                <thead>
                    <tr>
                        <th><span class="sr-only">"measure"</span></th>
                        {Dataset::ALL.map(|d| view! { <th>{d.label()}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {row("flops", |c| c.flops)}
                    {row("params", |c| c.params)}
                    {row("acts", |c| c.acts)}
                </tbody>
            </table>
            <p class="muted">"pycls conventions: flops are multiply-adds; acts count every layer's output values."</p>
        </div>
    }
}
