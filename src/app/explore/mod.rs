//! The design-space explorer (the `/explore` route): the reference sweep, imported
//! sweeps and sweeps trained here compared by their error EDFs, the KS distances read
//! against the sampling bound and the seed noise, and the random-search efficiency.
//! The view is the URL (`crate::explore`); the statistics are `crate::sweep`'s, the
//! geometry `crate::chart`'s, so this file only fetches, reads files and draws.
//! Training a sweep is `train` (the panel), `runner` (the workers) and `store` (the
//! runs kept in IndexedDB).

mod cache;
mod detail;
mod models;
mod params;
mod runner;
mod store;
mod train;

use std::fmt::Write;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use super::nav::SiteNav;
use super::notices::UrlNotice;
use super::plot::{Axes, MarkGroups};
use super::url_state::{go_to_query, Navigate};
use crate::chart::svg::{edf_plot, escape, search_plot, PALETTE};
use crate::chart::{EdfChart, Frame, SearchChart};
use crate::explore::{
    check_sweep_name, reference_url, ExploreState, Pick, MAX_BINS, REFERENCE, REFERENCE_NOISE,
    REFERENCE_RECIPE,
};
use crate::run::{RunId, RunRecord};
use crate::site;
use crate::stats::SearchPoint;
use crate::sweep::plan::SweepPlan;
use crate::sweep::queue::{JobState, Queue};
use crate::sweep::{
    compare, holds_all, seed_noise, Comparison, Measure, Normalize, SeedNoise, Sweep,
};
use runner::Runner;
use store::{Imported, Store, StoredRun};
use train::{default_workers, TrainSweep};

const FRAME: Frame = Frame {
    width: 640.0,
    height: 340.0,
    left: 52.0,
    right: 16.0,
    top: 16.0,
    bottom: 40.0,
};

/// The sweeps the page holds: the reference (fetched) and those the user imported.
#[derive(Clone, Default)]
pub(crate) struct Library {
    pub(crate) sweeps: Vec<Sweep>,
    /// The reference's seed-noise runs (not shown as sweeps of their own).
    noise: Vec<Sweep>,
    /// What could not be loaded, one line each.
    pub(crate) errors: Vec<String>,
    loading: bool,
}

impl Library {
    /// Adds `sweep` unless a sweep of its name is held already (an import can reach the
    /// page twice: from the file, and from the store it was just put in).
    fn add(&mut self, sweep: Sweep) {
        if !self.sweeps.iter().any(|s| s.name == sweep.name) {
            self.sweeps.push(sweep);
        }
    }
}

