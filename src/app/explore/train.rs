//! "Train a sweep": the plan's controls (spaces with their sizes, n, the flops band,
//! the recipe, the seeds, the workers), Start / Pause / Cancel, the overall progress
//! and each worker's model. The plan is the URL's (`crate::explore`); the queue and its
//! workers are `runner`'s.

use leptos::prelude::*;

use super::runner::Runner;
use crate::explore::{ExploreState, MAX_WORKERS};
use crate::space::Space;
use crate::sweep::plan::MAX_MODELS;
use crate::sweep::queue::{JobState, Lane, Phase, Queue, WorkerState};

/// CPU workers by default: one per core the browser reports, less one for the page.
pub fn default_workers() -> usize {
    let cores = window().navigator().hardware_concurrency() as usize;
    cores.saturating_sub(1).clamp(1, MAX_WORKERS)
}

fn minutes(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// A number input bound to one field of the state.
#[component]
fn NumberField(
    label: &'static str,
    testid: &'static str,
    value: Signal<String>,
    on_set: Callback<String>,
    #[prop(optional)] step: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="number"
                data-testid=testid
                step=step.unwrap_or("1")
                min="0"
                prop:value=value
                on:change=move |ev| on_set.run(event_target_value(&ev))
            />
        </label>
    }
}

#[component]
pub fn TrainSweep(
    state: Memo<ExploreState>,
    set_state: Callback<ExploreState>,
    runner: Runner,
    /// Stored runs of the URL's plan, and how many it has in all.
    stored: Memo<(usize, usize)>,
    on_start: Callback<()>,
    /// Why starting failed (the band finds too few models ...), or storage trouble.
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let field = move |get: fn(&ExploreState) -> String| Signal::derive(move || state.with(get));
    // A field's edit: `f` applies the typed text to the state (ignoring what does not
    // parse), and the result is the new URL.
    let setter = move |f: fn(&mut ExploreState, &str)| {
        Callback::new(move |text: String| {
            let mut next = state.get_untracked();
            f(&mut next, text.trim());
            set_state.run(next);
        })
    };
    let queue = runner.queue;
    let phase = Memo::new(move |_| queue.with(|q| q.as_ref().map(|q| q.phase.clone())));
    let active =
        Memo::new(move |_| phase.with(|p| matches!(p, Some(Phase::Running | Phase::Paused))));
    let start_label = move || {
        let (done, total) = stored.get();
        if done > 0 && done < total {
            format!("Resume ({done} of {total} done)")
        } else if total > 0 && done == total {
            "Trained".to_string()
        } else {
            "Start".to_string()
        }
    };

    let spaces = Space::ALL
        .into_iter()
        .map(|space| {
            let size = state.with_untracked(|s| s.plan.sampler(space).size());
            let checked = move || state.with(|s| s.plan.spaces.contains(&space));
            let toggle = move |_| {
                let mut next = state.get_untracked();
                let spaces = &mut next.plan.spaces;
                match spaces.iter().position(|s| *s == space) {
                    Some(i) => {
                        spaces.remove(i);
                    }
                    None => spaces.push(space),
                }
                set_state.run(next);
            };
            view! {
                <label class="space">
                    <input type="checkbox" data-testid=format!("plan-space-{}", space.key()) prop:checked=checked on:change=toggle />
                    <span class="name">{space.label()}</span>
                    <span class="detail" title="distinct models the ranges allow, before the band">{format!("{size:.1e} models")}</span>
                </label>
            }
        })
        .collect_view();

    view! {
        <fieldset class="train-sweep" data-testid="train-sweep">
            <legend>"Train a sweep"</legend>
            <div class="spaces">{spaces}</div>
            <NumberField label="models per space " testid="plan-n"
                value=field(|s| s.plan.n.to_string())
                on_set=setter(|s, t| if let Ok(n) = t.parse::<usize>() { s.plan.n = n.clamp(1, MAX_MODELS) }) />
            <NumberField label="flops from (M) " testid="plan-mf-low" step="0.1"
                value=field(|s| format!("{}", s.plan.flops.low / 1e6))
                on_set=setter(|s, t| if let Ok(v) = t.parse::<f64>() { if v.is_finite() && v >= 0.0 { s.plan.flops.low = v * 1e6 } }) />
            <NumberField label="to (M, 0: open) " testid="plan-mf-high" step="0.1"
                value=field(|s| format!("{}", s.plan.flops.high / 1e6))
                on_set=setter(|s, t| if let Ok(v) = t.parse::<f64>() { if v.is_finite() && v >= 0.0 { s.plan.flops.high = v * 1e6 } }) />
            <NumberField label="epochs " testid="plan-epochs"
                value=field(|s| s.plan.recipe.epochs.to_string())
                on_set=setter(|s, t| if let Ok(e) = t.parse::<u32>() { s.plan.recipe.epochs = e.clamp(1, 100) }) />
            <NumberField label="training images " testid="plan-train"
                value=field(|s| s.plan.recipe.train_images.to_string())
                on_set=setter(|s, t| if let Ok(v) = t.parse::<usize>() { s.plan.recipe.train_images = v.clamp(s.plan.recipe.batch, 50_000) }) />
            <NumberField label="test images " testid="plan-test"
                value=field(|s| s.plan.recipe.test_images.to_string())
                on_set=setter(|s, t| if let Ok(v) = t.parse::<usize>() { s.plan.recipe.test_images = v.clamp(1, 10_000) }) />
            <NumberField label="training seed " testid="plan-seed"
                value=field(|s| s.plan.recipe.seed.to_string())
                on_set=setter(|s, t| if let Ok(v) = t.parse::<u32>() { s.plan.recipe.seed = u64::from(v) }) />
            <NumberField label="sample seed " testid="plan-sample"
                value=field(|s| s.plan.sample_seed.to_string())
                on_set=setter(|s, t| if let Ok(v) = t.parse::<u32>() { s.plan.sample_seed = u64::from(v) }) />
            <NumberField label="CPU workers " testid="plan-workers"
                value=field(|s| s.workers.unwrap_or_else(default_workers).to_string())
                on_set=setter(|s, t| if let Ok(v) = t.parse::<usize>() { s.workers = Some(v.clamp(1, MAX_WORKERS)) }) />
            <label>
                <input type="checkbox" data-testid="plan-gpu" prop:checked=move || state.with(|s| s.gpu)
                    on:change=move |_| { let mut next = state.get_untracked(); next.gpu = !next.gpu; set_state.run(next); } />
                " and a WebGPU worker"
            </label>
            <p class="help">
                "Each CPU worker trains one model at a time on one thread and holds its own copy of CIFAR-10, "
                "so several use the machine's cores; a WebGPU worker trains beside them. "
                "The spaces use the reference sweep's ranges, so its EDFs compare with yours."
            </p>
            <div class="buttons">
                <button data-testid="sweep-start" prop:disabled=move || active.get() || state.with(|s| s.plan.spaces.is_empty())
                    on:click=move |_| on_start.run(())>{start_label}</button>
                <button data-testid="sweep-pause" prop:disabled=move || !active.get()
                    on:click=move |_| if phase.get_untracked() == Some(Phase::Paused) { runner.resume() } else { runner.pause() }>
                    {move || if phase.get() == Some(Phase::Paused) { "Resume" } else { "Pause" }}
                </button>
                <button data-testid="sweep-cancel" prop:disabled=move || !active.get() on:click=move |_| runner.cancel()>"Cancel"</button>
            </div>
            <Show when=move || error.with(Option::is_some)>
                <div class="error" role="alert" data-testid="sweep-error">{move || error.get()}</div>
            </Show>
            {move || queue.with(|q| q.as_ref().map(progress_view))}
        </fieldset>
    }
}

