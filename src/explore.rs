//! The design-space explorer's state (the `/explore` route): which sweeps are shown
//! and how their EDFs are normalised, read from and written to the URL query, and
//! the reference sweep the site ships. Pure: the page (`app::explore`) only fetches,
//! draws and writes the query this module derives.
//!
//! Query keys: `show` (sweep names, comma-separated, in legend order), `norm` (`flops`
//! or `params`; absent: plain EDFs), `bins` (the normalisation's bins, 2..=20), `param`
//! (the parameter errors are plotted against; absent: flops), `pick` (the model whose
//! details and training curves are open, `SWEEP@ID`, ID its number in the sweep). A link
//! without `show` shows the reference spaces. The sweep to train (`SweepPlan`):
//! `spaces` (space keys, comma-separated), `n` (models per space), `mf` (the flops band
//! in millions, `LOW:HIGH`), `epochs`, `train` and `test` (images), `seed` (training),
//! `sample` (the model draws), and where it trains: `workers` (CPU workers; absent:
//! one per core but one) and `gpu` (`1`: a WebGPU worker beside them).

use crate::space::{Bound, Space};
use crate::sweep::plan::{SweepPlan, MAX_MODELS};
use crate::sweep::Measure;

/// The most CPU workers a link may ask for (each holds its own copy of the data).
pub const MAX_WORKERS: usize = 16;
/// The most training images of CIFAR-10, and of its test set.
const TRAIN_IMAGES: usize = 50_000;
const TEST_IMAGES: usize = 10_000;

/// The reference sweep's design spaces (`public/sweeps/reference/NAME.jsonl`, made by
/// `scripts/reference-sweep`), shown on a first visit.
pub const REFERENCE: [&str; 4] = ["anynetx-a", "anynetx-e", "regnetx", "regnety"];

/// The reference's seed-noise runs: RegNetX's first models trained again (seeds 1, 2).
pub const REFERENCE_NOISE: [&str; 2] = ["regnetx-seed1", "regnetx-seed2"];

/// What the reference sweep is, in one line (its recipe and band).
pub const REFERENCE_RECIPE: &str = "48 models per space at 3-6 MF, each trained 3 epochs on 6,000 \
     CIFAR-10 images and tested on 2,000 (scripts/reference-sweep)";

/// Where the page fetches a reference file, on a site at `base` ("" or "/repo").
pub fn reference_url(base: &str, name: &str) -> String {
    format!("{base}/sweeps/reference/{name}.jsonl")
}

pub const DEFAULT_BINS: usize = 5;
pub const DEFAULT_PARAM: &str = "flops";
pub const MAX_BINS: usize = 20;

/// The explorer's view.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploreState {
    /// The sweeps shown, by name, in legend order.
    pub show: Vec<String>,
    /// Normalise the EDFs by this complexity measure (NDS), or not.
    pub normalize: Option<Measure>,
    pub bins: usize,
    /// The parameter the error is plotted against (`flops`, `params`, or a drawn
    /// value's name: `d`, `w0`, `d1` ...).
    pub param: String,
    /// The model opened from its EDF mark.
    pub pick: Option<Pick>,
    /// The sweep the page would train.
    pub plan: SweepPlan,
    /// CPU workers; `None`: one per core the browser reports, less one.
    pub workers: Option<usize>,
    /// A WebGPU worker beside the CPU ones.
    pub gpu: bool,
}

impl Default for ExploreState {
    fn default() -> Self {
        ExploreState {
            show: REFERENCE.iter().map(|s| s.to_string()).collect(),
            normalize: None,
            bins: DEFAULT_BINS,
            param: DEFAULT_PARAM.to_string(),
            pick: None,
            plan: SweepPlan::default(),
            workers: None,
            gpu: false,
        }
    }
}

/// One model of a sweep, by the sweep's name and the model's number in it
/// (`SweepModel::id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub sweep: String,
    pub id: usize,
}

impl Pick {
    /// `SWEEP@ID`; the last `@` separates them, so a name may hold one.
    fn parse(text: &str) -> Option<Pick> {
        let (sweep, id) = text.trim().rsplit_once('@')?;
        let id = id.parse().ok()?;
        (!sweep.is_empty()).then(|| Pick {
            sweep: sweep.to_string(),
            id,
        })
    }

    fn to_text(&self) -> String {
        format!("{}@{}", self.sweep, self.id)
    }
}

/// A parsed query: the state and a notice for each value that could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedExplore {
    pub state: ExploreState,
    pub notices: Vec<String>,
}

