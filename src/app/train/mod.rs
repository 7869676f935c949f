//! The Train panel: trains the CIFAR-10 version of the model on screen, in a Web
//! Worker (WebGPU, or the CPU as a fallback), with progress and live curves.

pub(super) mod client;
mod curves;
mod data;

use leptos::prelude::*;

use self::client::Training;
use self::curves::TrainingCurves;
use self::data::DataSource;
use super::url_state::use_url_state;
use crate::design::{Dataset, NetSpec};
use crate::report::Report;
use crate::run::memory::{self, Target};
use crate::run::session::Phase;
use crate::run::{BackendChoice, Recipe};
use crate::url_params::{BACKEND, LAYERS, RECIPE};

fn minutes(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

#[component]
pub fn TrainPanel(report: Memo<Report>) -> impl IntoView {
    let url = use_url_state();
    let state = url.state;
    let training = Training::new(state.with_untracked(|s| s.backend));
    // The recipe lives in the URL with the model, so a link reproduces a run's settings.
    let recipe: Memo<Recipe> = Memo::new(move |_| state.with(|s| s.recipe));
    let backend = Memo::new(move |_| state.with(|s| s.backend));
    // The CIFAR-10 network of the shape on screen (3x3 stem, 10 classes).
    let spec = Memo::new(move |_| report.with(|r| NetSpec::new(&r.shape, Dataset::Cifar10)));
    let target = Memo::new(move |_| {
        let gpu = match training.backend.get() {
            Some(b) => b.gpu,
            // Before a run: where WebGPU gives an adapter (`navigator.gpu` until the
            // page has asked), as the run's worker will be picked.
            None => {
                training
                    .webgpu()
                    .unwrap_or_else(|| crate::worker::has_webgpu(&window().navigator()))
                    && training.gpu_failed.with(Option::is_none)
            }
        };
        if gpu && backend.get() == BackendChoice::Auto {
            Target::Gpu
        } else {
            Target::Cpu
        }
    });
    let fit = Memo::new(move |_| {
        let batch = recipe.with(|r| r.batch);
        spec.with(|s| memory::check(s, batch, target.get()).map_err(|e| e.to_string()))
    });
    let phase = training.phase;
    let can_start = move || phase.with(Phase::can_start) && fit.with(Result::is_ok);
    let start = move |_| {
        training.start(
            state.with_untracked(|s| s.params.label()),
            spec.get_untracked(),
            recipe.get_untracked(),
            backend.get_untracked(),
            state.with_untracked(|s| s.layers),
        );
    };
    let epochs = Signal::derive(move || recipe.with(|r| r.epochs));

    view! {
        <section class="train" data-testid="train-panel">
            <h2>"Train it on CIFAR-10, in this browser"</h2>
            <p class="muted">
                "Trains the CIFAR-10 version of the model above (3×3 stem, 10 classes, "
                {move || format!("{} parameters", spec.with(|s| s.complexity().params))}
                ") with SGD, warm-up and a half-cosine schedule, as pycls does, in a background worker."
            </p>
            <DataSource training />
            <div class="recipe">
                {RECIPE
                    .iter()
                    .filter(|d| d.key != BACKEND.key && d.key != LAYERS.key)
                    .map(|def| {
                        let (key, (min, max), step) = (def.key, def.bounds(), def.step());
                        view! {
                            <label title=def.help>
                                {def.label}
                                <input
                                    type="number"
                                    data-testid=format!("train-{key}")
                                    min=min
                                    max=max
                                    step=step
                                    prop:value=move || state.with(|s| s.get(key))
                                    prop:disabled=move || phase.with(Phase::active)
                                    on:change=move |ev| url.set(vec![(key, event_target_value(&ev))], false)
                                />
                            </label>
                        }
                    })
                    .collect_view()}
                <label title=BACKEND.help>
                    {BACKEND.label}
                    <select
                        data-testid="train-backend"
                        prop:value=move || state.with(|s| s.get(BACKEND.key))
                        prop:disabled=move || phase.with(Phase::active)
                        on:change=move |ev| url.set(vec![(BACKEND.key, event_target_value(&ev))], false)
                    >
                        <option value="auto">"WebGPU if available"</option>
                        <option value="cpu">"CPU only"</option>
                    </select>
                </label>
                <details class="advanced" data-testid="train-advanced">
                <summary>"advanced"</summary>
                <label title=LAYERS.help>
                    {LAYERS.label}
                    <select
                        data-testid="train-layers"
                        prop:value=move || state.with(|s| s.get(LAYERS.key))
                        prop:disabled=move || phase.with(Phase::active)
                        on:change=move |ev| url.set(vec![(LAYERS.key, event_target_value(&ev))], false)
                    >
                        <option value="measured">"ours where faster"</option>
                        <option value="ours">"ours everywhere"</option>
                        <option value="burn">"Burn's"</option>
                    </select>
                </label>
                </details>
            </div>
            <p class=move || if fit.with(Result::is_ok) { "muted" } else { "error" } data-testid="memory-estimate">
                {move || match fit.get() {
                    Ok(bytes) => format!("Needs about {:.2} GB of memory to train.", bytes as f64 / 1e9),
                    Err(message) => format!("Too big to train here: {message}."),
                }}
            </p>
            <div class="buttons">
                <button data-testid="train-start" on:click=start prop:disabled=move || !can_start()>
                    "Start"
                </button>
                <button
                    data-testid="train-pause"
                    prop:disabled=move || !matches!(phase.get(), Phase::Running | Phase::Paused)
                    on:click=move |_| training.toggle_pause()
                >
                    {move || if phase.get() == Phase::Paused { "Resume" } else { "Pause" }}
                </button>
                <button data-testid="train-cancel" prop:disabled=move || !phase.with(Phase::active) on:click=move |_| training.cancel()>
                    "Cancel"
                </button>
            </div>
            {move || training.backend.get().map(|b| view! {
                <p class="muted" data-testid="train-backend-used">{format!("Training on {}.", b.name)}</p>
                {b.notice.map(|n| view! { <p class="notice inline" data-testid="cpu-fallback">{n}</p> })}
            })}
            {move || training.one_thread.get().map(|reason| view! {
                <p class="muted" data-testid="cpu-one-thread">{reason}</p>
            })}
            {move || training.gpu_failed.get().map(|reason| view! {
                <p class="notice inline" data-testid="gpu-failed">
                    {format!("WebGPU failed in this browser ({reason}), so this tab trains on the CPU from now on.")}
                </p>
            })}
            <Progress training />
            {move || match phase.get() {
                Phase::Failed(message) => Some(view! { <p class="error" data-testid="train-error">{message}</p> }.into_any()),
                Phase::Cancelled => Some(view! { <p class="muted">"Cancelled; the curves so far are kept."</p> }.into_any()),
                _ => None,
            }}
            {move || training.result.get().and_then(|record| record.result.map(|result| view! {
                <p class="result" data-testid="train-result">
                    {format!("Final test error {:.1}% after {}.", 100.0 * result.test_error, minutes(record.timings.total_s))}
                </p>
            }))}
            <TrainingCurves training epochs />
        </section>
    }
}

#[component]
fn Progress(training: Training) -> impl IntoView {
    let line = move || {
        let run = training.run.get()?;
        let last = training.last.get();
        let step = last.map_or(0, |l| l.step);
        let mut text = format!(
            "step {step} of {} · epoch {} of {}",
            run.total_steps,
            (step / run.steps_per_epoch.max(1) + 1)
                .min(run.total_steps / run.steps_per_epoch.max(1)),
            run.total_steps / run.steps_per_epoch.max(1)
        );
        if last.is_none() {
            text.push_str(" · building the first step (the first steps compile the kernels)");
        }
        if let Some(l) = last {
            let per_step = l.elapsed_s / l.step.max(1) as f64;
            text.push_str(&format!(
                " · loss {:.3} · {:.0} images/s · about {} left · worker memory {:.0} MB",
                l.loss,
                l.images_per_s,
                minutes(per_step * (run.total_steps - l.step) as f64),
                l.memory_bytes as f64 / 1e6
            ));
        }
        Some((step, run.total_steps, text))
    };
    view! {
        {move || line().map(|(step, total, text)| view! {
            <div class="progress">
                <progress data-testid="train-progress" value=step max=total></progress>
                <span data-testid="train-status">{text}</span>
            </div>
        })}
    }
}
