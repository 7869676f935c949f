//! The one table of page parameters. Each is declared once: URL key, label, help
//! sentence, range, step, snapping rule, and the typed accessors that read and write
//! its field of the state. Parsing a link, clamping, the notices about bad values, the
//! sliders, the Train panel's fields and the serialised query all derive from it.
//! Parameters come in sections, one per part of the page (`MODEL`, `RECIPE`); a new
//! page declares its own section and adds it to `SECTIONS`.

use crate::design::{Dataset, RegNetParams};
use crate::run::{BackendChoice, Layers, Recipe};

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
    /// `0` or `1` (links may also say `false`/`x` and `true`/`y`).
    Flag,
    /// One of these URL tokens (read in any case, written as declared).
    Choice(&'static [&'static str]),
}

/// How an in-range number is made valid, beyond `Kind`'s range (integers are
/// always whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snap {
    /// Any number in range.
    Free,
    /// Rounded to a whole number.
    Whole,
    /// The nearest multiple of the state's quantum q inside the range (w0).
    MultipleOfQ,
}

/// The typed accessors of a parameter's field of `PageState`.
#[derive(Clone, Copy)]
pub enum Field {
    /// Numbers and flags (0/1).
    Number {
        get: fn(&PageState) -> f64,
        set: fn(&mut PageState, f64),
    },
    /// Choices, by their URL token.
    Token {
        get: fn(&PageState) -> &'static str,
        set: fn(&mut PageState, &str),
    },
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Number { .. } => "Field::Number",
            Field::Token { .. } => "Field::Token",
        })
    }
}

/// Which part of the page a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The model on screen: the sliders and toggles.
    Model,
    /// How the Train panel trains it.
    Recipe,
}

/// One page parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// Query key, also the `data-testid` suffix (`param-<key>`, `train-<key>`).
    pub key: &'static str,
    /// Short label shown beside the control.
    pub label: &'static str,
    /// One plain sentence: what the parameter means in the paper.
    pub help: &'static str,
    pub kind: Kind,
    pub snap: Snap,
    pub section: Section,
    /// Shown under "advanced".
    pub advanced: bool,
    pub field: Field,
}