/// The overall bar, the workers and the failures of `q`.
fn progress_view(q: &Queue) -> impl IntoView {
    let p = q.progress(js_sys::Date::now() / 1000.0);
    let rate = match (p.per_minute, p.left_s) {
        (Some(r), Some(left)) if p.done < p.total => {
            format!(", {r:.1} models/min, about {} left", minutes(left))
        }
        (Some(r), _) => format!(", {r:.1} models/min"),
        _ => String::new(),
    };
    let failed = if p.failed > 0 {
        format!(", {} failed", p.failed)
    } else {
        String::new()
    };
    let phase = match &q.phase {
        Phase::Stopped => "stopped".to_string(),
        Phase::Running => "running".to_string(),
        Phase::Paused => "paused".to_string(),
        Phase::Done => "done".to_string(),
        Phase::Halted(why) => format!("halted: {why}"),
    };
    let mut cpu = 0;
    let workers = q
        .workers
        .iter()
        .map(|w| {
            let name = match w.lane {
                Lane::Cpu => {
                    cpu += 1;
                    format!("CPU {cpu}")
                }
                Lane::Gpu if w.fallback.is_some() => "WebGPU worker, on the CPU".to_string(),
                Lane::Gpu => "WebGPU".to_string(),
            };
            let what = match &w.state {
                WorkerState::Booting => "starting".to_string(),
                WorkerState::Idle => "idle".to_string(),
                WorkerState::Retired(why) => format!("stopped: {why}"),
                WorkerState::Busy(j) => {
                    let job = &q.jobs[*j];
                    match &job.state {
                        JobState::Running {
                            facts, step, loss, ..
                        } => {
                            let total =
                                facts.map_or(String::from("?"), |f| f.total_steps.to_string());
                            let loss = loss.map_or(String::new(), |l| format!(", loss {l:.3}"));
                            format!("{}: step {step} of {total}{loss}", job.spec.label)
                        }
                        _ => format!("{}: stopping", job.spec.label),
                    }
                }
            };
            view! { <li data-testid="sweep-worker">{format!("{name}: {what}")}</li> }
        })
        .collect_view();
    let fallback = q.workers.iter().find_map(|w| w.fallback.clone());
    let failures = q
        .jobs
        .iter()
        .filter_map(|j| match &j.state {
            JobState::Done(r) => match &r.status {
                crate::run::RunStatus::Failed { message } => {
                    Some(format!("{} ({}): {message}", j.spec.label, j.sweep))
                }
                _ => None,
            },
            _ => None,
        })
        .map(|line| view! { <li data-testid="sweep-failed">{line}</li> })
        .collect_view();
    view! {
        <div class="sweep-progress">
            <progress data-testid="sweep-progress" max=p.total.to_string() value=p.done.to_string()></progress>
            <p data-testid="sweep-status">{format!("{} of {} models{failed}{rate} ({phase})", p.done, p.total)}</p>
            <ul class="workers">{workers}</ul>
            {fallback.map(|why| view! { <p class="notice inline" data-testid="sweep-gpu-notice">{why}</p> })}
            <ul class="failures">{failures}</ul>
        </div>
    }
}
