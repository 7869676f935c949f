//! The fit page's state (the `/fit` route): the per-block widths a RegNet rule is fitted
//! to and the quantum, read from and written to the URL, and the networks the page
//! offers to fit. Pure: the page (`app::fit`) only draws what `design::fit` returns.
//!
//! Query keys: `widths` (per-block widths, block 0 first, comma-separated; runs may be
//! written `WIDTHxCOUNT`, so ResNet-50 is `256x3,512x4,1024x6,2048x3`) and `q` (the
//! quantum, 8 when absent).

use crate::design::fit::{format_widths, parse_widths};
use crate::design::regnet::MAX_Q;
use crate::design::PRESETS;

/// The paper's worked example (section 3.3): d=4, w0=32, wa=8, wm=2.
pub const DEFAULT_WIDTHS: [u32; 4] = [32, 32, 64, 64];
pub const DEFAULT_Q: u32 = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct FitState {
    pub widths: Vec<u32>,
    pub q: u32,
}

impl Default for FitState {
    fn default() -> Self {
        FitState {
            widths: DEFAULT_WIDTHS.to_vec(),
            q: DEFAULT_Q,
        }
    }
}

/// A parsed query: the state and a notice per value that could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFit {
    pub state: FitState,
    pub notices: Vec<String>,
}

impl FitState {
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> ParsedFit {
        let mut state = FitState::default();
        let mut notices = vec![];
        if let Some(text) = get("widths") {
            match parse_widths(&text) {
                Ok(w) => state.widths = w,
                Err(e) => notices.push(format!("widths: {e}, so the paper's example is shown")),
            }
        }
        if let Some(text) = get("q") {
            match text.trim().parse::<u32>() {
                Ok(q) if (1..=MAX_Q).contains(&q) => state.q = q,
                _ => notices.push(format!(
                    "q: '{}' is not a whole number from 1 to {MAX_Q}, so {DEFAULT_Q} is used",
                    text.chars().take(24).collect::<String>()
                )),
            }
        }
        ParsedFit { state, notices }
    }

    /// The query that reproduces this state (defaults left out).
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        if self.widths != DEFAULT_WIDTHS {
            out.push(("widths", format_widths(&self.widths)));
        }
        if self.q != DEFAULT_Q {
            out.push(("q", self.q.to_string()));
        }
        out
    }
}

/// Networks to fit, by name: every published RegNet (its quantized block widths, so the
/// fit should be exact) and ResNet-50's stages (which no RegNet rule gives exactly).
pub fn examples() -> Vec<(String, Vec<u32>)> {
    let mut out = vec![(
        "ResNet-50 (3, 4, 6, 3 blocks at 256 .. 2048)".to_string(),
        [(256, 3), (512, 4), (1024, 6), (2048, 3)]
            .iter()
            .flat_map(|&(w, n)| std::iter::repeat_n(w, n))
            .collect(),
    )];
    for preset in PRESETS.iter() {
        if let Ok(q) = preset.params().quantize() {
            out.push((preset.name.to_string(), q.block_widths));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> ParsedFit {
        FitState::from_query(|k| {
            query
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn states_round_trip_and_bad_values_say_so() {
        assert_eq!(parse(&[]).state, FitState::default());
        assert!(FitState::default().to_query().is_empty());
        let state = FitState {
            widths: vec![16, 16, 48],
            q: 4,
        };
        let query = state.to_query();
        let back = FitState::from_query(|k| {
            query
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(back.state, state);
        let p = parse(&[("widths", "32,abc"), ("q", "0")]);
        assert_eq!(p.state, FitState::default());
        assert_eq!(p.notices.len(), 2);
        assert!(p.notices[0].starts_with("widths: 'abc'"), "{:?}", p.notices);
        assert!(p.notices[1].starts_with("q: '0'"));
    }

    #[test]
    fn examples_are_resnet_and_every_published_regnet() {
        let ex = examples();
        assert_eq!(ex.len(), 1 + PRESETS.len());
        assert_eq!(ex[0].1.len(), 16);
    }
}