impl PartialEq for ParamDef {
    /// Keys are unique (a test checks), so the key names the parameter.
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl ParamDef {
    /// Slider step (integers step by 1; w0 steps by q at run time, see `slider`).
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

    /// A number the sliders move (not a flag or a choice).
    pub fn is_slider(&self) -> bool {
        matches!(self.kind, Kind::Int { .. } | Kind::Float { .. })
    }
}

/// A model parameter that reads and writes a number of `RegNetParams`.
macro_rules! model_number {
    ($field:ident: $ty:ty) => {
        Field::Number {
            get: |s| f64::from(s.params.$field),
            set: |s, v| s.params.$field = v as $ty,
        }
    };
}

/// A recipe parameter that reads and writes a number of `Recipe`.
macro_rules! recipe_number {
    ($field:ident: $ty:ty) => {
        Field::Number {
            get: |s| s.recipe.$field as f64,
            set: |s, v| s.recipe.$field = v as $ty,
        }
    };
}

pub const D: ParamDef = ParamDef {
    key: "d",
    label: "depth d",
    help: "Depth: how many blocks the network has in total.",
    kind: Kind::Int { min: 1, max: 64 },
    snap: Snap::Whole,
    section: Section::Model,
    advanced: false,
    field: model_number!(d: u32),
};
pub const W0: ParamDef = ParamDef {
    key: "w0",
    label: "initial width w0",
    help:
        "Initial width: the number of channels of the first block; the rule starts its line here.",
    kind: Kind::Int { min: 8, max: 512 },
    snap: Snap::MultipleOfQ,
    section: Section::Model,
    advanced: false,
    field: model_number!(w0: u32),
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
    snap: Snap::Free,
    section: Section::Model,
    advanced: false,
    field: model_number!(wa: f64),
};
pub const WM: ParamDef = ParamDef {
    key: "wm",
    label: "width multiplier wm",
    help: "Width multiplier: consecutive stages differ in width by a factor of wm, which decides where the line is cut into stages.",
    kind: Kind::Float { min: 1.05, max: 4.0, step: 0.001 },
    snap: Snap::Free,
    section: Section::Model,
    advanced: false,
    field: model_number!(wm: f64),
};
pub const G: ParamDef = ParamDef {
    key: "g",
    label: "group width g",
    help: "Group width: channels per group in every 3x3 group convolution (small g = many cheap groups).",
    kind: Kind::Int { min: 1, max: 256 },
    snap: Snap::Whole,
    section: Section::Model,
    advanced: false,
    field: model_number!(g: u32),
};
pub const B: ParamDef = ParamDef {
    key: "b",
    label: "bottleneck ratio b",
    help: "Bottleneck ratio: a block's width divided by the width of its inner 3x3 layer (RegNetX and RegNetY use b = 1).",
    kind: Kind::Float { min: 1.0, max: 4.0, step: 1.0 },
    snap: Snap::Whole,
    section: Section::Model,
    advanced: false,
    field: model_number!(b: f64),
};
pub const Q: ParamDef = ParamDef {
    key: "q",
    label: "quantum q",
    help:
        "Quantum: every width is rounded to a multiple of q (the paper uses 8); w0 must be one too.",
    kind: Kind::Int { min: 1, max: 32 },
    snap: Snap::Whole,
    section: Section::Model,
    advanced: true,
    field: model_number!(q: u32),
};
pub const SE: ParamDef = ParamDef {
    key: "se",
    label: "squeeze-excitation (RegNetY)",
    help: "RegNetY is RegNetX plus a squeeze-and-excitation module in every block.",
    kind: Kind::Flag,
    snap: Snap::Whole,
    section: Section::Model,
    advanced: false,
    field: Field::Number {
        get: |s| f64::from(u8::from(s.params.se)),
        set: |s, v| s.params.se = v != 0.0,
    },
};
pub const DATA: ParamDef = ParamDef {
    key: "data",
    label: "dataset",
    help: "Where the stages are placed: CIFAR-10 (32 px, stride-1 stem, 10 classes) or ImageNet (224 px, stride-2 stem, 1000 classes).",
    kind: Kind::Choice(&["cifar10", "imagenet"]),
    snap: Snap::Free,
    section: Section::Model,
    advanced: false,
    field: Field::Token {
        get: |s| s.dataset.key(),
        set: |s, token| {
            if let Ok(d) = token.parse() {
                s.dataset = d;
            }
        },
    },
};

pub const TRAIN_IMAGES: ParamDef = ParamDef {
    key: "train-images",
    label: "training images",
    help: "How many CIFAR-10 training images a run uses (a class-balanced subset of the 50,000).",
    kind: Kind::Int {
        min: 100,
        max: 50_000,
    },
    snap: Snap::Whole,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(train_images: usize),
};
pub const TEST_IMAGES: ParamDef = ParamDef {
    key: "test-images",
    label: "test images",
    help: "How many CIFAR-10 test images measure the error after each epoch.",
    kind: Kind::Int {
        min: 100,
        max: 10_000,
    },
    snap: Snap::Whole,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(test_images: usize),
};
pub const EPOCHS: ParamDef = ParamDef {
    key: "epochs",
    label: "epochs",
    help: "Passes over the training images.",
    kind: Kind::Int { min: 1, max: 100 },
    snap: Snap::Whole,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(epochs: u32),
};
pub const BATCH: ParamDef = ParamDef {
    key: "batch",
    label: "batch size",
    help: "Images per SGD step.",
    kind: Kind::Int { min: 2, max: 1024 },
    snap: Snap::Whole,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(batch: usize),
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
    snap: Snap::Free,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(lr: f64),
};
pub const BACKEND: ParamDef = ParamDef {
    key: "backend",
    label: "backend",
    help: "auto: WebGPU when the browser has it, else the CPU; cpu: always the CPU.",
    kind: Kind::Choice(&["auto", "cpu"]),
    snap: Snap::Free,
    section: Section::Recipe,
    advanced: false,
    field: Field::Token {
        // The page never asks for `Wgpu` (the CLI's name for the GPU): it reads "auto".
        get: |s| match s.backend {
            BackendChoice::Cpu => "cpu",
            BackendChoice::Auto | BackendChoice::Wgpu => "auto",
        },
        set: |s, token| {
            s.backend = match token {
                "cpu" => BackendChoice::Cpu,
                _ => BackendChoice::Auto,
            }
        },
    },
};
pub const LAYERS: ParamDef = ParamDef {
    key: "layers",
    label: "layers",
    help: "Whose layer kernels train the model (the same model either way, to float rounding): measured: ours where measured faster than Burn's; ours: ours wherever we have them; burn: Burn's own, to compare speeds.",
    kind: Kind::Choice(&["measured", "ours", "burn"]),
    snap: Snap::Free,
    section: Section::Recipe,
    advanced: true,
    field: Field::Token {
        get: |s| s.layers.name(),
        set: |s, token| {
            s.layers = Layers::ALL
                .into_iter()
                .find(|l| l.name() == token)
                .unwrap_or_default()
        },
    },
};
pub const SEED: ParamDef = ParamDef {
    key: "seed",
    label: "seed",
    help: "Seeds the initial weights, the training subset, the batch order and the augmentation: the same seed and settings train the same run.",
    kind: Kind::Int {
        min: 0,
        max: u32::MAX,
    },
    snap: Snap::Whole,
    section: Section::Recipe,
    advanced: false,
    field: recipe_number!(seed: u64),
};

/// The model on screen, in URL order: `q` comes before `w0` so w0 can be checked
/// against it.
pub const MODEL: [ParamDef; 9] = [D, Q, W0, WA, WM, G, B, SE, DATA];

/// How the Train panel trains it, in URL order (after the model).
pub const RECIPE: [ParamDef; 8] = [
    TRAIN_IMAGES,
    TEST_IMAGES,
    EPOCHS,
    BATCH,
    LR,
    BACKEND,
    LAYERS,
    SEED,
];

/// Every section, in URL order.
pub const SECTIONS: [&[ParamDef]; 2] = [&MODEL, &RECIPE];

/// Every parameter, in URL order.
pub fn all() -> impl Iterator<Item = &'static ParamDef> {
    SECTIONS.into_iter().flatten()
}

