//! The guided path through the paper (the `/lessons/STEP` routes): its steps in order,
//! each with a few plain sentences, the constraint it adds, the spaces whose sizes it
//! compares, the reference sweeps whose EDFs it shows and a "try it" link. Pure: the
//! page (`app::lessons`) draws them; the sizes come from `crate::space`.
//!
//! A step's slug is its link (`/lessons/anynetx-b`), so slugs never change once
//! published; new steps get new slugs.

use crate::space::{Sampler, Space};

/// One parameter of the spaces as the lesson's constraint table lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// d_i: blocks per stage.
    Depth,
    /// w_i: width per stage.
    Width,
    /// b_i: bottleneck ratio per stage.
    Bottleneck,
    /// g_i: group width per stage.
    Group,
}

impl Param {
    pub const ALL: [Param; 4] = [Param::Depth, Param::Width, Param::Bottleneck, Param::Group];

    /// The paper's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Param::Depth => "d_i",
            Param::Width => "w_i",
            Param::Bottleneck => "b_i",
            Param::Group => "g_i",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Param::Depth => "depth (blocks per stage)",
            Param::Width => "width",
            Param::Bottleneck => "bottleneck ratio",
            Param::Group => "group width",
        }
    }

    /// How `space` constrains this parameter, in a few words.
    pub fn rule_in(self, space: Space) -> &'static str {
        let rank = Space::ALL.iter().position(|s| *s == space).unwrap_or(0);
        let from = |s: Space| rank >= Space::ALL.iter().position(|x| *x == s).unwrap_or(0);
        match self {
            _ if space.is_regnet() => match self {
                Param::Depth | Param::Width => "from the rule (d, w0, wa, wm)",
                Param::Bottleneck | Param::Group => "shared by all stages",
            },
            Param::Bottleneck if from(Space::AnyNetXB) => "shared by all stages",
            Param::Group if from(Space::AnyNetXC) => "shared by all stages",
            Param::Width if from(Space::AnyNetXD) => "non-decreasing, stage by stage",
            Param::Depth if from(Space::AnyNetXE) => "non-decreasing, stage by stage",
            _ => "free in each stage",
        }
    }
}

/// Where a step's "try it" goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryIt {
    /// A route of `crate::site`.
    pub route: &'static str,
    /// Its query, without the `?`.
    pub query: &'static str,
    /// What the link says.
    pub label: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Its link: `/lessons/{slug}`.
    pub slug: &'static str,
    pub title: &'static str,
    /// A few plain sentences, a paragraph each.
    pub text: &'static [&'static str],
    /// The space the step is about; its constraint table shows this space's rules.
    pub space: Space,
    /// The space before this step's constraint, whose size the step compares.
    pub before: Option<Space>,
    /// The parameter this step constrains (highlighted in the table).
    pub adds: Option<Param>,
    /// Reference sweeps whose error EDFs the step shows (`crate::explore::REFERENCE`).
    pub show: &'static [&'static str],
    pub try_it: TryIt,
}

impl Step {
    /// The number of models in `space` with the paper's ranges (its Table 1 counts;
    /// pycls's sampler ranges for the RegNets).
    pub fn size_of(space: Space) -> f64 {
        Sampler::new(space, crate::design::Dataset::Imagenet).size()
    }
}