#[component]
pub fn Explore() -> impl IntoView {
    let query = use_query_map();
    let parsed = Memo::new(move |_| query.with(|q| ExploreState::from_query(|k| q.get(k))));
    let state = Memo::new(move |_| parsed.with(|p| p.state.clone()));
    let navigate = use_navigate();
    let navigate = StoredValue::new_local(Box::new(navigate) as Navigate);
    // Each change of view is a history entry: back undoes it.
    let set_state = Callback::new(move |next: ExploreState| {
        let map: ParamsMap = next.to_query().into_iter().collect();
        navigate.with_value(|go| go_to_query(go, &map, true));
    });

    // The parts of the view the plots hang on, so a change elsewhere (a pick, the
    // plan's inputs) does not redraw them.
    let pick = Memo::new(move |_| state.with(|s| s.pick.clone()));
    let normalize = Memo::new(move |_| state.with(|s| s.normalize));
    let on_pick = Callback::new(move |p: Option<Pick>| {
        let mut next = state.get_untracked();
        next.pick = p;
        set_state.run(next);
    });

    let library = RwSignal::new(Library {
        loading: true,
        ..Library::default()
    });
    // Runs trained in this browser (stored, and landed since), and the stored plans.
    let trained = RwSignal::new(Vec::<StoredRun>::new());
    let plans = RwSignal::new(Vec::<SweepPlan>::new());
    let store = StoredValue::new_local(None::<Store>);
    let train_error = RwSignal::new(None::<String>);
    // What went wrong with an import, a rename or a deletion, shown under the list.
    let list_error = RwSignal::new(None::<String>);
    // Whether the startup load (the reference, then the stored runs and imports) has
    // ended: an import waits for it, so its name is unique among them all and a stored
    // import of the same name is not overwritten.
    let settled = RwSignal::new(false);
    let base = super::base();
    // Dropped when the page is left: what it loads is only for this page's signals,
    // which reading after they are gone would panic.
    leptos::task::spawn_local_scoped_with_cancellation(async move {
        let loaded = load_reference(&base).await;
        library.set(loaded);
        load_stored(library, trained, plans, store, train_error).await;
        settled.set(true);
    });

    let on_landed = Callback::new(move |(plan_sweep, record): (String, RunRecord)| {
        // A sweep renamed while it trains keeps its new name.
        let (sweep, origin) = trained.with_untracked(|t| {
            t.iter()
                .find(|r| r.plan_sweep() == plan_sweep)
                .map_or((plan_sweep.clone(), None), |r| {
                    (r.sweep.clone(), r.origin.clone())
                })
        });
        let run = StoredRun {
            sweep: sweep.clone(),
            origin,
            record,
        };
        trained.update(|t| t.push(run.clone()));
        refresh_sweep(library, trained, &sweep);
        if let Some(store) = store.get_value() {
            leptos::task::spawn_local(async move {
                if let Err(e) = store.put_run(&run).await {
                    train_error.set(Some(e));
                }
            });
        }
    });
    // A landed run is drawn in a task after the worker's message, not inside it (see
    // `deferred`).
    let on_record = Callback::new(move |landed: (String, RunRecord)| {
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(0).await;
            // Not once the page is left (its runner's workers are gone with it).
            on_landed.try_run(landed);
        });
    });
    let runner = Runner::new(on_record);
    // Deletes a trained sweep here and in the store (not while it trains).
    // Whether the sweep shown as `name` is in the running queue.
    let training = move |name: &str| {
        let plan_name = trained.with_untracked(|t| {
            t.iter()
                .find(|r| r.sweep == name)
                .map_or(name.to_string(), |r| r.plan_sweep().to_string())
        });
        runner.queue.with_untracked(|q| {
            q.as_ref()
                .is_some_and(|q| q.active() && q.jobs.iter().any(|j| j.sweep == plan_name))
        })
    };
    let on_delete = Callback::new(move |name: String| {
        if training(&name) {
            list_error.set(Some(format!(
                "{name} is training: cancel the sweep before deleting it"
            )));
            return;
        }
        let runs = trained.with_untracked(|t| t.iter().filter(|r| r.sweep == name).count());
        let asked = match runs {
            0 => format!("Delete the imported sweep {name} from this browser?"),
            n => format!("Delete the {n} stored runs of {name}? This cannot be undone."),
        };
        if !window().confirm_with_message(&asked).unwrap_or(false) {
            return;
        }
        // The store first, then the page: once the sweep is gone from the page it is
        // gone from the store too, so a reload right after cannot bring it back.
        leptos::task::spawn_local(async move {
            if let Some(store) = store.try_get_value().flatten() {
                let deleted = match store.delete_sweep(&name).await {
                    Ok(()) => store.delete_import(&name).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = deleted {
                    list_error.set(Some(e));
                }
            }
            trained.update(|t| t.retain(|r| r.sweep != name));
            library.update(|lib| lib.sweeps.retain(|s| s.name != name));
            // The store is done with; the page's URL only while the page is shown.
            let Some(mut next) = state.try_get_untracked() else {
                return;
            };
            next.show.retain(|n| *n != name);
            if next.pick.as_ref().is_some_and(|p| p.sweep == name) {
                next.pick = None;
            }
            set_state.try_run(next);
        });
    });
    // Renames a trained or imported sweep here, in the store and in the URL.
    let on_rename = Callback::new(move |old: String| {
        if training(&old) {
            list_error.set(Some(format!(
                "{old} is training: pause or cancel the sweep before renaming it"
            )));
            return;
        }
        let asked = window()
            .prompt_with_message_and_default(&format!("A new name for {old}:"), &old)
            .ok()
            .flatten();
        let Some(asked) = asked else { return };
        let taken = |n: &str| {
            n != old && library.with_untracked(|lib| lib.sweeps.iter().any(|s| s.name == n))
        };
        let new = match check_sweep_name(&asked, taken) {
            Ok(new) if new == old => return,
            Ok(new) => new,
            Err(e) => {
                list_error.set(Some(format!("{old} keeps its name: {e}")));
                return;
            }
        };
        list_error.set(None);
        // The store first, then the page (as for a deletion).
        leptos::task::spawn_local(async move {
            if let Some(store) = store.try_get_value().flatten() {
                if let Err(e) = store.rename_sweep(&old, &new).await {
                    list_error.set(Some(format!("{new} is renamed on this page only: {e}")));
                }
            }
            trained.update(|t| {
                for r in t.iter_mut().filter(|r| r.sweep == old) {
                    r.origin.get_or_insert_with(|| old.clone());
                    r.sweep = new.clone();
                }
            });
            library.update(|lib| {
                for s in lib.sweeps.iter_mut().filter(|s| s.name == old) {
                    s.name = new.clone();
                }
            });
            let Some(mut next) = state.try_get_untracked() else {
                return;
            };
            next.rename(&old, &new);
            set_state.try_run(next);
        });
    });
    // The key of the plan the runner's queue holds.
    let running_plan = StoredValue::new(None::<String>);
    let stored_of_plan = Memo::new(move |_| {
        let plan = state.with(|s| s.plan.clone());
        let names: Vec<String> = plan.spaces.iter().map(|&s| plan.sweep_name(s)).collect();
        let done = trained.with(|t| {
            t.iter()
                .filter(|r| names.iter().any(|n| n == r.plan_sweep()))
                .filter(|r| {
                    r.record
                        .spec
                        .sweep
                        .as_ref()
                        .is_some_and(|s| s.index < plan.n)
                })
                .count()
        });
        (done, plan.n * plan.spaces.len())
    });
    let on_start = Callback::new(move |()| {
        let s = state.get_untracked();
        let plan = s.plan.clone();
        train_error.set(None);
        let key = plan.key();
        let same = running_plan.get_value().as_ref() == Some(&key);
        if same
            && runner
                .queue
                .with_untracked(|q| q.as_ref().is_some_and(|q| !q.active() && q.left() > 0))
        {
            runner.restart();
            return;
        }
        let sweeps = match plan.draw() {
            Ok(sweeps) => sweeps,
            Err(e) => {
                train_error.set(Some(e.to_string()));
                return;
            }
        };
        let last = trained.with_untracked(|t| t.iter().map(|r| r.record.spec.id).max());
        let first = RunId::next(last, js_sys::Date::now() as u64);
        let mut jobs = plan.jobs(&sweeps, first);
        trained.with_untracked(|t| {
            for job in &mut jobs {
                let index = job.spec.sweep.as_ref().map(|s| s.index);
                let stored = t.iter().find(|r| {
                    r.plan_sweep() == job.sweep
                        && r.record.spec.sweep.as_ref().map(|s| s.index) == index
                });
                if let Some(r) = stored {
                    job.state = JobState::Done(Box::new(r.record.clone()));
                }
            }
        });
        let queue = Queue::new(jobs, s.workers.unwrap_or_else(default_workers), s.gpu);
        if queue.left() == 0 {
            train_error.set(Some("every model of this sweep is trained already".into()));
            return;
        }
        running_plan.set_value(Some(key));
        if let Some(store) = store.get_value() {
            let plan = plan.clone();
            leptos::task::spawn_local(async move {
                if let Err(e) = store.put_plan(&plan).await {
                    train_error.set(Some(e));
                }
            });
        }
        plans.update(|p| {
            if !p.contains(&plan) {
                p.push(plan.clone());
            }
        });
        // Show the new sweeps beside whatever is shown (by their names here: a renamed
        // one keeps its new name).
        let mut next = s;
        for sweep in &sweeps {
            let name = trained.with_untracked(|t| {
                t.iter()
                    .find(|r| r.plan_sweep() == sweep.name)
                    .map_or(sweep.name.clone(), |r| r.sweep.clone())
            });
            if !next.show.contains(&name) {
                next.show.push(name);
            }
        }
        set_state.run(next);
        runner.run(queue);
    });
    // Stored plans with models still to train, other than the URL's.
    let unfinished = Memo::new(move |_| {
        let current = state.with(|s| s.plan.key());
        plans.with(|plans| {
            trained.with(|t| {
                plans
                    .iter()
                    .filter(|p| p.key() != current)
                    .filter_map(|p| {
                        let names: Vec<String> =
                            p.spaces.iter().map(|&s| p.sweep_name(s)).collect();
                        let done = t
                            .iter()
                            .filter(|r| names.iter().any(|n| n == r.plan_sweep()))
                            .count();
                        let total = p.n * p.spaces.len();
                        (done < total).then(|| (p.clone(), done, total))
                    })
                    .collect::<Vec<_>>()
            })
        })
    });

    // The shown sweeps, in the URL's order, and the names the page does not hold.
    let shown = Memo::new(move |_| {
        let names = state.with(|s| s.show.clone());
        library.with(|lib| {
            names
                .iter()
                .filter_map(|n| lib.sweeps.iter().find(|s| &s.name == n).cloned())
                .collect::<Vec<Sweep>>()
        })
    });
    let notices = Memo::new(move |_| {
        let mut notices = parsed.with(|p| p.notices.clone());
        library.with(|lib| {
            if !lib.loading {
                for name in state.with(|s| s.show.clone()) {
                    if !lib.sweeps.iter().any(|s| s.name == name) {
                        notices.push(format!(
                            "sweep '{name}' is not in this browser: import its file to see it"
                        ));
                    }
                }
            }
        });
        notices
    });
    // The plots below the EDF redraw a task later each, so a landing run's redraw is
    // a few short tasks instead of one long one.
    let later = deferred(shown);
    let latest = deferred(later);
    let later_colours = Signal::derive(move || {
        library.with(|lib| later.with(|s| s.iter().map(|s| colour_of(lib, &s.name)).collect()))
    });
    let comparison: Memo<Result<Comparison, String>> = Memo::new(move |_| {
        let normalize = state.with(|s| {
            s.normalize.map(|measure| Normalize {
                measure,
                bins: s.bins,
                range: None,
            })
        });
        shown.with(|sweeps| compare(sweeps, normalize).map_err(|e| e.to_string()))
    });
    // What the results show: nothing, the comparison's error, or the EDF plot. The
    // plot redraws its own parts, so a landing run does not rebuild it.
    let showing = Memo::new(move |_| {
        if shown.with(Vec::is_empty) {
            return None;
        }
        Some(comparison.with(|c| c.as_ref().map(|_| ()).map_err(Clone::clone)))
    });
    let noise: Memo<Option<SeedNoise>> = Memo::new(move |_| {
        library.with(|lib| {
            let first = lib.noise.first()?;
            let mut replicas: Vec<&Sweep> = lib.noise.iter().collect();
            replicas.extend(lib.sweeps.iter().filter(|s| holds_all(s, first)));
            seed_noise(&replicas).ok()
        })
    });

    let on_import = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        input.set_value("");
        let current = state.get_untracked();
        leptos::task::spawn_local(async move {
            // After the startup load (or once the page is gone: its imports are kept).
            until(settled).await;
            let mut next = current;
            let mut errors = vec![];
            for file in files {
                let name = file.name();
                let text = match JsFuture::from(file.text()).await {
                    Ok(t) => t.as_string().unwrap_or_default(),
                    Err(_) => {
                        errors.push(format!("{name}: the browser could not read the file"));
                        continue;
                    }
                };
                let stem = name
                    .rsplit_once('.')
                    .map_or(name.as_str(), |(stem, _)| stem)
                    .to_string();
                match Sweep::read(&stem, &text) {
                    Ok(mut sweep) => {
                        // The page may be gone by now: its imports are still kept.
                        sweep.name = library
                            .try_with_untracked(|lib| unique_name(lib, &sweep.name))
                            .unwrap_or(sweep.name);
                        next.show.push(sweep.name.clone());
                        // Kept for the next visit (a failure to keep it is said, and the
                        // sweep stays shown).
                        // (Before the page's own store is open, a connection of its own.)
                        let kept = match store.try_get_value().flatten() {
                            Some(store) => Ok(store),
                            None => Store::open().await,
                        };
                        let import = Imported {
                            name: sweep.name.clone(),
                            text: text.clone(),
                        };
                        let kept = match kept {
                            Ok(store) => store.put_import(&import).await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = kept {
                            errors.push(format!("{name} is shown but not kept: {e}"));
                        }
                        library.update(|lib| lib.add(sweep));
                    }
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
            list_error.set((!errors.is_empty()).then(|| errors.join("; ")));
            set_state.try_run(next);
        });
    };

    let edf_svg = Memo::new(move |_| {
        comparison.with(|c| {
            c.as_ref().ok().map(|c| {
                let series: Vec<(&str, &crate::stats::Edf)> = c
                    .sweeps
                    .iter()
                    .map(|s| s.name.as_str())
                    .zip(&c.edfs)
                    .collect();
                edf_plot("Error EDFs", "error (%)", &series)
            })
        })
    });
    let search_cache = StoredValue::new_local(cache::PerSweep::<Vec<SearchPoint>>::new());
    let searches = Memo::new(move |_| {
        latest.with(|sweeps| {
            search_cache.with_value(|cache| {
                sweeps
                    .iter()
                    .map(|s| {
                        let curve = cache.get(s, "", |s| {
                            let mut rng =
                                <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
                            s.search_curve(1_000, &mut rng)
                        });
                        (s.name.clone(), curve)
                    })
                    .collect::<Vec<(String, Vec<SearchPoint>)>>()
            })
        })
    });

    view! {
        <header>
            <SiteNav current=site::EXPLORE />
            <h1>"Comparing design spaces"</h1>
            <p class="lede">
                "A design space is a population of models. The paper compares two spaces by sampling models from each, "
                "training them all the same way, and plotting the "
                <em>"empirical distribution function"</em>
                " (EDF) of their errors: F(e) is the fraction of models with error at most e. "
                "A curve further up and to the left means a better space."
            </p>
        </header>
        <UrlNotice notices=notices />
        <main class="explore">
            <aside class="controls">
                <SweepList library=library state=state set_state=set_state trained=trained on_delete=on_delete on_rename=on_rename />
                <label class="import">
                    "Import sweeps (regnet sweep .jsonl, pycls sweep.json, NDS records)"
                    <input type="file" data-testid="sweep-import" accept=".json,.jsonl,application/json" multiple on:change=on_import />
                </label>
                <Show when=move || list_error.with(Option::is_some)>
                    <div class="error" data-testid="list-error" role="alert">{move || list_error.get()}</div>
                </Show>
                <NormalizeControls state=state set_state=set_state />
                <TrainSweep state=state set_state=set_state runner=runner stored=stored_of_plan on_start=on_start error=train_error />
                <models::PlanPreview plan=Memo::new(move |_| state.with(|s| s.plan.clone())) />
                <Show when=move || unfinished.with(|u| !u.is_empty())>
                    <ul class="unfinished" data-testid="unfinished-sweeps">
                        {move || unfinished.get().into_iter().map(|(plan, done, total)| {
                            let names: Vec<&str> = plan.spaces.iter().map(|s| s.key()).collect();
                            let text = format!("{} ({done} of {total} models trained)", names.join(", "));
                            let open = move |_| {
                                let mut next = state.get_untracked();
                                next.plan = plan.clone();
                                set_state.run(next);
                            };
                            view! { <li>"Unfinished sweep: " {text} " " <button data-testid="open-unfinished" on:click=open>"Open it"</button></li> }
                        }).collect_view()}
                    </ul>
                </Show>
            </aside>
            <section class="results">
                <Show when=move || library.with(|l| l.loading)>
                    <p data-testid="explore-loading">"Loading the reference sweep..."</p>
                </Show>
                <Show when=move || library.with(|l| !l.errors.is_empty())>
                    <div class="error" role="alert" data-testid="reference-error">
                        {move || library.with(|l| l.errors.join("; "))}
                    </div>
                </Show>
                <p class="recipe">"Reference sweep: " {REFERENCE_RECIPE} "."</p>
                {move || match showing.get() {
                    None => view! { <p>"No sweep shown: tick one on the left."</p> }.into_any(),
                    Some(Err(e)) => {
                        view! { <div class="error" role="alert" data-testid="compare-error">{e}</div> }.into_any()
                    }
                    Some(Ok(())) => view! {
                        <EdfPlot
                            comparison=comparison
                            sweeps=shown
                            normalize=normalize
                            colours=Signal::derive(move || {
                                library.with(|lib| comparison.with(|c| {
                                    c.iter().flat_map(|c| &c.sweeps).map(|s| colour_of(lib, &s.name)).collect()
                                }))
                            })
                            pick=pick
                            on_pick=on_pick
                        />
                        <DownloadLink name="edf.svg" svg=edf_svg />
                    }
                    .into_any(),
                }}
                // The model a mark opens, just under the marks.
                <detail::ModelDetail
                    sweeps=later
                    pick=pick
                    colours=later_colours
                    on_close=Callback::new(move |()| on_pick.run(None))
                />
                {move || comparison.get().ok().filter(|_| !shown.with(Vec::is_empty)).map(|c| view! {
                    <SummaryTable comparison=c.clone() />
                    <KsTable comparison=c noise=noise />
                })}
                <params::ParamPlot
                    sweeps=later
                    colours=later_colours
                    param=Memo::new(move |_| state.with(|s| s.param.clone()))
                    on_param=Callback::new(move |p: String| {
                        let mut next = state.get_untracked();
                        next.param = p;
                        set_state.run(next);
                    })
                />
                <SearchPlot
                    searches=searches
                    colours=Signal::derive(move || {
                        library.with(|lib| searches.with(|s| s.iter().map(|(n, _)| colour_of(lib, n)).collect()))
                    })
                />
            </section>
        </main>
    }
}

/// `source`'s value a task later. Views that read it redraw in a task of their own, so
/// one change (a run landing) is not every plot's redraw in a single long main-thread
/// task. A run of changes ends on the last value.
fn deferred<T: Clone + PartialEq + Send + Sync + 'static>(source: Memo<T>) -> Memo<T> {
    let value = RwSignal::new(source.get_untracked());
    Effect::new(move |_| {
        let next = source.get();
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(0).await;
            value.set(next);
        });
    });
    Memo::new(move |_| value.get())
}

