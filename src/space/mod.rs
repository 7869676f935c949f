//! Design spaces and their samplers: the paper's AnyNetX A..E (section 3.2) and RegNetX/Y
//! as pycls's `regnet_sampler` and sweep set-up draw them, a complexity band applied by
//! rejection, and each space's size. Pure Rust: the CLI and the page draw the same models
//! from the same (space, ranges, band, n, seed).

pub mod anynet;
pub mod random;
pub mod regnet;
pub mod sample;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use anynet::AnyNetRanges;
pub use regnet::RegNetRanges;
pub use sample::{
    sample, standardize, Band, Bound, Model, Sample, SampleError, SampleRequest, Sampler,
};

/// The seven spaces of the paper's progression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Space {
    /// Per stage: depth, width, bottleneck ratio and group width, all free.
    #[serde(rename = "anynetx-a")]
    AnyNetXA,
    /// A with one bottleneck ratio shared by every stage.
    #[serde(rename = "anynetx-b")]
    AnyNetXB,
    /// B with one group width shared too.
    #[serde(rename = "anynetx-c")]
    AnyNetXC,
    /// C with non-decreasing widths.
    #[serde(rename = "anynetx-d")]
    AnyNetXD,
    /// D with non-decreasing depths.
    #[serde(rename = "anynetx-e")]
    AnyNetXE,
    /// The quantized linear rule (six parameters), no squeeze-excitation.
    #[serde(rename = "regnetx")]
    RegNetX,
    /// RegNetX with squeeze-excitation in every block.
    #[serde(rename = "regnety")]
    RegNetY,
}

impl Space {
    pub const ALL: [Space; 7] = [
        Space::AnyNetXA,
        Space::AnyNetXB,
        Space::AnyNetXC,
        Space::AnyNetXD,
        Space::AnyNetXE,
        Space::RegNetX,
        Space::RegNetY,
    ];

    /// The token in flags, links and records (`anynetx-a` .. `regnety`).
    pub fn key(self) -> &'static str {
        match self {
            Space::AnyNetXA => "anynetx-a",
            Space::AnyNetXB => "anynetx-b",
            Space::AnyNetXC => "anynetx-c",
            Space::AnyNetXD => "anynetx-d",
            Space::AnyNetXE => "anynetx-e",
            Space::RegNetX => "regnetx",
            Space::RegNetY => "regnety",
        }
    }

    /// The paper's name.
    pub fn label(self) -> &'static str {
        match self {
            Space::AnyNetXA => "AnyNetX-A",
            Space::AnyNetXB => "AnyNetX-B",
            Space::AnyNetXC => "AnyNetX-C",
            Space::AnyNetXD => "AnyNetX-D",
            Space::AnyNetXE => "AnyNetX-E",
            Space::RegNetX => "RegNetX",
            Space::RegNetY => "RegNetY",
        }
    }

    /// Whether the space is one of the RegNet family (sampled through the rule).
    pub fn is_regnet(self) -> bool {
        matches!(self, Space::RegNetX | Space::RegNetY)
    }

    /// Squeeze-excitation in every block (RegNetY only).
    pub fn se(self) -> bool {
        self == Space::RegNetY
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Space {
    type Err = SpaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Space::ALL
            .into_iter()
            .find(|space| space.key().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SpaceError::UnknownSpace(s.to_string()))
    }
}

/// A closed interval [low, high].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range<T> {
    pub low: T,
    pub high: T,
}

impl<T> Range<T> {
    pub const fn new(low: T, high: T) -> Self {
        Range { low, high }
    }
}

impl<T: Copy + PartialOrd + fmt::Display> Range<T> {
    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: T) -> bool {
        self.low <= x && x <= self.high
    }

    /// Checks low <= high and that both ends lie in `limits`; `name` names the range.
    pub fn check(&self, name: &'static str, limits: Range<T>) -> Result<(), SpaceError> {
        if !(self.low <= self.high && limits.contains(self.low) && limits.contains(self.high)) {
            return Err(SpaceError::BadRange {
                name,
                got: format!("{}:{}", self.low, self.high),
                limits: format!("{}:{}", limits.low, limits.high),
            });
        }
        Ok(())
    }
}

/// The ranges a space is sampled from; the defaults are the paper's and pycls's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ranges {
    AnyNet(AnyNetRanges),
    RegNet(RegNetRanges),
}

impl Ranges {
    /// The paper's ranges for AnyNetX, pycls's `regnet_sampler` defaults for RegNet.
    pub fn default_for(space: Space) -> Self {
        if space.is_regnet() {
            Ranges::RegNet(RegNetRanges::default())
        } else {
            Ranges::AnyNet(AnyNetRanges::default())
        }
    }
}

/// Ranges or a band that cannot be sampled from, or an unknown space.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpaceError {
    #[error("unknown design space '{0}' (use anynetx-a .. anynetx-e, regnetx or regnety)")]
    UnknownSpace(String),
    #[error(
        "the {name} range {got} is not within {limits} (or its low end is above its high end)"
    )]
    BadRange {
        name: &'static str,
        got: String,
        limits: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{space} is sampled with {wanted} ranges, not {got} ones")]
    WrongRanges {
        space: Space,
        wanted: &'static str,
        got: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_unknown_spaces_are_named() {
        for space in Space::ALL {
            assert_eq!(space.key().parse::<Space>(), Ok(space));
            let json = serde_json::to_string(&space).unwrap();
            assert_eq!(json, format!("\"{}\"", space.key()));
        }
        assert_eq!(
            "anynetx-f".parse::<Space>().unwrap_err().to_string(),
            "unknown design space 'anynetx-f' (use anynetx-a .. anynetx-e, regnetx or regnety)"
        );
    }

    #[test]
    fn ranges_check_their_ends() {
        let limits = Range::new(1, 16);
        assert!(Range::new(2, 8).check("depth", limits).is_ok());
        assert!(Range::new(8, 2).check("depth", limits).is_err());
        let err = Range::new(0, 8).check("depth", limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the depth range 0:8 is not within 1:16 (or its low end is above its high end)"
        );
    }
}
