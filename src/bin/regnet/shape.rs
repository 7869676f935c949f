//! `regnet shape`: one model's stages, widths and complexity, as a table or JSON.

use clap::Args;
use regnet_playground::design::Dataset;
use regnet_playground::report::{grouped, human_count, Report};

use crate::args::ModelArgs;
use crate::error::CliError;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct ShapeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &ShapeArgs) -> Result<String, CliError> {
    let report = a.model.report(Dataset::Imagenet)?;
    if a.json {
        return Ok(serde_json::to_string(&report.to_json()).expect("report serialises"));
    }
    Ok(table(&report))
}

fn table(r: &Report) -> String {
    let p = &r.shape.params;
    let q = &r.shape.quantized;
    let kind = if p.se { "RegNetY" } else { "RegNetX" };
    let mut out = format!(
        "{kind} d={} w0={} wa={} wm={} g={} b={} q={} at {}\n\n",
        p.d,
        p.w0,
        p.wa,
        p.wm,
        p.g,
        p.b,
        p.q,
        r.dataset.label()
    );
    out += "stage  blocks  width  group width  groups  bottleneck\n";
    for (i, s) in r.shape.stages.iter().enumerate() {
        out += &format!(
            "{:>5}  {:>6}  {:>5}  {:>11}  {:>6}  {:>10}\n",
            i + 1,
            s.depth,
            s.width,
            s.group_width,
            s.groups,
            s.bottleneck_width
        );
    }
    let c = &r.complexity;
    out += &format!(
        "\nnum_stages {}  total_stages {}\nflops {} ({})  params {} ({})  acts {} ({})",
        q.num_stages,
        q.total_stages,
        human_count(c.flops),
        grouped(c.flops),
        human_count(c.params),
        grouped(c.params),
        human_count(c.acts),
        grouped(c.acts)
    );
    for note in r.notes() {
        out += &format!("\nnote: {note}");
    }
    out
}