/// A sweep's colour: fixed by its place among the held sweeps, so hiding or showing
/// others never recolours it.
fn colour_of(lib: &Library, name: &str) -> &'static str {
    let i = lib.sweeps.iter().position(|s| s.name == name).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Rebuilds the held sweep `name` from the trained runs (a new one goes last).
fn refresh_sweep(library: RwSignal<Library>, trained: RwSignal<Vec<StoredRun>>, name: &str) {
    let records: Vec<RunRecord> = trained.with_untracked(|t| {
        t.iter()
            .filter(|r| r.sweep == name)
            .map(|r| r.record.clone())
            .collect()
    });
    let sweep = Sweep::from_records(name, &records);
    library.update(|lib| match lib.sweeps.iter_mut().find(|s| s.name == name) {
        Some(held) => *held = sweep,
        None => lib.sweeps.push(sweep),
    });
}

/// A name no held sweep has: `name`, else `name (2)`, `name (3)` ...
fn unique_name(lib: &Library, name: &str) -> String {
    let taken = |n: &str| lib.sweeps.iter().any(|s| s.name == n);
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|i| format!("{name} ({i})"))
        .find(|n| !taken(n))
        .expect("some suffix is free")
}

/// Opens the store and adds its runs, plans and imports to the page's signals; what
/// fails is said in `train_error`.
async fn load_stored(
    library: RwSignal<Library>,
    trained: RwSignal<Vec<StoredRun>>,
    plans: RwSignal<Vec<SweepPlan>>,
    store: StoredValue<Option<Store>, LocalStorage>,
    train_error: RwSignal<Option<String>>,
) {
    match Store::open().await {
        Ok(opened) => {
            store.set_value(Some(opened.clone()));
            match opened.load().await {
                Ok(stored) => {
                    // Imports read again with today's parser; one that no longer
                    // reads is named, not dropped from the store.
                    for import in &stored.imports {
                        match Sweep::read(&import.name, &import.text) {
                            Ok(sweep) => library.update(|lib| lib.add(sweep)),
                            Err(e) => library.update(|lib| {
                                lib.errors
                                    .push(format!("stored import {}: {e}", import.name))
                            }),
                        }
                    }
                    trained.set(stored.runs);
                    plans.set(stored.plans);
                    let names: Vec<String> = trained.with_untracked(|t| {
                        let mut names: Vec<String> = t.iter().map(|r| r.sweep.clone()).collect();
                        names.dedup();
                        names
                    });
                    for name in names {
                        refresh_sweep(library, trained, &name);
                    }
                    if stored.skipped > 0 {
                        train_error.set(Some(format!(
                            "{} stored runs could not be read (from a newer build of the page?) \
                             and are left as they are",
                            stored.skipped
                        )));
                    }
                }
                Err(e) => train_error.set(Some(format!("could not read the stored runs: {e}"))),
            }
        }
        Err(e) => train_error.set(Some(e)),
    }
}

