//! The one table of page parameters. Each is declared once (URL key, label,
//! help sentence, range, step, default); parsing a link, clamping, the notices
//! about bad values, the sliders, the Train panel's fields and the serialised
//! query all derive from it.

use crate::design::{Dataset, RegNetParams};
use crate::train::Recipe;
use crate::worker::protocol::BackendChoice;

/// What values a parameter takes. Ranges are the sliders' ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Int {
        min: u32,
        max: u32,
    },
    Float {
        min: f64,
        max: f64,
        step: f64,
    },
    /// `0` or `1`.
    Flag,
    /// One of these tokens.
    Choice(&'static [&'static str]),
}

/// One page parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDef {
    /// Query key, also the `data-testid` suffix (`param-<key>`).
    pub key: &'static str,
    /// Short label shown beside the control.
    pub label: &'static str,
    /// One plain sentence: what the parameter means in the paper.
    pub help: &'static str,
    pub kind: Kind,
    /// Shown under "advanced".
    pub advanced: bool,
    /// A training setting, shown in the Train panel rather than among the sliders.
    pub train: bool,
}

impl ParamDef {
    /// Slider step (integers step by 1; w0 steps by q at run time).
    pub fn step(&self) -> f64 {
        match self.kind {
            Kind::Float { step, .. } => step,
            _ => 1.0,
        }
    }

    /// Slider bounds.
    pub fn bounds(&self) -> (f64, f64) {
        match self.kind {
            Kind::Int { min, max } => (f64::from(min), f64::from(max)),
            Kind::Float { min, max, .. } => (min, max),
            Kind::Flag => (0.0, 1.0),
            Kind::Choice(c) => (0.0, c.len().saturating_sub(1) as f64),
        }
    }
}

pub const D: ParamDef = ParamDef {
    key: "d",
    label: "depth d",
    help: "Depth: how many blocks the network has in total.",
    kind: Kind::Int { min: 1, max: 64 },
    advanced: false,
    train: false,
};
pub const W0: ParamDef = ParamDef {
    key: "w0",
    label: "initial width w0",
    help:
        "Initial width: the number of channels of the first block; the rule starts its line here.",
    kind: Kind::Int { min: 8, max: 512 },
    advanced: false,
    train: false,
};
pub const WA: ParamDef = ParamDef {
    key: "wa",
    label: "slope wa",
    help: "Slope: how many channels the continuous width u_j gains from one block to the next.",
    kind: Kind::Float {
        min: 0.0,
        max: 256.0,
        step: 0.01,
    },
    advanced: false,
    train: false,
};
pub const WM: ParamDef = ParamDef {
    key: "wm",
    label: "width multiplier wm",
    help: "Width multiplier: consecutive stages differ in width by a factor of wm, which decides where the line is cut into stages.",
    kind: Kind::Float { min: 1.05, max: 4.0, step: 0.001 },
    advanced: false,
    train: false,
};
pub const G: ParamDef = ParamDef {
    key: "g",
    label: "group width g",
    help: "Group width: channels per group in every 3x3 group convolution (small g = many cheap groups).",
    kind: Kind::Int { min: 1, max: 256 },
    advanced: false,
    train: false,
};
pub const B: ParamDef = ParamDef {
    key: "b",
    label: "bottleneck ratio b",
    help: "Bottleneck ratio: a block's width divided by the width of its inner 3x3 layer (RegNetX and RegNetY use b = 1).",
    kind: Kind::Float { min: 1.0, max: 4.0, step: 1.0 },
    advanced: false,
    train: false,
};
pub const Q: ParamDef = ParamDef {
    key: "q",
    label: "quantum q",
    help:
        "Quantum: every width is rounded to a multiple of q (the paper uses 8); w0 must be one too.",
    kind: Kind::Int { min: 1, max: 32 },
    advanced: true,
    train: false,
};
pub const SE: ParamDef = ParamDef {
    key: "se",
    label: "squeeze-excitation (RegNetY)",
    help: "RegNetY is RegNetX plus a squeeze-and-excitation module in every block.",
    kind: Kind::Flag,
    advanced: false,
    train: false,
};
pub const DATA: ParamDef = ParamDef {
    key: "data",
    label: "dataset",
    help: "Where the stages are placed: CIFAR-10 (32 px, stride-1 stem, 10 classes) or ImageNet (224 px, stride-2 stem, 1000 classes).",
    kind: Kind::Choice(&["cifar10", "imagenet"]),
    advanced: false,
    train: false,
};

