//! Where the training data stands: on the server, in this browser, downloading (with a
//! progress bar), or missing, in which case the page says where to get the official
//! archive and takes it from a file picker or a drop.

use leptos::ev::{DragEvent, Event as DomEvent};
use leptos::prelude::*;
use web_sys::HtmlInputElement;

use super::client::Training;
use crate::run::protocol::{DataStatus, ARCHIVE_SOURCE};

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

#[component]
pub fn DataSource(training: Training) -> impl IntoView {
    let on_pick = move |ev: DomEvent| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            training.send_file(&file);
        }
        input.set_value("");
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        let file = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            training.send_file(&file);
        }
    };
    let busy = move || training.phase.with(|p| p.active());
    let status = move || {
        training.data.with(|s| match s {
            DataStatus::Checking => view! { <p>"Looking for CIFAR-10…"</p> }.into_any(),
            DataStatus::Available { cached: true, .. } => {
                view! { <p>"CIFAR-10 is stored in this browser from an earlier visit."</p> }.into_any()
            }
            DataStatus::Available { cached: false, bytes } => {
                let size = bytes.map(|b| format!(" ({})", megabytes(b))).unwrap_or_default();
                view! {
                    <p>
                        {format!("The server has the CIFAR-10 archive{size}. It downloads when you press Start and is kept in this browser afterwards. ")}
                        <button class="link" on:click=move |_| training.load() disabled=busy>"Download now"</button>
                    </p>
                }
                .into_any()
            }
            DataStatus::Missing => view! {
                <p data-testid="data-missing">
                    "This server has no CIFAR-10. Download the official binary archive, "
                    <a href=ARCHIVE_SOURCE>"cifar-10-binary.tar.gz"</a>
                    " (163 MB, from Alex Krizhevsky's CIFAR page), then drop it here or pick it below. It stays on your machine."
                </p>
            }
            .into_any(),
            DataStatus::Downloading { loaded, total } => {
                let (value, max, text) = match total {
                    Some(t) => (*loaded as f64, *t as f64, format!("{} of {}", megabytes(*loaded), megabytes(*t))),
                    None => (*loaded as f64, 170e6, megabytes(*loaded)),
                };
                view! {
                    <p>"Downloading CIFAR-10: " {text}</p>
                    <progress data-testid="download-progress" value=value max=max></progress>
                }
                .into_any()
            }
            DataStatus::Parsing => view! {
                <p>"Unpacking and checking the archive…"</p>
                <progress></progress>
            }
            .into_any(),
            DataStatus::Ready { train, test, source, cache_note } => view! {
                <p data-testid="data-ready">
                    {format!("CIFAR-10 ready: {train} training and {test} test images (from {source}).")}
                </p>
                {cache_note.clone().map(|n| view! { <p class="muted" data-testid="data-cache-note">{n}</p> })}
            }
            .into_any(),
            DataStatus::Invalid { message } => view! {
                <p class="error" data-testid="data-invalid">
                    {format!("That is not the CIFAR-10 binary archive: {message}. The data loaded before, if any, is still in use.")}
                </p>
            }
            .into_any(),
        })
    };
    view! {
        <div
            class="data-source"
            class:dragging=move || dragging.get()
            data-testid="data-source"
            on:dragover=move |ev: DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            {status}
            <label class="muted">
                "Use your own copy of cifar-10-binary.tar.gz (or drop it on this box): "
                <input type="file" data-testid="data-file" accept=".gz,.tgz,application/gzip" on:change=on_pick prop:disabled=busy />
            </label>
        </div>
    }
}
