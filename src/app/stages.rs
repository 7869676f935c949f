//! The stage table: what the quantized rule and the compatibility fix produced.

use leptos::prelude::*;

use crate::report::Report;

#[component]
pub fn StageTable(report: Memo<Report>) -> impl IntoView {
    let rows = move || {
        report.with(|r| {
            r.shape
                .stages
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let adjusted =
                        (s.width != s.raw_width).then(|| format!(" (rule: {})", s.raw_width));
                    view! {
                        <tr data-testid="stage-row">
                            <td>{i + 1}</td>
                            <td data-testid="stage-depth">{s.depth}</td>
                            <td data-testid="stage-width">{s.width}</td>
                            <td class="muted">{adjusted}</td>
                            <td data-testid="stage-group-width">{s.group_width}</td>
                            <td data-testid="stage-groups">{s.groups}</td>
                            <td>{s.bottleneck_width}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    let summary = move || {
        report.with(|r| {
            let q = &r.shape.quantized;
            format!(
                "num_stages = {}, total_stages = {}, d = {}",
                q.num_stages, q.total_stages, r.shape.params.d
            )
        })
    };
    view! {
        <div class="stages">
            <h2>"Stages"</h2>
            <table data-testid="stage-table">
                <thead>
                    <tr>
                        <th>"stage"</th>
                        <th>"blocks"</th>
                        <th>"width"</th>
                        <th><span class="sr-only">"changed by the compatibility fix"</span></th>
                        <th>"group width"</th>
                        <th>"groups"</th>
                        <th>"bottleneck"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="muted" data-testid="stage-summary">{summary}</p>
        </div>
    }
}