pub const TRAIN_IMAGES: ParamDef = ParamDef {
    key: "train-images",
    label: "training images",
    help: "How many CIFAR-10 training images a run uses (a class-balanced subset of the 50,000).",
    kind: Kind::Int {
        min: 100,
        max: 50_000,
    },
    advanced: false,
    train: true,
};
pub const TEST_IMAGES: ParamDef = ParamDef {
    key: "test-images",
    label: "test images",
    help: "How many CIFAR-10 test images measure the error after each epoch.",
    kind: Kind::Int {
        min: 100,
        max: 10_000,
    },
    advanced: false,
    train: true,
};
pub const EPOCHS: ParamDef = ParamDef {
    key: "epochs",
    label: "epochs",
    help: "Passes over the training images.",
    kind: Kind::Int { min: 1, max: 100 },
    advanced: false,
    train: true,
};
pub const BATCH: ParamDef = ParamDef {
    key: "batch",
    label: "batch size",
    help: "Images per SGD step.",
    kind: Kind::Int { min: 2, max: 1024 },
    advanced: false,
    train: true,
};
pub const LR: ParamDef = ParamDef {
    key: "lr",
    label: "learning rate",
    help: "The peak learning rate of the half-cosine schedule.",
    kind: Kind::Float {
        min: 0.001,
        max: 5.0,
        step: 0.001,
    },
    advanced: false,
    train: true,
};
pub const BACKEND: ParamDef = ParamDef {
    key: "backend",
    label: "backend",
    help: "auto: WebGPU when the browser has it, else the CPU; cpu: always the CPU.",
    kind: Kind::Choice(&["auto", "cpu"]),
    advanced: false,
    train: true,
};

/// Slider `(min, max, step)` for `def` in `state`: w0 steps by q from a multiple of q.
pub fn slider(def: &ParamDef, state: &PageState) -> (f64, f64, f64) {
    let (min, max) = def.bounds();
    if def.key == W0.key {
        let q = f64::from(state.params.q);
        return ((min / q).ceil() * q, (max / q).floor() * q, q);
    }
    (min, max, def.step())
}

/// Every parameter, in URL order. `q` comes before `w0` so w0 can be checked against it.
pub const TABLE: [ParamDef; 15] = [
    D,
    Q,
    W0,
    WA,
    WM,
    G,
    B,
    SE,
    DATA,
    TRAIN_IMAGES,
    TEST_IMAGES,
    EPOCHS,
    BATCH,
    LR,
    BACKEND,
];

/// Everything a link describes: the model on screen and how the Train panel trains it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PageState {
    pub params: RegNetParams,
    pub dataset: Dataset,
    pub recipe: Recipe,
    pub backend: BackendChoice,
}

/// A parsed link: the state to show and what had to be fixed to get it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub state: PageState,
    /// One sentence per value that was out of range or unreadable.
    pub notices: Vec<String>,
}

impl PageState {
    /// The value of a parameter as it appears in the URL.
    pub fn get(&self, key: &str) -> String {
        let p = &self.params;
        match key {
            "d" => p.d.to_string(),
            "w0" => p.w0.to_string(),
            "wa" => p.wa.to_string(),
            "wm" => p.wm.to_string(),
            "g" => p.g.to_string(),
            "b" => p.b.to_string(),
            "q" => p.q.to_string(),
            "se" => u8::from(p.se).to_string(),
            "data" => self.dataset.key().to_string(),
            "train-images" => self.recipe.train_images.to_string(),
            "test-images" => self.recipe.test_images.to_string(),
            "epochs" => self.recipe.epochs.to_string(),
            "batch" => self.recipe.batch.to_string(),
            "lr" => self.recipe.lr.to_string(),
            "backend" => match self.backend {
                BackendChoice::Auto => "auto",
                BackendChoice::Cpu => "cpu",
            }
            .to_string(),
            _ => String::new(),
        }
    }

    /// Numeric value of a parameter (flags as 0/1, choices as their index).
    pub fn number(&self, def: &ParamDef) -> f64 {
        match def.kind {
            Kind::Choice(tokens) => tokens
                .iter()
                .position(|t| *t == self.get(def.key))
                .unwrap_or(0) as f64,
            _ => self.get(def.key).parse().unwrap_or(0.0),
        }
    }