/// The steps, in order.
pub const STEPS: [Step; 9] = [
    Step {
        slug: "design-spaces",
        title: "What a design space is",
        text: &[
            "A network design space is not one network: it is a population of them, all built the same way but with their parameters left free within ranges.",
            "To compare two spaces, the paper samples models from each, trains every model with the same short recipe, and plots the empirical distribution function (EDF) of their errors: F(e) is the fraction of models with error at most e.",
            "A curve further up and to the left is a better space: more of its models are good. Below, the reference sweep's AnyNetX-A and RegNetX, 48 models each, trained here on CIFAR-10.",
        ],
        space: Space::AnyNetXA,
        before: None,
        adds: None,
        show: &["anynetx-a", "regnetx"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a,regnetx",
            label: "Open these EDFs in the design-space explorer",
        },
    },
    Step {
        slug: "anynetx-a",
        title: "AnyNetX-A: everything free",
        text: &[
            "Every network here has a stem, a body of four stages and a head. Each stage is a run of identical residual bottleneck blocks with group convolutions (the X block).",
            "In AnyNetX-A each stage picks its own depth, width, bottleneck ratio and group width: 16 parameters in all, and about 10^18 possible models.",
            "The paper's method: do not search for the best model in there; make the space smaller and simpler while its EDF stays as good or gets better.",
        ],
        space: Space::AnyNetXA,
        before: None,
        adds: None,
        show: &["anynetx-a"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a&spaces=anynetx-a",
            label: "Sample AnyNetX-A models in the explorer",
        },
    },
    Step {
        slug: "anynetx-b",
        title: "AnyNetX-B: one bottleneck ratio",
        text: &[
            "First constraint: all four stages share one bottleneck ratio b.",
            "The EDF barely moves (the paper's Figure 5), so nothing is lost, and the space is smaller. The reference sweep has no B models: train a few beside A to see it yourself.",
        ],
        space: Space::AnyNetXB,
        before: Some(Space::AnyNetXA),
        adds: Some(Param::Bottleneck),
        show: &["anynetx-a"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a&spaces=anynetx-a,anynetx-b",
            label: "Sample A and B side by side in the explorer",
        },
    },
    Step {
        slug: "anynetx-c",
        title: "AnyNetX-C: one group width",
        text: &[
            "Next, all stages share one group width g as well.",
            "Again the EDF holds, and six parameters are gone since A. Simpler spaces are easier to understand and to sample from.",
        ],
        space: Space::AnyNetXC,
        before: Some(Space::AnyNetXB),
        adds: Some(Param::Group),
        show: &["anynetx-a"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a&spaces=anynetx-b,anynetx-c",
            label: "Sample B and C side by side in the explorer",
        },
    },
    Step {
        slug: "anynetx-d",
        title: "AnyNetX-D: widths that increase",
        text: &[
            "Looking at the good models of C, the paper saw that their widths grow from stage to stage. So D keeps only networks whose widths never shrink: w_(i+1) ≥ w_i.",
            "This time the EDF improves clearly: the constraint removes mostly bad models.",
        ],
        space: Space::AnyNetXD,
        before: Some(Space::AnyNetXC),
        adds: Some(Param::Width),
        show: &["anynetx-a"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a&spaces=anynetx-c,anynetx-d",
            label: "Sample C and D side by side in the explorer",
        },
    },
    Step {
        slug: "anynetx-e",
        title: "AnyNetX-E: depths that increase",
        text: &[
            "The same holds for depths: E keeps only networks whose stages never get shallower, d_(i+1) ≥ d_i.",
            "Compare E with A below: E's curve is higher at every error, although E is orders of magnitude smaller.",
        ],
        space: Space::AnyNetXE,
        before: Some(Space::AnyNetXD),
        adds: Some(Param::Depth),
        show: &["anynetx-a", "anynetx-e"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a,anynetx-e",
            label: "Compare A and E in the explorer",
        },
    },
    Step {
        slug: "linear-rule",
        title: "The quantized linear rule",
        text: &[
            "The widths of E's best models fall close to a line over the block index j: u_j = w0 + wa·j. The paper turns that line into networks with one more parameter, wm.",
            "Each block's width is the power of wm nearest to u_j / w0 (on a log scale), times w0, rounded to a multiple of q = 8. Blocks with the same width form a stage.",
            "The paper's worked example: d = 4, w0 = 32, wa = 8, wm = 2 gives u = 32, 40, 48, 56, quantized to 32, 32, 64, 64: two stages of 2 blocks, at widths 32 and 64.",
        ],
        space: Space::RegNetX,
        before: None,
        adds: None,
        show: &[],
        try_it: TryIt {
            route: crate::site::HOME,
            query: "d=4&w0=32&wa=8&wm=2&g=8&b=1&q=8&se=0&data=cifar10&hide=g,b,q,se,preset,train&ask=Move%20wa%20and%20wm%3A%20when%20does%20a%20new%20stage%20appear%3F",
            label: "Open the worked example in the shape explorer",
        },
    },
    Step {
        slug: "regnetx",
        title: "RegNetX against AnyNetX-A",
        text: &[
            "RegNetX is every network the rule makes: six parameters (d, w0, wa, wm, b, g) instead of A's sixteen, and so many orders of magnitude fewer models (the sizes below count pycls's sampler's values).",
            "Yet its EDF is the best of all: a random RegNetX is likely to be a good network. Below, A, E and RegNetX from the reference sweep.",
        ],
        space: Space::RegNetX,
        before: Some(Space::AnyNetXA),
        adds: None,
        show: &["anynetx-a", "anynetx-e", "regnetx"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=anynetx-a,anynetx-e,regnetx",
            label: "Compare A, E and RegNetX in the explorer",
        },
    },
    Step {
        slug: "best-models",
        title: "What the best models share",
        text: &[
            "Plotting error against each parameter shows where the good models of RegNetX lie (the paper's Figure 11): a width multiplier wm near 2.5, a bottleneck ratio b = 1 (no bottleneck), and in the paper's ImageNet regime about 20 blocks whatever the flops.",
            "Squeeze-excitation (RegNetY) helps further. The published RegNetX and RegNetY models are the best of such spaces at each flop budget.",
        ],
        space: Space::RegNetY,
        before: None,
        adds: None,
        show: &["regnetx", "regnety"],
        try_it: TryIt {
            route: crate::site::EXPLORE,
            query: "show=regnetx,regnety&param=wm",
            label: "See error against wm in the explorer",
        },
    },
];

