//! The published-models page's state (the `/models` route): which measure the plot of
//! top-1 error runs against, read from and written to the URL. Pure: the page
//! (`app::published`) draws `design::published`'s table.
//!
//! Query key: `x`, one of `Axis::ALL`'s keys (`flops` when absent).

use crate::design::published::Published;

/// What the error is plotted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Axis {
    #[default]
    Flops,
    Params,
    Acts,
    /// Inference time (a forward pass of 64 images on one GPU).
    TestTime,
    /// A training step's time (forward and backward, 64 images, one GPU).
    TrainTime,
}

impl Axis {
    pub const ALL: [Axis; 5] = [
        Axis::Flops,
        Axis::Params,
        Axis::Acts,
        Axis::TestTime,
        Axis::TrainTime,
    ];

    /// The URL value.
    pub fn key(self) -> &'static str {
        match self {
            Axis::Flops => "flops",
            Axis::Params => "params",
            Axis::Acts => "acts",
            Axis::TestTime => "test_time",
            Axis::TrainTime => "train_time",
        }
    }

    /// The axis label (the unit included).
    pub fn label(self) -> &'static str {
        match self {
            Axis::Flops => "flops (multiply-adds)",
            Axis::Params => "parameters",
            Axis::Acts => "activations",
            Axis::TestTime => "inference time, 64 images (s)",
            Axis::TrainTime => "training step, 64 images (s)",
        }
    }

    /// `model`'s value on this axis.
    pub fn of(self, model: &Published) -> f64 {
        match self {
            Axis::Flops => model.flops as f64,
            Axis::Params => model.params as f64,
            Axis::Acts => model.acts as f64,
            Axis::TestTime => model.test_time_s,
            Axis::TrainTime => model.train_time_s,
        }
    }
}

/// A parsed query: the axis and a notice per value that could not be used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedModels {
    pub x: Axis,
    pub notices: Vec<String>,
}

/// Reads the page's link; an unknown `x` gives the default with a notice.
pub fn from_query(get: impl Fn(&str) -> Option<String>) -> ParsedModels {
    let mut parsed = ParsedModels::default();
    if let Some(v) = get("x") {
        match Axis::ALL.into_iter().find(|a| a.key() == v.trim()) {
            Some(x) => parsed.x = x,
            None => parsed.notices.push(format!(
                "x: '{v}' is not one of {}, so flops are shown",
                Axis::ALL.map(Axis::key).join(", ")
            )),
        }
    }
    parsed
}

/// The query pairs of `x` (none at the default, so a plain link stays plain).
pub fn to_query(x: Axis) -> Vec<(&'static str, String)> {
    if x == Axis::default() {
        vec![]
    } else {
        vec![("x", x.key().to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_and_bad_values_are_named() {
        for x in Axis::ALL {
            let query = to_query(x);
            let back = from_query(|k| query.iter().find(|(q, _)| *q == k).map(|(_, v)| v.clone()));
            assert_eq!(back, ParsedModels { x, notices: vec![] });
        }
        assert!(to_query(Axis::Flops).is_empty());
        let bad = from_query(|k| (k == "x").then(|| "speed".to_string()));
        assert_eq!(bad.x, Axis::Flops);
        assert_eq!(bad.notices.len(), 1);
        assert!(
            bad.notices[0].starts_with("x: 'speed' is not one of flops,"),
            "{:?}",
            bad.notices
        );
    }
}