/// Slider `(min, max, step)` for `def` in `state`: w0 steps by q from a multiple of q.
pub fn slider(def: &ParamDef, state: &PageState) -> (f64, f64, f64) {
    let (min, max) = def.bounds();
    if def.snap == Snap::MultipleOfQ {
        let q = f64::from(state.params.q);
        return ((min / q).ceil() * q, (max / q).floor() * q, q);
    }
    (min, max, def.step())
}

/// Everything a link describes: the model on screen and how the Train panel trains it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PageState {
    pub params: RegNetParams,
    pub dataset: Dataset,
    pub recipe: Recipe,
    pub backend: BackendChoice,
    pub layers: Layers,
}

/// A parsed link: the state to show and what had to be fixed to get it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub state: PageState,
    /// One sentence per value that was out of range or unreadable.
    pub notices: Vec<String>,
}

/// A checked value with its field's setter, ready to apply.
enum Value {
    Number(fn(&mut PageState, f64), f64),
    Token(fn(&mut PageState, &str), &'static str),
}

impl Value {
    fn apply(self, state: &mut PageState) {
        match self {
            Value::Number(set, v) => set(state, v),
            Value::Token(set, t) => set(state, t),
        }
    }
}

impl PageState {
    /// The value of a parameter as it appears in the URL (empty for an unknown key).
    pub fn get(&self, key: &str) -> String {
        all()
            .find(|d| d.key == key)
            .map_or_else(String::new, |def| self.value(def))
    }

    /// The value of `def` as it appears in the URL.
    pub fn value(&self, def: &ParamDef) -> String {
        match def.field {
            Field::Number { get, .. } => get(self).to_string(),
            Field::Token { get, .. } => get(self).to_string(),
        }
    }

    /// The query pairs of this state, in URL order.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        all().map(|def| (def.key, self.value(def))).collect()
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
        for def in all() {
            let Some(raw) = lookup(def.key) else { continue };
            match parse_value(def, raw.trim(), &state) {
                Ok(v) => v.apply(&mut state),
                Err((v, why)) => {
                    v.apply(&mut state);
                    notices.push(format!(
                        "{}: {why}, so {} is used.",
                        def.key,
                        state.value(def)
                    ));
                }
            }
        }
        Parsed { state, notices }
    }
}

/// The value to use for `raw`, or that value and why `raw` could not be used.
fn parse_value(def: &ParamDef, raw: &str, state: &PageState) -> Result<Value, (Value, String)> {
    let defaults = PageState::default();
    let shown = shorten(raw);
    match def.field {
        Field::Number { get, set } => parse_number(def, raw, state)
            .map(|v| Value::Number(set, v))
            .map_err(|(v, why)| (Value::Number(set, v.unwrap_or(get(&defaults))), why)),
        Field::Token { get, set } => {
            // A token field's kind is a choice (a test checks the table).
            let tokens = match def.kind {
                Kind::Choice(tokens) => tokens,
                _ => &[],
            };
            tokens
                .iter()
                .find(|t| t.eq_ignore_ascii_case(raw))
                .map(|t| Value::Token(set, t))
                .ok_or_else(|| {
                    (
                        Value::Token(set, get(&defaults)),
                        format!("'{shown}' is not one of {}", tokens.join(", ")),
                    )
                })
        }
    }
}