impl ExploreState {
    /// The state a query describes (`get` looks a key up); a bad value falls back to its
    /// default with a notice naming it. Names are kept as given: whether a sweep is in
    /// this browser is the page's to say.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> ParsedExplore {
        let mut state = ExploreState::default();
        let mut notices = vec![];
        if let Some(show) = get("show") {
            let mut names: Vec<String> = vec![];
            for name in show.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            state.show = names;
        }
        match get("norm").as_deref() {
            None | Some("") | Some("none") => {}
            Some("flops") => state.normalize = Some(Measure::Flops),
            Some("params") => state.normalize = Some(Measure::Params),
            Some(other) => notices.push(format!(
                "norm: '{}' is not flops or params, so the EDFs are not normalised",
                shorten(other)
            )),
        }
        if let Some(bins) = get("bins") {
            match bins.trim().parse::<usize>() {
                Ok(b) if (2..=MAX_BINS).contains(&b) => state.bins = b,
                _ => notices.push(format!(
                    "bins: '{}' is not a whole number from 2 to {MAX_BINS}, so {DEFAULT_BINS} is used",
                    shorten(&bins)
                )),
            }
        }
        if let Some(param) = get("param") {
            let param = param.trim();
            // A name no shown sweep carries is the page's to say; only junk is refused.
            if !param.is_empty()
                && param.len() <= 16
                && param.chars().all(|c| c.is_ascii_alphanumeric())
            {
                state.param = param.to_string();
            } else {
                notices.push(format!(
                    "param: '{}' is not a parameter name, so flops is used",
                    shorten(param)
                ));
            }
        }
        if let Some(pick) = get("pick") {
            match Pick::parse(&pick) {
                Some(p) => state.pick = Some(p),
                None => notices.push(format!(
                    "pick: '{}' is not SWEEP@NUMBER, so no model is open",
                    shorten(&pick)
                )),
            }
        }
        parse_plan(&get, &mut state, &mut notices);
        ParsedExplore { state, notices }
    }

    /// The query that reproduces this state (defaults left out, so links stay short).
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        if self.show != ExploreState::default().show {
            out.push(("show", self.show.join(",")));
        }
        if let Some(m) = self.normalize {
            out.push(("norm", m.name().to_string()));
            if self.bins != DEFAULT_BINS {
                out.push(("bins", self.bins.to_string()));
            }
        }
        if self.param != DEFAULT_PARAM {
            out.push(("param", self.param.clone()));
        }
        if let Some(pick) = &self.pick {
            out.push(("pick", pick.to_text()));
        }
        let (plan, default) = (&self.plan, SweepPlan::default());
        if plan.spaces != default.spaces {
            let keys: Vec<&str> = plan.spaces.iter().map(|s| s.key()).collect();
            out.push(("spaces", keys.join(",")));
        }
        if plan.n != default.n {
            out.push(("n", plan.n.to_string()));
        }
        if plan.flops != default.flops {
            let mf = |x: f64| format!("{}", x / 1e6);
            out.push((
                "mf",
                format!("{}:{}", mf(plan.flops.low), mf(plan.flops.high)),
            ));
        }
        let (r, d) = (&plan.recipe, &default.recipe);
        let numbers = [
            ("epochs", r.epochs as u64, d.epochs as u64),
            ("train", r.train_images as u64, d.train_images as u64),
            ("test", r.test_images as u64, d.test_images as u64),
            ("seed", r.seed, d.seed),
            ("sample", plan.sample_seed, default.sample_seed),
        ];
        for (key, value, default) in numbers {
            if value != default {
                out.push((key, value.to_string()));
            }
        }
        if let Some(w) = self.workers {
            out.push(("workers", w.to_string()));
        }
        if self.gpu {
            out.push(("gpu", "1".to_string()));
        }
        out
    }

    /// The sweep `old` is now called `new`: shown in the same place, its model still
    /// open.
    pub fn rename(&mut self, old: &str, new: &str) {
        for name in &mut self.show {
            if name == old {
                *name = new.to_string();
            }
        }
        if let Some(pick) = &mut self.pick {
            if pick.sweep == old {
                pick.sweep = new.to_string();
            }
        }
    }

    /// Shows or hides the sweep `name` (shown sweeps keep their order; a new one goes
    /// last).
    pub fn toggle(&mut self, name: &str) {
        match self.show.iter().position(|n| n == name) {
            Some(i) => {
                self.show.remove(i);
            }
            None => self.show.push(name.to_string()),
        }
    }
}

