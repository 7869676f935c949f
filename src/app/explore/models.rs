//! What a plan would train, before it trains: over a histogram of each space's flops
//! (models drawn without the band), the band the plan keeps; and the models it draws,
//! each as a compact per-stage diagram (bar width: depth, bar height: width) that opens
//! in the shape explorer when it is a RegNet.

use leptos::prelude::*;

use crate::site;
use crate::space::{sample, Band, Model};
use crate::sweep::plan::SweepPlan;

/// Models drawn per space for the histogram (a few hundred show the shape of the
/// distribution and keep the page responsive).
const HISTOGRAM_DRAWS: usize = 300;
const BINS: usize = 24;

/// Log10 flops of `HISTOGRAM_DRAWS` models of each of the plan's spaces, without the band.
fn candidate_flops(plan: &SweepPlan) -> Vec<f64> {
    let mut out = vec![];
    for &space in &plan.spaces {
        let mut sampler = plan.sampler(space);
        sampler.band = Band::default();
        if let Ok(got) = sample(&sampler, HISTOGRAM_DRAWS, plan.sample_seed, 100_000) {
            out.extend(got.models.iter().map(|m| (m.flops.max(1) as f64).log10()));
        }
    }
    out
}

/// A model as bars, one per stage: width from its depth, height from log2 of its width.
fn diagram(model: &Model) -> impl IntoView {
    let total: u32 = model.depths.iter().sum::<u32>().max(1);
    let (w, h) = (120.0, 28.0);
    let mut x = 0.0;
    let bars = model
        .depths
        .iter()
        .zip(&model.widths)
        .map(|(&d, &width)| {
            let bw = w * f64::from(d) / f64::from(total);
            let bh = h * ((f64::from(width).log2() - 2.0) / 9.0).clamp(0.08, 1.0);
            let bar = view! { <rect x=format!("{:.1}", x + 0.5) y=format!("{:.1}", h - bh) width=format!("{:.1}", (bw - 1.0).max(0.5)) height=format!("{bh:.1}") /> };
            x += bw;
            bar
        })
        .collect_view();
    view! { <svg class="diagram" viewBox=format!("0 0 {w} {h}") width="120" height="28" aria-hidden="true">{bars}</svg> }
}

#[component]
pub fn PlanPreview(plan: Memo<SweepPlan>) -> impl IntoView {
    // Only what the draws depend on: a change of recipe redraws nothing.
    let draws = Memo::new(move |_| plan.with(|p| (p.spaces.clone(), p.sample_seed, p.flops, p.n)));
    let histogram = Memo::new(move |_| {
        draws.track();
        plan.with_untracked(candidate_flops)
    });
    let drawn = Memo::new(move |_| {
        draws.track();
        plan.with_untracked(|p| p.draw().map_err(|e| e.to_string()))
    });
    let home = site::path_of(&super::super::base(), site::HOME);
    view! {
        <details class="plan-preview" data-testid="plan-preview">
            <summary>"The band and the models this sweep draws"</summary>
            {move || {
                let values = histogram.get();
                if values.is_empty() {
                    return None;
                }
                let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
                let (lo, hi) = (lo - 0.05, hi + 0.05);
                let mut counts = [0usize; BINS];
                for v in &values {
                    let i = (((v - lo) / (hi - lo)) * BINS as f64) as usize;
                    counts[i.min(BINS - 1)] += 1;
                }
                let top = *counts.iter().max().unwrap_or(&1) as f64;
                let (w, h) = (300.0, 80.0);
                let x = |v: f64| w * (v - lo) / (hi - lo);
                let band = plan.with(|p| p.flops);
                let b0 = if band.low > 0.0 { x(band.low.log10()) } else { 0.0 };
                let b1 = if band.high > 0.0 { x(band.high.log10()) } else { w };
                let bars = counts.iter().enumerate().map(|(i, &c)| {
                    let bh = h * c as f64 / top;
                    view! { <rect class="bin" x=format!("{:.1}", i as f64 * w / BINS as f64) y=format!("{:.1}", h - bh)
                        width=format!("{:.1}", w / BINS as f64 - 1.0) height=format!("{bh:.1}") /> }
                }).collect_view();
                let kept = values.iter().filter(|v| {
                    let f = 10f64.powf(**v);
                    (band.low == 0.0 || f >= band.low) && (band.high == 0.0 || f <= band.high)
                }).count();
                let label = |v: f64| format!("{:.2}M", 10f64.powf(v) / 1e6);
                Some(view! {
                    <figure class="band-histogram" data-testid="band-histogram" data-kept=kept.to_string() data-drawn=values.len().to_string()>
                        <svg viewBox=format!("0 0 {w} {}", h + 14.0) role="img" aria-label="Flops of models drawn without the band, and the band">
                            <rect class="band" x=format!("{:.1}", b0.clamp(0.0, w)) y="0" width=format!("{:.1}", (b1.clamp(0.0, w) - b0.clamp(0.0, w)).max(0.0)) height=format!("{h}") />
                            {bars}
                            <text x="0" y=format!("{}", h + 12.0)>{label(lo)}</text>
                            <text x=format!("{w}") y=format!("{}", h + 12.0) text-anchor="end">{label(hi)}</text>
                        </svg>
                        <figcaption>{format!(
                            "Flops (log scale) of {} models drawn from the ticked spaces without a band; the shaded band keeps {kept} of them ({:.0}%).",
                            values.len(), 100.0 * kept as f64 / values.len() as f64
                        )}</figcaption>
                    </figure>
                })
            }}
            {move || match drawn.get() {
                Err(e) => view! { <p class="error" data-testid="plan-error">{e}</p> }.into_any(),
                Ok(sweeps) => sweeps.into_iter().map(|s| {
                    let home = home.clone();
                    let items = s.models.iter().map(|m| {
                        let title = format!("{} ({:.2} MF, {:.1}K params)", m.label(), m.flops as f64 / 1e6, m.params as f64 / 1e3);
                        match m.shape_query() {
                            Some(q) => view! {
                                <li data-testid="planned-model"><a href=format!("{home}?{q}") title=title.clone()>{diagram(m)}</a></li>
                            }.into_any(),
                            None => view! { <li data-testid="planned-model" title=title>{diagram(m)}</li> }.into_any(),
                        }
                    }).collect_view();
                    view! {
                        <div class="planned">
                            <p>{format!("{}: {} models", s.space.label(), s.models.len())}</p>
                            <ul class="diagrams">{items}</ul>
                        </div>
                    }
                }).collect_view().into_any(),
            }}
        </details>
    }
}
