#!/usr/bin/env node
// BENCHMARKS.md, "Sweep throughput": a whole `regnet sweep` (sampling, data subsets,
// every step, evaluation, records) against the step rate of the same networks alone
// (`regnet bench`), measured in the same session on the same machine.
//
//   node scripts/bench-sweep.mjs [K] [EPOCHS] [TRAIN_IMAGES]
//
// K RegNetX models of the reference sweep's band (default 8), trained with the given
// epochs and training images (default 3 and 6000, the reference recipe), each tested
// on 2,000 images. REGNET names the binary (default target/release/regnet under
// $CARGO_TARGET_DIR or ./target). Bench runs each network for 30 timed steps of 128
// after 3 untimed ones (the sweep's runs include their first steps).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [k = '8', epochs = '3', trainImages = '6000'] = process.argv.slice(2);
const target = process.env.CARGO_TARGET_DIR || 'target';
const regnet = process.env.REGNET || join(target, 'release/regnet');
const data = process.env.REGNET_CIFAR || '../shared/data/cifar-10-binary.tar.gz';

function run(args) {
  const r = spawnSync(regnet, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    console.error(`${regnet} ${args.join(' ')} failed:\n${r.stderr}`);
    process.exit(1);
  }
  return r.stdout;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-sweep-'));
const out = join(dir, 'regnetx.jsonl');
const started = process.hrtime.bigint();
run([
  'sweep', '--space', 'regnetx', '--depth', '4:16', '--group-width', '1:32', '--flops', '3M:6M',
  '--n', '48', '--first', k, '--epochs', epochs, '--train-images', trainImages,
  '--test-images', '2000', '--data', data, '--out', out,
]);
const wall = Number(process.hrtime.bigint() - started) / 1e9;
const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
rmSync(dir, { recursive: true });

let images = 0;
let stepSeconds = 0;
let trainSeconds = 0;
let runSeconds = 0;
for (const r of records) {
  const m = r.spec.sweep.model;
  const trained = r.facts.total_steps * r.spec.recipe.batch;
  const bench = JSON.parse(run([
    'bench', '--d', `${m.d}`, '--w0', `${m.w0}`, '--wa', `${m.wa}`, '--wm', `${m.wm}`,
    '--g', `${m.group_widths[0]}`, '--steps', '30', '--warmup', '3', '--json',
  ]));
  if (bench.params !== r.facts.params) {
    console.error(`bench built another network for ${r.spec.label}: ${bench.params} params, the run ${r.facts.params}`);
    process.exit(1);
  }
  images += trained;
  stepSeconds += trained / bench.images_per_s;
  trainSeconds += r.timings.train_s;
  runSeconds += r.timings.total_s;
}
const rate = (s) => (images / s).toFixed(1);
console.log(`${records.length} RegNetX models, ${epochs} epochs on ${trainImages} images each (${images} training images in all)`);
console.log(`steps alone (regnet bench):          ${rate(stepSeconds)} images/s`);
console.log(`the runs' step loops (train_s):      ${rate(trainSeconds)} images/s`);
console.log(`the runs, evaluation included:       ${rate(runSeconds)} images/s`);
console.log(`the whole sweep (wall, ${wall.toFixed(1)} s):     ${rate(wall)} images/s`);
console.log(`whole sweep / steps alone:           ${(stepSeconds / wall).toFixed(3)}`);