/// Waits until `flag` is set, or the page holding it is gone. (A signal gives no
/// future to await; the startup load it waits for takes a moment.)
async fn until(flag: RwSignal<bool>) {
    while flag.try_get_untracked() == Some(false) {
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
}

/// Fetches the reference sweep's files; a file that fails is named, the rest load.
/// (The lessons show the same files.)
pub(crate) async fn load_reference(base: &str) -> Library {
    let mut lib = Library::default();
    for (name, is_noise) in REFERENCE
        .iter()
        .map(|n| (n, false))
        .chain(REFERENCE_NOISE.iter().map(|n| (n, true)))
    {
        let url = reference_url(base, name);
        match fetch_text(&url)
            .await
            .and_then(|text| Sweep::read(name, &text).map_err(|e| e.to_string()))
        {
            Ok(sweep) if is_noise => lib.noise.push(sweep),
            Ok(sweep) => lib.sweeps.push(sweep),
            Err(e) => lib.errors.push(format!("reference sweep {name}: {e}")),
        }
    }
    lib
}

async fn fetch_text(url: &str) -> Result<String, String> {
    let response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|_| format!("could not fetch {url}"))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| "not a response".to_string())?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    // A single-page server answers a missing file with the page itself.
    let html = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        return Err(format!("{url} is not on this site"));
    }
    let text = response.text().map_err(|_| format!("{url}: no body"))?;
    JsFuture::from(text)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| format!("{url}: the body is not text"))
}