    /// Sets one parameter from an already-checked number.
    fn set(&mut self, def: &ParamDef, v: f64) {
        let p = &mut self.params;
        match def.key {
            "d" => p.d = v as u32,
            "w0" => p.w0 = v as u32,
            "wa" => p.wa = v,
            "wm" => p.wm = v,
            "g" => p.g = v as u32,
            "b" => p.b = v,
            "q" => p.q = v as u32,
            "se" => p.se = v != 0.0,
            "data" => {
                self.dataset = if v == 0.0 {
                    Dataset::Cifar10
                } else {
                    Dataset::Imagenet
                }
            }
            "train-images" => self.recipe.train_images = v as usize,
            "test-images" => self.recipe.test_images = v as usize,
            "epochs" => self.recipe.epochs = v as u32,
            "batch" => self.recipe.batch = v as usize,
            "lr" => self.recipe.lr = v,
            "backend" => {
                self.backend = if v == 0.0 {
                    BackendChoice::Auto
                } else {
                    BackendChoice::Cpu
                }
            }
            _ => {}
        }
    }

    /// The query pairs of this state, in table order.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        TABLE
            .iter()
            .map(|def| (def.key, self.get(def.key)))
            .collect()
    }

    /// `?d=13&q=8&...`: every key, so a link never depends on our defaults.
    pub fn query_string(&self) -> String {
        let pairs: Vec<String> = self
            .to_query()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("?{}", pairs.join("&"))
    }

    /// Reads a link. Missing keys take defaults silently; unreadable or out-of-range
    /// values are replaced (clamped where a nearest valid value exists) with a
    /// notice naming them; unknown keys are ignored.
    pub fn from_query(lookup: impl Fn(&str) -> Option<String>) -> Parsed {
        let mut state = PageState::default();
        let mut notices = Vec::new();
        for def in &TABLE {
            let Some(raw) = lookup(def.key) else { continue };
            let raw = raw.trim();
            match parse_value(def, raw, &state) {
                Ok(v) => state.set(def, v),
                Err((v, why)) => {
                    state.set(def, v);
                    notices.push(format!(
                        "{}: {why}, so {} is used.",
                        def.key,
                        state.get(def.key)
                    ));
                }
            }
        }
        Parsed { state, notices }
    }
}

/// The number to use for `raw`, or that number and why `raw` could not be used.
fn parse_value(def: &ParamDef, raw: &str, state: &PageState) -> Result<f64, (f64, String)> {
    let default = PageState::default().number(def);
    let shown = shorten(raw);
    match def.kind {
        Kind::Choice(tokens) => tokens
            .iter()
            .position(|t| t.eq_ignore_ascii_case(raw))
            .map(|i| i as f64)
            .ok_or_else(|| {
                (
                    default,
                    format!("'{shown}' is not one of {}", tokens.join(", ")),
                )
            }),
        Kind::Flag => match raw {
            "0" | "false" | "x" => Ok(0.0),
            "1" | "true" | "y" => Ok(1.0),
            _ => Err((default, format!("'{shown}' is not 0 or 1"))),
        },
        Kind::Int { .. } | Kind::Float { .. } => {
            let v: f64 = match raw.parse::<f64>() {
                Ok(v) if !v.is_nan() => v,
                _ => return Err((default, format!("'{shown}' is not a number"))),
            };
            let (min, max) = def.bounds();
            if v < min {
                return Err((
                    fit(def, min, state),
                    format!("{shown} is below the minimum {min}"),
                ));
            }
            if v > max {
                return Err((
                    fit(def, max, state),
                    format!("{shown} is above the maximum {max}"),
                ));
            }
            if matches!(def.kind, Kind::Int { .. }) && v.fract() != 0.0 {
                return Err((
                    fit(def, v.round(), state),
                    format!("{shown} is not a whole number"),
                ));
            }
            if def.key == W0.key && !(v as u32).is_multiple_of(state.params.q) {
                let q = state.params.q;
                return Err((
                    fit(def, v, state),
                    format!("{shown} is not a multiple of q = {q}"),
                ));
            }
            if def.key == B.key && v.fract() != 0.0 {
                return Err((v.round(), format!("{shown} is not a whole number")));
            }
            Ok(v)
        }
    }
}

/// The valid value nearest `v`: w0 snaps to a multiple of q inside its range.
fn fit(def: &ParamDef, v: f64, state: &PageState) -> f64 {
    if def.key != W0.key {
        return v;
    }
    let q = f64::from(state.params.q);
    let (min, max) = def.bounds();
    let lo = (min / q).ceil() * q;
    let hi = (max / q).floor() * q;
    ((v / q).round() * q).clamp(lo, hi)
}

