// Where a GPU training step's time goes, kernel by kernel, from CubeCL's profiling log.
//
//   node bench/kernel_profile.mjs SHORT.log LONG.log [STEPS]
//
// Each log is a `regnet bench --backend wgpu` run with CubeCL's per-kernel timing on
// (`CUBECL_DEBUG_LOG=FILE CUBECL_DEBUG_OPTION=profile`; scripts/profile-gpu runs both):
// the same warm-up, LONG with STEPS more timed steps than SHORT. Kernel compilation and
// autotuning happen in the warm-up, so LONG minus SHORT is STEPS steady steps alone.
// Prints, per kernel name, its launches and time per step, largest first.
import { readFileSync } from "node:fs";

const [short, long, stepsArg = "2"] = process.argv.slice(2);
if (!short || !long) {
  console.error("usage: node bench/kernel_profile.mjs SHORT.log LONG.log [STEPS]");
  process.exit(2);
}
const steps = Number(stepsArg);

// "| 1.234ms    | name": a duration as Rust's Debug prints it, then the kernel.
const LINE = /^\|\s*([\d.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$/;
const UNIT = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1e3 };

/// Kernel name -> { launches, ms } over one log.
function totals(path) {
  const byName = new Map();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[3];
    const entry = byName.get(name) ?? { launches: 0, ms: 0 };
    entry.launches += 1;
    entry.ms += Number(m[1]) * UNIT[m[2]];
    byName.set(name, entry);
  }
  if (byName.size === 0) throw new Error(`${path}: no profiled kernels (was CUBECL_DEBUG_OPTION=profile set?)`);
  return byName;
}

const a = totals(short);
const b = totals(long);
const rows = [];
for (const [name, { launches, ms }] of b) {
  const before = a.get(name) ?? { launches: 0, ms: 0 };
  const n = (launches - before.launches) / steps;
  const t = (ms - before.ms) / steps;
  if (n > 0 || t > 0.001) rows.push({ name, n, t });
}
rows.sort((x, y) => y.t - x.t);
const total = rows.reduce((s, r) => s + r.t, 0);
console.log(`per step: ${total.toFixed(2)} ms in ${rows.reduce((s, r) => s + r.n, 0).toFixed(0)} launches`);
console.log("| ms/step | share | launches/step | kernel |");
console.log("| ---: | ---: | ---: | --- |");
for (const { name, n, t } of rows) {
  const short = name.length > 110 ? `${name.slice(0, 107)}...` : name;
  console.log(`| ${t.toFixed(2)} | ${((100 * t) / total).toFixed(1)}% | ${n.toFixed(0)} | \`${short}\` |`);
}