/// One checkbox per held sweep: ticked ones are shown (in the URL's order).
#[component]
fn SweepList(
    library: RwSignal<Library>,
    state: Memo<ExploreState>,
    set_state: Callback<ExploreState>,
    trained: RwSignal<Vec<StoredRun>>,
    on_delete: Callback<String>,
    on_rename: Callback<String>,
) -> impl IntoView {
    // A trained sweep's records as `regnet sweep` writes them (one JSON line each), to
    // keep, share or plot with `regnet analyze`.
    let export = move |name: &str| {
        let lines: Vec<String> = trained.with_untracked(|t| {
            t.iter()
                .filter(|r| r.sweep == name)
                .filter_map(|r| serde_json::to_string(&r.record).ok())
                .collect()
        });
        (!lines.is_empty()).then(|| {
            format!(
                "data:application/x-ndjson;charset=utf-8,{}",
                String::from(js_sys::encode_uri_component(&(lines.join("\n") + "\n")))
            )
        })
    };
    view! {
        <fieldset class="sweeps" data-testid="sweep-list">
            <legend>"Sweeps"</legend>
            {move || {
                library
                    .with(|lib| lib.sweeps.iter().map(|s| (s.name.clone(), s.models.len(), s.unfinished)).collect::<Vec<_>>())
                    .into_iter()
                    .map(|(name, n, unfinished)| {
                        let checked = {
                            let name = name.clone();
                            move || state.with(|s| s.show.contains(&name))
                        };
                        let toggle = {
                            let name = name.clone();
                            move |_| {
                                let mut next = state.get_untracked();
                                next.toggle(&name);
                                set_state.run(next);
                            }
                        };
                        let detail = if unfinished > 0 {
                            format!("{n} models, {unfinished} unfinished")
                        } else {
                            format!("{n} models")
                        };
                        // The file is written on the click, not on every redraw.
                        let has_runs = trained.with(|t| t.iter().any(|r| r.sweep == name));
                        let download = has_runs.then(|| {
                            let target = name.clone();
                            let on_click = move |ev: leptos::ev::MouseEvent| {
                                let link = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
                                if let (Some(link), Some(href)) = (link, export(&target)) {
                                    let _ = link.set_attribute("href", &href);
                                }
                            };
                            view! {
                                <a class="download" download=format!("{name}.jsonl") href="#" on:click=on_click
                                    data-testid=format!("export-{name}") title="the runs as regnet sweep writes them">"export"</a>
                            }
                        });
                        // Trained and imported sweeps can go; the reference ships with the site.
                        let delete = (!REFERENCE.contains(&name.as_str())).then(|| {
                            let (target, again) = (name.clone(), name.clone());
                            view! {
                                <button class="small" data-testid=format!("rename-{name}") title="rename this sweep"
                                    on:click=move |_| on_rename.run(again.clone())>"rename"</button>
                                <button class="small" data-testid=format!("delete-{name}") title="delete this sweep from this browser"
                                    on:click=move |_| on_delete.run(target.clone())>"delete"</button>
                            }
                        });
                        view! {
                            <label class="sweep">
                                <input type="checkbox" data-testid=format!("sweep-toggle-{name}") prop:checked=checked on:change=toggle />
                                <span class="name">{name.clone()}</span>
                                <span class="detail">{detail}</span>
                                {download}
                                {delete}
                            </label>
                        }
                    })
                    .collect_view()
            }}
        </fieldset>
    }
}