/// The plan's keys of a query into `state`, each bad value left at its default with a
/// notice.
fn parse_plan(
    get: &impl Fn(&str) -> Option<String>,
    state: &mut ExploreState,
    notices: &mut Vec<String>,
) {
    let plan = &mut state.plan;
    if let Some(spaces) = get("spaces") {
        let mut keep = vec![];
        for key in spaces.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match key.parse::<Space>() {
                Ok(space) if !keep.contains(&space) => keep.push(space),
                Ok(_) => {}
                Err(_) => notices.push(format!(
                    "spaces: '{}' is not a design space (anynetx-a .. anynetx-e, regnetx, regnety), so it is left out",
                    shorten(key)
                )),
            }
        }
        plan.spaces = keep;
    }
    let mut number = |key: &str, low: u64, high: u64, what: &str| -> Option<u64> {
        let text = get(key)?;
        match text.trim().parse::<u64>() {
            Ok(v) if (low..=high).contains(&v) => Some(v),
            _ => {
                notices.push(format!(
                    "{key}: '{}' is not {what} from {low} to {high}, so the default is used",
                    shorten(&text)
                ));
                None
            }
        }
    };
    if let Some(n) = number("n", 1, MAX_MODELS as u64, "a number of models") {
        plan.n = n as usize;
    }
    if let Some(e) = number("epochs", 1, 100, "a number of epochs") {
        plan.recipe.epochs = e as u32;
    }
    let batch = plan.recipe.batch as u64;
    if let Some(t) = number(
        "train",
        batch,
        TRAIN_IMAGES as u64,
        "a number of training images",
    ) {
        plan.recipe.train_images = t as usize;
    }
    if let Some(t) = number("test", 1, TEST_IMAGES as u64, "a number of test images") {
        plan.recipe.test_images = t as usize;
    }
    if let Some(s) = number("seed", 0, u64::from(u32::MAX), "a seed") {
        plan.recipe.seed = s;
    }
    if let Some(s) = number("sample", 0, u64::from(u32::MAX), "a seed") {
        plan.sample_seed = s;
    }
    if let Some(w) = number("workers", 1, MAX_WORKERS as u64, "a number of workers") {
        state.workers = Some(w as usize);
    }
    if let Some(g) = get("gpu") {
        match g.trim() {
            "1" | "true" => state.gpu = true,
            "0" | "false" | "" => {}
            other => notices.push(format!(
                "gpu: '{}' is not 1 or 0, so no WebGPU worker",
                shorten(other)
            )),
        }
    }
    if let Some(mf) = get("mf") {
        let parsed = mf.split_once(':').and_then(|(l, h)| {
            let (l, h) = (l.trim().parse::<f64>().ok()?, h.trim().parse::<f64>().ok()?);
            let ok = l.is_finite() && h.is_finite() && l >= 0.0 && h >= 0.0 && (h == 0.0 || l <= h);
            ok.then_some(Bound {
                low: l * 1e6,
                high: h * 1e6,
            })
        });
        match parsed {
            Some(b) => state.plan.flops = b,
            None => notices.push(format!(
                "mf: '{}' is not a flops band LOW:HIGH in millions (0 leaves a side open), so 3:6 is used",
                shorten(&mf)
            )),
        }
    }
}

/// The longest name a sweep can be given.
pub const MAX_NAME: usize = 64;

/// A new name for a sweep, trimmed, or why it cannot be one: empty, too long, holding a
/// comma (`show` separates names by commas) or an `@` (`pick` ends at the last one),
/// the name of a reference sweep, or `taken` by another sweep.
pub fn check_sweep_name(name: &str, taken: impl Fn(&str) -> bool) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a sweep needs a name".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("a name has at most {MAX_NAME} characters"));
    }
    if name.contains(',') || name.contains('@') {
        return Err("a name cannot hold a comma or an @ (links use them to separate names)".into());
    }
    if REFERENCE.contains(&name) || REFERENCE_NOISE.contains(&name) {
        return Err(format!("{name} is a reference sweep's name"));
    }
    if taken(name) {
        return Err(format!("another sweep is called {name}"));
    }
    Ok(name.to_string())
}

