//! `regnet`: the design-space core on the command line.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::run());
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{error::ErrorKind, Args, Parser, Subcommand};
    use regnet_playground::design::{Dataset, ParamError, Preset, RegNetParams};
    use regnet_playground::report::{grouped, human_count, Report};

    #[derive(Parser)]
    #[command(
        name = "regnet",
        version,
        about = "The RegNet design space on the command line"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Stages, widths and complexity of one RegNet (pycls's rule, bit for bit).
        Shape(ShapeArgs),
    }

    #[derive(Args)]
    #[command(allow_negative_numbers = true)]
    struct ShapeArgs {
        /// A published model, e.g. regnetx-200mf .. regnety-32gf (other flags override it).
        #[arg(long)]
        preset: Option<String>,
        /// Depth: number of blocks.
        #[arg(long, required_unless_present = "preset")]
        d: Option<u32>,
        /// Initial width (a multiple of q).
        #[arg(long, required_unless_present = "preset")]
        w0: Option<u32>,
        /// Slope of the continuous widths.
        #[arg(long, required_unless_present = "preset")]
        wa: Option<f64>,
        /// Width multiplier (> 1).
        #[arg(long, required_unless_present = "preset")]
        wm: Option<f64>,
        /// Group width [default: 8, or the preset's].
        #[arg(long)]
        g: Option<u32>,
        /// Bottleneck ratio (paper's b; 1 = no bottleneck).
        #[arg(long)]
        b: Option<f64>,
        /// Width quantum.
        #[arg(long)]
        q: Option<u32>,
        /// Squeeze-excitation (RegNetY).
        #[arg(long)]
        se: bool,
        /// imagenet or cifar10.
        #[arg(long, default_value = "imagenet")]
        dataset: String,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    }

    /// Exit code: 0, or 2 for bad input (after one line on stderr).
    pub fn run() -> i32 {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
                e.exit()
            }
            Err(e) => {
                let text = e.render().to_string();
                eprintln!(
                    "{}",
                    text.lines().next().unwrap_or("error: invalid arguments")
                );
                return 2;
            }
        };
        match cli.command {
            Command::Shape(args) => match shape(&args) {
                Ok(out) => {
                    println!("{out}");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            },
        }
    }

    fn params(a: &ShapeArgs) -> Result<RegNetParams, ParamError> {
        let base = match &a.preset {
            Some(name) => Preset::find(name)?.params(),
            None => RegNetParams::default(),
        };
        Ok(RegNetParams {
            d: a.d.unwrap_or(base.d),
            w0: a.w0.unwrap_or(base.w0),
            wa: a.wa.unwrap_or(base.wa),
            wm: a.wm.unwrap_or(base.wm),
            g: a.g.unwrap_or(base.g),
            b: a.b.unwrap_or(base.b),
            q: a.q.unwrap_or(base.q),
            se: a.se || base.se,
        })
    }

    fn shape(a: &ShapeArgs) -> Result<String, ParamError> {
        let dataset: Dataset = a.dataset.parse()?;
        let report = Report::new(&params(a)?, dataset)?;
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
}
