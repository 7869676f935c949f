// Where a GPU training step's time goes, kernel by kernel, from CubeCL's profiling log.
//
//   node bench/kernel_profile.mjs LOG STEPS
//
// LOG (or LOG.gz) is a `regnet bench --backend wgpu --steps STEPS` run with CubeCL's
// per-kernel timing on (`CUBECL_DEBUG_LOG=LOG CUBECL_DEBUG_OPTION=profile`;
// scripts/profile-gpu runs it).
// Once the warm-up's kernel compilation and autotuning are done, every step launches the
// same kernels in the same order, so the log ends in STEPS repeats of one sequence: the
// script finds the shortest such period and reports the mean step over those repeats
// (CubeCL's own device probes, which it runs in between, left out). Prints, per kernel,
// its launches and time per step, largest first, as Markdown for BENCHMARKS.md.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const [log, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!log || !(steps >= 2)) {
  console.error("usage: node bench/kernel_profile.mjs LOG STEPS (at least 2 steps)");
  process.exit(2);
}

// "| 1.234ms    | name": a duration as Rust's Debug prints it, then the kernel.
const LINE = /^\|\s*([\d.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$/;
const UNIT = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1e3 };
// CubeCL's measurements of the device itself, not the model's kernels.
const PROBE = /Throughput|PrimeBuffer|LaunchOverhead/;

const launches = [];
// A log as scripts/bench-gpu brings it back, gzipped, or as CubeCL wrote it.
const bytes = readFileSync(log);
const text = (log.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
for (const line of text.split("\n")) {
  const m = LINE.exec(line);
  if (m && !PROBE.test(m[3])) launches.push({ name: m[3], ms: Number(m[1]) * UNIT[m[2]] });
}

// The shortest period the last `steps` steps repeat with. The log can end inside a step:
// the loop reads the last step's loss before that step's parameter updates have run, and
// those are left to the end of the process (or never flushed): so the launches after the
// last whole step, fewer than a period and the start of one more step, are dropped.
const names = launches.map((l) => l.name);
const repeats = (p, end) => {
  for (let i = 1; i <= p; i++) {
    for (let s = 1; s < steps; s++) {
      if (names[end - i] !== names[end - i - s * p]) return false;
    }
  }
  return true;
};
let period = 0;
let end = names.length;
search: for (let p = 1; p * steps <= names.length; p++) {
  for (let trim = 0; trim < p && p * steps <= names.length - trim; trim++) {
    const cut = names.length - trim;
    // What was dropped must be the start of one more step.
    const partial = names.slice(cut).every((name, j) => name === names[cut - p + j]);
    if (partial && repeats(p, cut)) {
      period = p;
      end = cut;
      break search;
    }
  }
}
if (!period) {
  console.error(`${log}: the last ${steps} steps do not repeat one kernel sequence (still autotuning? was CUBECL_DEBUG_OPTION=profile set?)`);
  process.exit(1);
}

const byName = new Map();
for (const { name, ms } of launches.slice(end - period * steps, end)) {
  const entry = byName.get(name) ?? { n: 0, t: 0 };
  entry.n += 1 / steps;
  entry.t += ms / steps;
  byName.set(name, entry);
}
// Kinds of kernel, by the names Burn and CubeCL give them (the first that matches).
const KINDS = [
  ["convolution (direct, transposed, ours)", /Conv|GradW|GradX|^ForwardKernel|SumChunks|Col2im|Im2col/],
  ["batch norm (ours)", /^Bn[A-Za-z]*Kernel/],
  ["squeeze-excitation (ours)", /^Se(Gate|Scale|Backward|Weights)Kernel/],
  ["matrix product (1x1 convolutions: Burn's, or our GemmKernel)", /Matmul|^GemmKernel/],
  ["copy (layout changes)", /Copy|SliceAssign|Slice/],
  ["fused element-wise", /ElemwiseFuse/],
  ["element-wise, unfused", /Binop|Unary|Full|Cast|Mask|Clamp/],
  ["reduction (batch norm, pooling, loss)", /Reduce|Sum|Pool|Argmax/],
];
const kindOf = (name) => (KINDS.find(([, re]) => re.test(name)) ?? ["other"])[0];
const kinds = new Map();
for (const [name, { n, t }] of byName) {
  const k = kinds.get(kindOf(name)) ?? { n: 0, t: 0 };
  k.n += n;
  k.t += t;
  kinds.set(kindOf(name), k);
}

const rows = [...byName].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.t - a.t);
const total = rows.reduce((s, r) => s + r.t, 0);
console.log(`${total.toFixed(1)} ms of kernels per step in ${period} launches (mean of the last ${steps} steps)\n`);
console.log("| kind | ms/step | share | launches/step |");
console.log("| --- | ---: | ---: | ---: |");
for (const [kind, { n, t }] of [...kinds].sort((a, b) => b[1].t - a[1].t)) {
  console.log(`| ${kind} | ${t.toFixed(1)} | ${((100 * t) / total).toFixed(1)}% | ${n.toFixed(0)} |`);
}
console.log("");
console.log("| ms/step | share | launches/step | kernel |");
console.log("| ---: | ---: | ---: | --- |");
const shown = rows.filter((r) => r.t / total >= 0.01);
for (const { name, n, t } of shown) {
  const label = name.length > 90 ? `${name.slice(0, 87)}...` : name;
  console.log(`| ${t.toFixed(1)} | ${((100 * t) / total).toFixed(1)}% | ${n.toFixed(0)} | \`${label}\` |`);
}
const rest = rows.slice(shown.length);
if (rest.length) {
  const t = rest.reduce((s, r) => s + r.t, 0);
  const n = rest.reduce((s, r) => s + r.n, 0);
  console.log(`| ${t.toFixed(1)} | ${((100 * t) / total).toFixed(1)}% | ${n.toFixed(0)} | ${rest.length} other kernels, each under 1% |`);
}