/// Plain or complexity-normalised EDFs, and the normalisation's bins.
#[component]
fn NormalizeControls(
    state: Memo<ExploreState>,
    set_state: Callback<ExploreState>,
) -> impl IntoView {
    let value = move || state.with(|s| s.normalize.map_or("none", Measure::name));
    view! {
        <fieldset class="normalize">
            <legend>"EDF"</legend>
            <label>
                "Normalise by "
                <select
                    data-testid="explore-norm"
                    prop:value=value
                    on:change=move |ev| {
                        let mut next = state.get_untracked();
                        next.normalize = match event_target_value(&ev).as_str() {
                            "flops" => Some(Measure::Flops),
                            "params" => Some(Measure::Params),
                            _ => None,
                        };
                        set_state.run(next);
                    }
                >
                    <option value="none">"nothing (plain EDF)"</option>
                    <option value="flops">"flops"</option>
                    <option value="params">"params"</option>
                </select>
            </label>
            <label>
                "bins "
                <input
                    type="number"
                    data-testid="explore-bins"
                    min="2"
                    max=MAX_BINS.to_string()
                    prop:value=move || state.with(|s| s.bins.to_string())
                    prop:disabled=move || state.with(|s| s.normalize.is_none())
                    on:change=move |ev| {
                        if let Ok(b) = event_target_value(&ev).parse::<usize>() {
                            let mut next = state.get_untracked();
                            next.bins = b.clamp(2, MAX_BINS);
                            set_state.run(next);
                        }
                    }
                />
            </label>
            <p class="help">
                "Normalising (the NDS paper) weighs each space's models so every complexity bin counts the same, "
                "so a space is not favoured for sampling more of its models where errors are low."
            </p>
        </fieldset>
    }
}

