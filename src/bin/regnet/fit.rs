//! `regnet fit`: the RegNet rule closest to given per-block widths (paper section 3.3),
//! as a table or JSON.

use clap::Args;
use regnet_playground::design::fit;
use regnet_playground::design::fit::parse_widths;

use crate::error::CliError;

#[derive(Args)]
pub struct FitArgs {
    /// Per-block widths, block 0 first, comma-separated; a run as WIDTHxCOUNT
    /// (32,32,64,64 or 32x2,64x2).
    #[arg(long)]
    widths: String,
    /// Fitted widths are multiples of this quantum (pycls uses 8).
    #[arg(long, default_value_t = 8)]
    q: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &FitArgs) -> Result<String, CliError> {
    let widths = parse_widths(&a.widths).map_err(|e| CliError::Flag(format!("--widths: {e}")))?;
    let f = fit(&widths, a.q)?;
    if a.json {
        return Ok(serde_json::to_string(&f).expect("a fit serialises"));
    }
    let list = |w: &[u32]| w.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let verdict = if f.e_fit == 0.0 {
        "exact: the rule gives these widths".to_string()
    } else {
        format!("e_fit {:.4} (mean |ln(fitted / given)|)", f.e_fit)
    };
    Ok(format!(
        "d={} w0={} wa={} wm={} q={}\n{verdict}\ngiven   {}\nfitted  {}",
        f.d,
        f.w0,
        f.wa,
        f.wm,
        f.q,
        list(&widths),
        list(&f.block_widths)
    ))
}