/// Keeps notices readable when a link carries something long.
fn shorten(raw: &str) -> String {
    if raw.chars().count() > 24 {
        format!("{}...", raw.chars().take(24).collect::<String>())
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(q: &str) -> Parsed {
        let map: HashMap<String, String> = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PageState::from_query(|k| map.get(k).cloned())
    }

    #[test]
    fn round_trips_every_key() {
        let state = PageState {
            params: RegNetParams {
                d: 12,
                w0: 96,
                wa: 19.5,
                wm: 2.942,
                g: 8,
                b: 1.0,
                q: 8,
                se: true,
            },
            dataset: Dataset::Cifar10,
            recipe: Recipe {
                train_images: 5000,
                lr: 0.05,
                ..Recipe::default()
            },
            backend: BackendChoice::Cpu,
        };
        let qs = state.query_string();
        assert_eq!(
            qs,
            "?d=12&q=8&w0=96&wa=19.5&wm=2.942&g=8&b=1&se=1&data=cifar10\
             &train-images=5000&test-images=2000&epochs=5&batch=128&lr=0.05&backend=cpu"
        );
        let back = parse(&qs[1..]);
        assert_eq!(back.state, state);
        assert!(back.notices.is_empty());
    }

    #[test]
    fn missing_keys_are_defaults_and_unknown_keys_ignored() {
        let p = parse("d=20&foo=bar");
        assert_eq!(p.state.params.d, 20);
        assert_eq!(p.state.params.w0, RegNetParams::default().w0);
        assert!(p.notices.is_empty());
    }

    #[test]
    fn bad_values_are_fixed_with_a_notice_naming_them() {
        let p = parse("d=abc&w0=20&wa=-3&wm=99&g=1.5&b=0.5&se=maybe&data=mnist&q=8");
        let s = p.state.params;
        assert_eq!(s.d, 13, "unreadable -> default");
        assert_eq!(s.w0, 24, "20 -> nearest multiple of 8 (ties up)");
        assert_eq!(s.wa, 0.0, "clamped to the minimum");
        assert_eq!(s.wm, 4.0, "clamped to the maximum");
        assert_eq!(s.g, 2, "rounded");
        assert_eq!(s.b, 1.0);
        assert!(!s.se);
        assert_eq!(p.state.dataset, Dataset::Imagenet);
        assert_eq!(p.notices.len(), 8, "{:#?}", p.notices);
        assert!(
            p.notices[0].starts_with("d: 'abc' is not a number, so 13 is used"),
            "{}",
            p.notices[0]
        );
        assert!(p
            .notices
            .iter()
            .any(|n| n.starts_with("w0: 20 is not a multiple of q = 8, so 24")));
        assert!(p.state.params.shape().is_ok());
    }

    #[test]
    fn bad_training_settings_are_fixed_with_a_notice() {
        let p = parse("batch=5000&epochs=0&lr=abc&train-images=250.5&backend=gpu&test-images=300");
        let r = p.state.recipe;
        assert_eq!(r.batch, 1024, "clamped to the maximum");
        assert_eq!(r.epochs, 1, "clamped to the minimum");
        assert_eq!(r.lr, Recipe::default().lr, "unreadable -> default");
        assert_eq!(r.train_images, 251, "rounded");
        assert_eq!(r.test_images, 300, "valid values are kept");
        assert_eq!(p.state.backend, BackendChoice::Auto);
        assert_eq!(p.notices.len(), 5, "{:#?}", p.notices);
        assert!(p
            .notices
            .contains(&"batch: 5000 is above the maximum 1024, so 1024 is used.".to_string()));
        assert_eq!(
            p.state.params,
            RegNetParams::default(),
            "the model is untouched"
        );
    }

    #[test]
    fn w0_slider_steps_by_q_from_a_multiple_of_q() {
        let mut state = PageState::default();
        state.params.q = 3;
        assert_eq!(slider(&W0, &state), (9.0, 510.0, 3.0));
        assert_eq!(slider(&WM, &state), (1.05, 4.0, 0.001));
    }

    #[test]
    fn w0_follows_q() {
        let p = parse("q=16&w0=24");
        assert_eq!((p.state.params.q, p.state.params.w0), (16, 32));
        let p = parse("q=7&w0=600");
        assert_eq!(p.state.params.w0, 511, "largest multiple of 7 <= 512");
        assert_eq!(p.notices.len(), 1);
    }

    #[test]
    fn infinities_and_long_garbage() {
        let long = "9".repeat(400);
        let p = parse(&format!("wa=inf&d={long}"));
        assert_eq!(p.state.params.wa, 256.0, "inf is above the maximum");
        assert_eq!(p.state.params.d, 64);
        assert!(p.notices.iter().all(|n| n.len() < 120), "{:?}", p.notices);
    }
}