/// Keeps notices readable when a link carries something long.
fn shorten(s: &str) -> String {
    if s.chars().count() > 24 {
        s.chars().take(24).collect::<String>() + "..."
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> ParsedExplore {
        ExploreState::from_query(|k| {
            query
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn an_empty_query_shows_the_reference_spaces() {
        let p = parse(&[]);
        assert_eq!(p.state, ExploreState::default());
        assert_eq!(p.state.show, REFERENCE);
        assert!(p.notices.is_empty());
        assert!(p.state.to_query().is_empty());
    }

    #[test]
    fn states_round_trip_through_the_query() {
        let mut plan = SweepPlan {
            spaces: vec![Space::RegNetY, Space::AnyNetXC],
            n: 3,
            flops: Bound {
                low: 0.5e6,
                high: 0.0,
            },
            ..SweepPlan::default()
        };
        plan.recipe.epochs = 1;
        plan.recipe.train_images = 256;
        plan.recipe.test_images = 100;
        plan.recipe.seed = 4;
        plan.sample_seed = 7;
        let state = ExploreState {
            show: vec!["regnetx".into(), "my sweep".into()],
            normalize: Some(Measure::Params),
            bins: 8,
            param: "wa".into(),
            pick: Some(Pick {
                sweep: "my@sweep".into(),
                id: 12,
            }),
            plan,
            workers: Some(2),
            gpu: true,
        };
        let query = state.to_query();
        let back = ExploreState::from_query(|k| {
            query
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(back.state, state);
        assert!(back.notices.is_empty());
    }

    #[test]
    fn bad_values_fall_back_with_a_notice_and_names_are_deduplicated() {
        let p = parse(&[
            ("show", "regnetx,,regnety,regnetx"),
            ("norm", "acts"),
            ("bins", "99"),
            ("pick", "regnetx@x"),
        ]);
        assert_eq!(p.state.show, ["regnetx", "regnety"]);
        assert_eq!(p.state.normalize, None);
        assert_eq!(p.state.bins, DEFAULT_BINS);
        assert_eq!(p.state.pick, None);
        assert_eq!(p.notices.len(), 3, "{:?}", p.notices);
        assert!(p.notices[0].starts_with("norm: 'acts'"));
        assert!(p.notices[1].starts_with("bins: '99'"));
        assert!(p.notices[2].starts_with("pick: 'regnetx@x'"));
        // An explicitly empty list shows nothing (the user hid every sweep).
        assert!(parse(&[("show", "")]).state.show.is_empty());
        let p = parse(&[
            ("spaces", "regnetx,resnet"),
            ("n", "0"),
            ("mf", "6:3"),
            ("train", "12"),
            ("workers", "99"),
            ("gpu", "yes"),
        ]);
        assert_eq!(p.state.plan.spaces, [Space::RegNetX]);
        let default = ExploreState::default();
        assert_eq!(p.state.plan.n, default.plan.n);
        assert_eq!(p.state.plan.flops, default.plan.flops);
        assert_eq!(p.state.plan.recipe, default.plan.recipe);
        assert_eq!((p.state.workers, p.state.gpu), (None, false));
        let keys: Vec<&str> = p
            .notices
            .iter()
            .map(|n| n.split(':').next().unwrap())
            .collect();
        assert_eq!(keys, ["spaces", "n", "train", "workers", "gpu", "mf"]);
    }

    #[test]
    fn new_names_are_trimmed_and_checked() {
        let taken = |n: &str| n == "mine";
        assert_eq!(check_sweep_name("  my run ", taken).unwrap(), "my run");
        for bad in ["", "  ", "a,b", "a@1", "regnetx", "regnetx-seed1", "mine"] {
            assert!(check_sweep_name(bad, taken).is_err(), "{bad:?}");
        }
        assert!(check_sweep_name(&"x".repeat(MAX_NAME), taken).is_ok());
        assert!(check_sweep_name(&"x".repeat(MAX_NAME + 1), taken).is_err());
        let mut state = ExploreState {
            show: vec!["a".into(), "old".into(), "b".into()],
            pick: Some(Pick {
                sweep: "old".into(),
                id: 3,
            }),
            ..ExploreState::default()
        };
        state.rename("old", "new");
        assert_eq!(state.show, ["a", "new", "b"]);
        assert_eq!(state.pick.unwrap().sweep, "new");
    }

    #[test]
    fn toggling_hides_in_place_and_appends_new_sweeps() {
        let mut s = ExploreState::default();
        s.toggle("anynetx-e");
        assert_eq!(s.show, ["anynetx-a", "regnetx", "regnety"]);
        s.toggle("anynetx-e");
        assert_eq!(s.show, ["anynetx-a", "regnetx", "regnety", "anynetx-e"]);
        assert_eq!(
            s.to_query(),
            [("show", "anynetx-a,regnetx,regnety,anynetx-e".to_string())]
        );
    }

    #[test]
    fn a_sampled_regnet_opens_in_the_shape_explorer_and_an_anynet_does_not() {
        let plan = SweepPlan {
            n: 1,
            spaces: vec![Space::RegNetY, Space::AnyNetXA],
            ..SweepPlan::default()
        };
        let sweeps = plan.draw().unwrap();
        let query = sweeps[0].models[0].shape_query().unwrap();
        let m = &sweeps[0].models[0];
        assert!(
            query.starts_with(&format!("d={}&w0={}&", m.d.unwrap(), m.w0.unwrap())),
            "{query}"
        );
        assert!(query.ends_with("&se=1&data=cifar10"), "{query}");
        assert_eq!(sweeps[1].models[0].shape_query(), None);
    }

    #[test]
    fn reference_files_sit_under_the_site_base() {
        assert_eq!(
            reference_url("", "regnetx"),
            "/sweeps/reference/regnetx.jsonl"
        );
        assert_eq!(
            reference_url("/repo", "regnetx-seed1"),
            "/repo/sweeps/reference/regnetx-seed1.jsonl"
        );
    }
}