/// The number to use for `raw`, or the one to use instead (`None`: the default) and why.
fn parse_number(
    def: &ParamDef,
    raw: &str,
    state: &PageState,
) -> Result<f64, (Option<f64>, String)> {
    let shown = shorten(raw);
    if def.kind == Kind::Flag {
        return match raw {
            "0" | "false" | "x" => Ok(0.0),
            "1" | "true" | "y" => Ok(1.0),
            _ => Err((None, format!("'{shown}' is not 0 or 1"))),
        };
    }
    let v: f64 = match raw.parse::<f64>() {
        Ok(v) if !v.is_nan() => v,
        _ => return Err((None, format!("'{shown}' is not a number"))),
    };
    let (min, max) = def.bounds();
    if v < min {
        return Err((
            Some(fit(def, min, state)),
            format!("{shown} is below the minimum {min}"),
        ));
    }
    if v > max {
        return Err((
            Some(fit(def, max, state)),
            format!("{shown} is above the maximum {max}"),
        ));
    }
    if def.snap != Snap::Free && v.fract() != 0.0 {
        return Err((
            Some(fit(def, v.round(), state)),
            format!("{shown} is not a whole number"),
        ));
    }
    if def.snap == Snap::MultipleOfQ && !(v as u32).is_multiple_of(state.params.q) {
        let q = state.params.q;
        return Err((
            Some(fit(def, v, state)),
            format!("{shown} is not a multiple of q = {q}"),
        ));
    }
    Ok(v)
}

/// The valid value nearest `v`: a multiple of q inside the range where the parameter
/// snaps to one, else `v`.
fn fit(def: &ParamDef, v: f64, state: &PageState) -> f64 {
    if def.snap != Snap::MultipleOfQ {
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
    use crate::design::REGNETY_125MF_CIFAR;
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
            params: REGNETY_125MF_CIFAR.params(),
            dataset: Dataset::Cifar10,
            recipe: Recipe {
                train_images: 5000,
                lr: 0.05,
                seed: 7,
                ..Recipe::default()
            },
            backend: BackendChoice::Cpu,
            layers: Layers::Burn,
        };
        let qs = state.query_string();
        assert_eq!(
            qs,
            "?d=12&q=8&w0=96&wa=19.5&wm=2.942&g=8&b=1&se=1&data=cifar10\
             &train-images=5000&test-images=2000&epochs=5&batch=128&lr=0.05&backend=cpu\
             &layers=burn&seed=7"
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

    /// Links as the page read them before each parameter was declared once with its
    /// accessors (tests/golden/links.json, written by that code): today they open the
    /// same values with the same notices, and the seed they lack is 0.
    #[test]
    fn old_links_open_the_same_view() {
        #[derive(serde::Deserialize)]
        struct Link {
            link: String,
            values: std::collections::BTreeMap<String, String>,
            notices: Vec<String>,
        }
        let links: Vec<Link> =
            serde_json::from_str(include_str!("../tests/golden/links.json")).unwrap();
        assert!(links.len() >= 20, "{} links", links.len());
        for l in &links {
            let parsed = parse(l.link.trim_start_matches('?'));
            assert_eq!(l.values.len(), 15, "{}", l.link);
            for (key, value) in &l.values {
                assert_eq!(&parsed.state.get(key), value, "{}: {key}", l.link);
            }
            assert_eq!(parsed.notices, l.notices, "{}", l.link);
            assert_eq!(parsed.state.recipe.seed, 0, "{}", l.link);
        }
    }

    #[test]
    fn keys_are_unique_and_sections_in_url_order() {
        let keys: Vec<&str> = all().map(|d| d.key).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        assert!(MODEL.iter().all(|d| d.section == Section::Model));
        assert!(RECIPE.iter().all(|d| d.section == Section::Recipe));
        let q = keys.iter().position(|k| *k == "q").unwrap();
        let w0 = keys.iter().position(|k| *k == "w0").unwrap();
        assert!(q < w0, "q is read before w0 is checked against it");
        for def in all() {
            let token = matches!(def.field, Field::Token { .. });
            let choice = matches!(def.kind, Kind::Choice(_));
            assert_eq!(token, choice, "{}: a choice is read by its token", def.key);
        }
    }

    /// The link's tokens are the ones runs and records use (`Layers::name`), so each
    /// opens its own choice.
    #[test]
    fn every_layers_choice_opens_from_its_token() {
        for layers in Layers::ALL {
            let p = parse(&format!("layers={}", layers.name()));
            assert_eq!(p.state.layers, layers);
            assert!(p.notices.is_empty(), "{:?}", p.notices);
        }
        assert_eq!(
            parse("").state.layers,
            Layers::Measured,
            "old links: the default"
        );
    }

    #[test]
    fn the_seed_is_in_the_link() {
        let p = parse("seed=123456789");
        assert_eq!(p.state.recipe.seed, 123_456_789);
        assert!(p.state.query_string().ends_with("&seed=123456789"));
        let p = parse("seed=-1&lr=0.1");
        assert_eq!(p.state.recipe.seed, 0);
        assert_eq!(
            p.notices,
            ["seed: -1 is below the minimum 0, so 0 is used."]
        );
        let p = parse("seed=2.5");
        assert_eq!(p.state.recipe.seed, 3, "rounded");
    }
}
