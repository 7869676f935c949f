//! `regnet sample`: n distinct models from a design space within a complexity band, as
//! a table or one JSON array.

use std::str::FromStr;

use clap::Args;
use regnet_playground::design::Dataset;
use regnet_playground::report::human_count;
use regnet_playground::space::{
    sample, AnyNetRanges, Band, Bound, Range, Ranges, RegNetRanges, Sample, Sampler, Space,
};

use crate::args::DatasetArg;
use crate::error::CliError;

#[derive(Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub space: SpaceArgs,
    /// How many distinct models to draw.
    #[arg(long, default_value_t = 32)]
    n: usize,
    /// Seed of the draws: the same flags and seed give the same models.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Give up after this many tries (a narrow band rejects most draws).
    #[arg(long, default_value_t = 1_000_000)]
    tries: u64,
    /// Print one JSON array of models instead of a table.
    #[arg(long)]
    json: bool,
}

/// The space, its ranges and the band (`sample` and `sweep`).
#[derive(Args)]
pub struct SpaceArgs {
    /// The design space: anynetx-a .. anynetx-e, regnetx or regnety.
    #[arg(long)]
    space: String,
    /// The flops band LO:HI (multiply-adds; K, M and G suffixes; 0 leaves a side open).
    #[arg(long, value_parser = parse_band)]
    flops: Option<Bound>,
    /// The params band LO:HI.
    #[arg(long, value_parser = parse_band)]
    params: Option<Bound>,
    /// The activations band LO:HI.
    #[arg(long, value_parser = parse_band)]
    acts: Option<Bound>,
    /// Depth range LO:HI: per stage for AnyNetX [1:16], d for RegNet [12:28].
    #[arg(long, value_parser = parse_range::<u32>)]
    depth: Option<Range<u32>>,
    /// AnyNetX: stage width range LO:HI, multiples of 8 [8:1024].
    #[arg(long, value_parser = parse_range::<u32>)]
    width: Option<Range<u32>>,
    /// AnyNetX: the bottleneck ratios to choose from [1,2,4].
    #[arg(long, value_delimiter = ',')]
    bottleneck_ratios: Option<Vec<u32>>,
    /// AnyNetX: the group widths to choose from [1,2,4,8,16,32].
    #[arg(long, value_delimiter = ',')]
    group_widths: Option<Vec<u32>>,
    /// Stage count: N for AnyNetX [4], LO:HI accepted for RegNet [4:4].
    #[arg(long, value_parser = parse_range::<u32>)]
    stages: Option<Range<u32>>,
    /// RegNet: w0 range LO:HI, multiples of 8 [8:256].
    #[arg(long, value_parser = parse_range::<u32>)]
    w0: Option<Range<u32>>,
    /// RegNet: wa range LO:HI [8:256].
    #[arg(long, value_parser = parse_range::<f64>)]
    wa: Option<Range<f64>>,
    /// RegNet: wm range LO:HI [2:3].
    #[arg(long, value_parser = parse_range::<f64>)]
    wm: Option<Range<f64>>,
    /// RegNet: group width range LO:HI, powers of two [8:128].
    #[arg(long, value_parser = parse_range::<u32>)]
    group_width: Option<Range<u32>>,
    /// RegNet: pycls's bottleneck multiplier 1/b, LO:HI, powers of two [1:1].
    #[arg(long, value_parser = parse_range::<f64>)]
    bot_mul: Option<Range<f64>>,
    /// The dataset whose resolution the band is measured at.
    #[arg(long, value_enum, default_value = "cifar10")]
    dataset: DatasetArg,
}

pub fn run(a: &SampleArgs) -> Result<String, CliError> {
    let sampler = a.space.sampler()?;
    let got = sample(&sampler, a.n, a.seed, a.tries)?;
    if a.json {
        return Ok(serde_json::to_string(&got.models).expect("models serialise"));
    }
    Ok(table(&sampler, &got))
}

