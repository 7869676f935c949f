//! The design-space explorer's state (the `/explore` route): which sweeps are shown
//! and how their EDFs are normalised, read from and written to the URL query, and
//! the reference sweep the site ships. Pure: the page (`app::explore`) only fetches,
//! draws and writes the query this module derives.
//!
//! Query keys: `show` (sweep names, comma-separated, in legend order), `norm` (`flops`
//! or `params`; absent: plain EDFs), `bins` (the normalisation's bins, 2..=20). A link
//! without `show` shows the reference spaces.

use crate::sweep::Measure;

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
pub const MAX_BINS: usize = 20;

/// The explorer's view.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploreState {
    /// The sweeps shown, by name, in legend order.
    pub show: Vec<String>,
    /// Normalise the EDFs by this complexity measure (NDS), or not.
    pub normalize: Option<Measure>,
    pub bins: usize,
}

impl Default for ExploreState {
    fn default() -> Self {
        ExploreState {
            show: REFERENCE.iter().map(|s| s.to_string()).collect(),
            normalize: None,
            bins: DEFAULT_BINS,
        }
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
        out
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
        let state = ExploreState {
            show: vec!["regnetx".into(), "my sweep".into()],
            normalize: Some(Measure::Params),
            bins: 8,
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
        ]);
        assert_eq!(p.state.show, ["regnetx", "regnety"]);
        assert_eq!(p.state.normalize, None);
        assert_eq!(p.state.bins, DEFAULT_BINS);
        assert_eq!(p.notices.len(), 2, "{:?}", p.notices);
        assert!(p.notices[0].starts_with("norm: 'acts'"));
        assert!(p.notices[1].starts_with("bins: '99'"));
        // An explicitly empty list shows nothing (the user hid every sweep).
        assert!(parse(&[("show", "")]).state.show.is_empty());
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