/// The step with this slug and its place (0-based).
pub fn step(slug: &str) -> Option<(usize, &'static Step)> {
    STEPS.iter().enumerate().find(|(_, s)| s.slug == slug)
}

/// `10^18`-style text for a space's size: `1.8e18` as "1.8 × 10^18".
pub fn size_text(n: f64) -> String {
    if n < 1e6 {
        return format!("{n:.0}");
    }
    let exp = n.log10().floor();
    format!("{:.1} × 10^{exp}", n / 10f64.powf(exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::RegNetParams;
    use crate::explore::REFERENCE;

    #[test]
    fn steps_have_unique_slugs_and_show_reference_sweeps_only() {
        for (i, s) in STEPS.iter().enumerate() {
            assert_eq!(step(s.slug).map(|(j, _)| j), Some(i));
            for name in s.show {
                assert!(REFERENCE.contains(name), "{}: {name}", s.slug);
            }
            assert!(!s.text.is_empty());
        }
        assert_eq!(step("no-such-step"), None);
    }

    #[test]
    fn each_anynet_constraint_shrinks_the_space_and_the_rule_most() {
        let sizes: Vec<f64> = Space::ALL.iter().map(|s| Step::size_of(*s)).collect();
        for pair in sizes[..5].windows(2) {
            assert!(pair[1] < pair[0], "{sizes:?}");
        }
        assert!(sizes[0] > 1e18 && sizes[5] < sizes[4], "{sizes:?}");
        for s in &STEPS {
            if let (Some(before), Some(p)) = (s.before, s.adds) {
                assert_ne!(p.rule_in(before), p.rule_in(s.space), "{}", s.slug);
            }
        }
    }

    #[test]
    fn the_worked_example_gives_two_stages_of_two_blocks() {
        let params = RegNetParams {
            d: 4,
            w0: 32,
            wa: 8.0,
            wm: 2.0,
            ..Default::default()
        };
        let shape = params.shape().unwrap();
        assert_eq!(shape.quantized.block_widths, [32, 32, 64, 64]);
    }

    #[test]
    fn sizes_read_as_powers_of_ten() {
        assert_eq!(size_text(1.8e18), "1.8 × 10^18");
        assert_eq!(size_text(4096.0), "4096");
    }
}