impl SpaceArgs {
    /// The space, its ranges with the flags applied, the band and the dataset.
    pub fn sampler(&self) -> Result<Sampler, CliError> {
        let space = Space::from_str(&self.space)?;
        let mut sampler = Sampler::new(space, Dataset::from(self.dataset));
        let misplaced = |flag: &'static str, given: bool, spaces: &'static str| {
            if given {
                Err(CliError::Flag(format!(
                    "--{flag} applies to {spaces} only, not {space}"
                )))
            } else {
                Ok(())
            }
        };
        match &mut sampler.ranges {
            Ranges::AnyNet(r) => {
                for (flag, given) in [
                    ("w0", self.w0.is_some()),
                    ("wa", self.wa.is_some()),
                    ("wm", self.wm.is_some()),
                    ("group-width", self.group_width.is_some()),
                    ("bot-mul", self.bot_mul.is_some()),
                ] {
                    misplaced(flag, given, "regnetx and regnety")?;
                }
                apply_anynet(self, r)?;
            }
            Ranges::RegNet(r) => {
                for (flag, given) in [
                    ("width", self.width.is_some()),
                    ("bottleneck-ratios", self.bottleneck_ratios.is_some()),
                    ("group-widths", self.group_widths.is_some()),
                ] {
                    misplaced(flag, given, "the AnyNetX spaces")?;
                }
                apply_regnet(self, r);
            }
        }
        sampler.band = Band {
            flops: self.flops.unwrap_or_default(),
            params: self.params.unwrap_or_default(),
            acts: self.acts.unwrap_or_default(),
        };
        Ok(sampler)
    }
}

fn apply_anynet(a: &SpaceArgs, r: &mut AnyNetRanges) -> Result<(), CliError> {
    if let Some(stages) = a.stages {
        if stages.low != stages.high {
            return Err(CliError::Flag(
                "--stages for AnyNetX is one count (the spaces have a fixed number of stages)"
                    .into(),
            ));
        }
        r.stages = stages.low;
    }
    r.depth = a.depth.unwrap_or(r.depth);
    r.width = a.width.unwrap_or(r.width);
    if let Some(b) = &a.bottleneck_ratios {
        r.bottleneck_ratios = b.clone();
    }
    if let Some(g) = &a.group_widths {
        r.group_widths = g.clone();
    }
    Ok(())
}

fn apply_regnet(a: &SpaceArgs, r: &mut RegNetRanges) {
    r.depth = a.depth.unwrap_or(r.depth);
    r.stages = a.stages.unwrap_or(r.stages);
    r.w0 = a.w0.unwrap_or(r.w0);
    r.wa = a.wa.unwrap_or(r.wa);
    r.wm = a.wm.unwrap_or(r.wm);
    r.group_width = a.group_width.unwrap_or(r.group_width);
    r.bot_mul = a.bot_mul.unwrap_or(r.bot_mul);
}

/// The models as a table, with the space's size and the tries it took.
pub fn table(sampler: &Sampler, got: &Sample) -> String {
    let space = sampler.space;
    let mut out = format!(
        "{} models from {} ({:.2e} configurations) at {}, {} tries\n\n",
        got.models.len(),
        space.label(),
        sampler.size(),
        sampler.dataset.label(),
        got.tries
    );
    out += "   #   flops  params    acts  depths / widths / b / g\n";
    for (i, m) in got.models.iter().enumerate() {
        out += &format!(
            "{:>4}  {:>6}  {:>6}  {:>6}  {}\n",
            i + 1,
            human_count(m.flops),
            human_count(m.params),
            human_count(m.acts),
            m.label()
        );
    }
    out.trim_end().to_string()
}

/// A count with an optional K, M or G suffix ("120M", "1.5e8", "0").
fn parse_count(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, scale) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1e3),
        Some('M' | 'm') => (&s[..s.len() - 1], 1e6),
        Some('G' | 'g') => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    match num.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x * scale),
        _ => Err(format!("'{s}' is not a count (try 120M or 1.2e8)")),
    }
}

/// LO:HI counts, 0 leaving a side open.
fn parse_band(s: &str) -> Result<Bound, String> {
    let (low, high) = s.split_once(':').ok_or_else(|| {
        format!("'{s}' is not a band: write LO:HI, e.g. 120M:130M (0 leaves a side open)")
    })?;
    let bound = Bound {
        low: parse_count(low)?,
        high: parse_count(high)?,
    };
    if bound.high != 0.0 && bound.low > bound.high {
        return Err(format!("the band {s} has its low end above its high end"));
    }
    Ok(bound)
}

/// LO:HI, or one value N for N:N.
fn parse_range<T: FromStr + Copy>(s: &str) -> Result<Range<T>, String> {
    let parse = |v: &str| {
        v.trim()
            .parse::<T>()
            .map_err(|_| format!("'{v}' in '{s}' is not a number"))
    };
    match s.split_once(':') {
        Some((low, high)) => Ok(Range::new(parse(low)?, parse(high)?)),
        None => {
            let v = parse(s)?;
            Ok(Range::new(v, v))
        }
    }
}