/// The EDFs overlaid; each curve carries its sweep's name, n, min and mean as data.
/// Each part redraws on its own: a run landing rebuilds its sweep's curve and marks,
/// and the other sweeps' marks stay as they are (see `MarkGroups`).
#[component]
fn EdfPlot(
    /// Drawn while it is `Ok`.
    comparison: Memo<Result<Comparison, String>>,
    /// The shown sweeps (the comparison's order): their models are the marks.
    sweeps: Memo<Vec<Sweep>>,
    normalize: Memo<Option<Measure>>,
    /// One per compared sweep.
    colours: Signal<Vec<&'static str>>,
    /// The open model, ringed; a click (or Enter) on a mark opens its model.
    pick: Memo<Option<Pick>>,
    on_pick: Callback<Option<Pick>>,
) -> impl IntoView {
    let chart = Memo::new(move |_| {
        comparison.with(|c| {
            let edfs: Vec<&crate::stats::Edf> = c.iter().flat_map(|c| &c.edfs).collect();
            EdfChart::new(&edfs, None, &FRAME)
        })
    });
    let x_label = Signal::derive(move || match normalize.get() {
        Some(m) => format!("error (%), normalised by {}", m.name()),
        None => "error (%)".to_string(),
    });
    let colour = move |i: usize| colours.with(|c| c.get(i).copied().unwrap_or(PALETTE[0]));
    let curves = move || {
        comparison.with(|c| {
            chart.with(|chart| {
                c.iter()
                    .flat_map(|c| &c.sweeps)
                    .zip(&chart.paths)
                    .enumerate()
                    .map(|(i, (s, path))| {
                        view! {
                            <path
                                class="edf"
                                data-testid="edf-curve"
                                data-name=s.name.clone()
                                data-n=s.n.to_string()
                                data-min=format!("{:.2}", s.min)
                                data-mean=format!("{:.2}", s.mean)
                                d=path.clone()
                                stroke=colour(i)
                            >
                                <title>{format!("{}: n = {}, min {:.1}%, mean {:.1}%, median {:.1}%", s.name, s.n, s.min, s.mean, s.median)}</title>
                            </path>
                        }
                    })
                    .collect_view()
            })
        })
    };
    // One mark per model on its sweep's EDF: hovering names the model and its error;
    // a click (or Enter) opens its details and curves below the plot. One listener on
    // the plot serves every mark, and the open model's ring is one element.
    let marks = Memo::new(move |_| {
        comparison.with(|c| {
            let Ok(c) = c else { return vec![] };
            chart.with(|chart| {
                sweeps.with(|sweeps| {
                    sweeps
                        .iter()
                        .zip(&c.edfs)
                        .enumerate()
                        .map(|(i, (sweep, edf))| {
                            let name = escape(&sweep.name);
                            let fill = colour(i);
                            let mut group = String::new();
                            for m in &sweep.models {
                                let (x, y) = chart.point(m.error, edf.at(m.error));
                                let _ = write!(
                                    group,
                                    r#"<circle class="mark" data-testid="edf-mark" data-name="{name}" data-id="{}" data-error="{:.2}" cx="{x:.1}" cy="{y:.1}" r="3" fill="{fill}" tabindex="0" role="button"><title>{name}: {} ({:.2}% error, {:.2} MF)</title></circle>"#,
                                    m.id,
                                    m.error,
                                    escape(&m.label()),
                                    m.error,
                                    m.flops as f64 / 1e6
                                );
                            }
                            group
                        })
                        .collect()
                })
            })
        })
    });
    let ring = move || {
        let p = pick.get()?;
        let (x, y) = comparison.with(|c| {
            let c = c.as_ref().ok()?;
            sweeps.with(|sweeps| {
                let i = sweeps.iter().position(|s| s.name == p.sweep)?;
                let m = sweeps[i].model(p.id)?;
                let edf = c.edfs.get(i)?;
                Some(chart.with(|chart| chart.point(m.error, edf.at(m.error))))
            })
        })?;
        Some(
            view! { <circle class="ring" data-testid="edf-picked" cx=format!("{x:.1}") cy=format!("{y:.1}") r="6" /> },
        )
    };
    // The mark an event landed on, as a pick.
    let picked_by = |target: Option<web_sys::EventTarget>| -> Option<Pick> {
        let mark = target?
            .dyn_into::<web_sys::Element>()
            .ok()?
            .closest("circle.mark")
            .ok()??;
        Some(Pick {
            sweep: mark.get_attribute("data-name")?,
            id: mark.get_attribute("data-id")?.parse().ok()?,
        })
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(p) = picked_by(ev.target()) {
            on_pick.run(Some(p));
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" || ev.key() == " " {
            if let Some(p) = picked_by(ev.target()) {
                ev.prevent_default();
                on_pick.run(Some(p));
            }
        }
    };
    let legend = move || {
        comparison.with(|c| {
            c.iter()
                .flat_map(|c| c.sweeps.iter().zip(&c.edfs))
                .enumerate()
                .map(|(i, (s, edf))| {
                    view! {
                        <span class="key"><span class="swatch" style=format!("background:{}", colour(i))></span>
                            {format!("{}  {}", s.name, edf.legend())}</span>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="plot">
            <svg
                data-testid="edf-plot"
                on:click=on_click
                on:keydown=on_key
                viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height)
                role="group"
                aria-label="Error EDFs of the shown sweeps"
            >
                <Axes frame=FRAME ticks=Signal::derive(move || chart.with(|c| (c.x_ticks.clone(), c.y_ticks.clone()))) x_label=x_label y_label="cumulative prob." />
                {curves}
                <MarkGroups groups=marks />
                {ring}
            </svg>
            <figcaption class="legend">"name  n|min|mean (pycls's legend) " {legend}</figcaption>
        </figure>
    }
}

/// A link that downloads an SVG the CLI would also write (`regnet analyze --svg`). The
/// SVG is drawn on the click: `svg` is a lazy memo, so a redraw of the page (a run
/// landing) does not write it.
#[component]
fn DownloadLink(name: &'static str, svg: Memo<Option<String>>) -> impl IntoView {
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let link = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        if let (Some(link), Some(svg)) = (link, svg.get_untracked()) {
            let href = format!(
                "data:image/svg+xml;charset=utf-8,{}",
                String::from(js_sys::encode_uri_component(&svg))
            );
            let _ = link.set_attribute("href", &href);
        }
    };
    view! { <a class="download" download=name href="#" on:click=on_click data-testid=format!("download-{name}")>{format!("Download {name}")}</a> }
}

#[component]
fn SummaryTable(comparison: Comparison) -> impl IntoView {
    let rows = comparison
        .sweeps
        .iter()
        .map(|s| {
            view! {
                <tr data-testid="summary-row">
                    <td>{s.name.clone()}</td>
                    <td>{s.n.to_string()}</td>
                    <td>{format!("{:.1}", s.min)}</td>
                    <td>{format!("{:.1}", s.mean)}</td>
                    <td>{format!("{:.1}", s.median)}</td>
                    <td>{if s.unfinished > 0 { s.unfinished.to_string() } else { String::new() }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="summary">
            <caption>"Test error (%) of each sweep"</caption>
            <thead><tr><th>"sweep"</th><th>"n"</th><th>"min"</th><th>"mean"</th><th>"median"</th><th>"unfinished"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Every pair's KS distance next to what noise alone gives: the 5% sampling bound at
/// the two sizes and, when the reference's seed runs are held, the seed noise.
#[component]
fn KsTable(comparison: Comparison, noise: Memo<Option<SeedNoise>>) -> impl IntoView {
    let pairs = comparison.ks.clone();
    view! {
        <table class="ks" data-testid="ks-table">
            <caption>"KS distance between EDFs (0: the same, 1: no overlap)"</caption>
            <thead><tr><th>"pair"</th><th>"KS"</th><th>"5% sampling bound"</th><th>"verdict"</th></tr></thead>
            <tbody>
                {move || {
                    let seed_max = noise.with(|n| n.as_ref().map(|n| n.ks_max));
                    pairs
                        .iter()
                        .map(|p| {
                            let real = p.d > p.critical && seed_max.is_none_or(|m| p.d > m);
                            view! {
                                <tr data-testid="ks-row" data-a=p.a.clone() data-b=p.b.clone() data-d=format!("{:.4}", p.d)>
                                    <td>{format!("{} vs {}", p.a, p.b)}</td>
                                    <td>{format!("{:.3}", p.d)}</td>
                                    <td>{format!("{:.3}", p.critical)}</td>
                                    <td>{if real { "a real difference" } else { "within noise" }}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
        {move || noise.get().map(|n| view! {
            <p class="noise" data-testid="seed-noise">
                {format!(
                    "Seed noise: {} reference models trained with {} seeds; one model's error moves by {:.2} points (sd), \
                     and the KS distance between the seeds' EDFs is {:.3} on average, {:.3} at most.",
                    n.models, n.seeds, n.sd, n.ks_mean, n.ks_max
                )}
            </p>
        })}
    }
}

/// NDS's random-search efficiency: the best error of k models drawn at random.
#[component]
fn SearchPlot(
    searches: Memo<Vec<(String, Vec<SearchPoint>)>>,
    colours: Signal<Vec<&'static str>>,
) -> impl IntoView {
    let svg = Memo::new(move |_| {
        searches.with(|s| {
            (!s.is_empty()).then(|| {
                let series: Vec<(&str, &[SearchPoint])> =
                    s.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
                search_plot("Random search: best error of k models", &series)
            })
        })
    });
    view! {
        {move || searches.with(|s| {
            let curves: Vec<&[SearchPoint]> = s.iter().map(|(_, c)| c.as_slice()).collect();
            (!curves.is_empty()).then(|| {
                let chart = SearchChart::new(&curves, &FRAME);
                let series = chart.lines.iter().zip(&chart.bands).enumerate().map(|(i, (line, band))| {
                    let colour = colours.with(|c| c.get(i).copied().unwrap_or(PALETTE[0]));
                    view! {
                        <path class="band" d=band.clone() fill=colour />
                        <path class="search" d=line.clone() stroke=colour />
                    }
                }).collect_view();
                view! {
                    <figure class="plot">
                        <svg data-testid="search-plot" viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) role="img"
                            aria-label="Expected best error of k random models">
                            <Axes
                                frame=FRAME
                                ticks=Signal::stored((chart.x_ticks.clone(), chart.y_ticks.clone()))
                                x_label="models tried (k)"
                                y_label="best error of k (%)"
                            />
                            {series}
                        </svg>
                        <figcaption class="legend">
                            {s.iter().enumerate().map(|(i, (name, _))| view! {
                                <span class="key"><span class="swatch" style=format!("background:{}", colours.with(|c| c.get(i).copied().unwrap_or(PALETTE[0])))></span>{name.clone()}</span>
                            }).collect_view()}
                            <br />
                            "Random search: the expected best error of k models drawn from each sweep (mean ± 2 sd over 1,000 draws). A space whose curve drops faster needs fewer trials to find a good model."
                        </figcaption>
                    </figure>
                }
            })
        })}
        <DownloadLink name="search.svg" svg=svg />
    }
}
