// Sweep throughput in the browser against `regnet sweep` natively, side by side: the
// same K RegNetX models of the reference band (3-6 MF, drawn with sample seed 0 from the
// reference ranges, so the page's plan and the CLI's flags draw the same ones), trained
// with the same recipe, on the real CIFAR-10 archive.
//
//   node bench/browser_sweep.mjs [K] [TRAIN_IMAGES] [WORKERS...]   (after scripts/build)
//
// Defaults: K = 4 models, 1 epoch on 1,280 images each, tested on 500; workers 1 and 2.
// The browser's figure is the page's own: from the click on Start to "done", so each
// worker's download and parse of the archive is included (reported apart as well).
// REGNET names the native binary (default target/release/regnet under
// $CARGO_TARGET_DIR or ./target).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch, newPage, exported } from '../tests/e2e/harness.mjs';

const [k = '4', trainImages = '1280', ...workerArgs] = process.argv.slice(2);
const workers = workerArgs.length ? workerArgs.map(Number) : [1, 2];
const TEST = 500;
const data = process.env.REGNET_CIFAR || '../shared/data/cifar-10-binary.tar.gz';
const regnet = process.env.REGNET || join(process.env.CARGO_TARGET_DIR || 'target', 'release/regnet');

function imagesOf(records) {
  return records.reduce((sum, r) => sum + r.facts.total_steps * r.spec.recipe.batch, 0);
}

function native() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-browser-sweep-'));
  const out = join(dir, 'regnetx.jsonl');
  const started = process.hrtime.bigint();
  const r = spawnSync(regnet, [
    'sweep', '--space', 'regnetx', '--depth', '4:16', '--group-width', '1:32', '--flops', '3M:6M',
    '--n', k, '--epochs', '1', '--train-images', trainImages, '--test-images', `${TEST}`,
    '--data', data, '--out', out,
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`regnet sweep failed: ${r.stderr}`);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  rmSync(dir, { recursive: true });
  return { wall, records };
}

async function browserSweep(server, browser, count) {
  const page = await newPage(browser);
  const plan = `?show=&spaces=regnetx&n=${k}&epochs=1&train=${trainImages}&test=${TEST}&workers=${count}`;
  await page.goto(`${server.url}/explore${plan}`);
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 60_000 });
  const started = Date.now();
  await page.getByTestId('sweep-start').click();
  await page.getByTestId('sweep-status').getByText(/\(done\)/).waitFor({ timeout: 3_600_000 });
  const wall = (Date.now() - started) / 1000;
  const name = await page.getByTestId('edf-curve').first().getAttribute('data-name');
  const { text } = await exported(page, name);
  const records = text.trim().split('\n').map((l) => JSON.parse(l));
  if (page.errors.length) throw new Error(page.errors.join('; '));
  await page.context().close();
  return { wall, records };
}

const server = await serve(process.env.DIST || undefined, { archive: readFileSync(data) });
const browser = await launch();
try {
  const n = native();
  const nativeRate = imagesOf(n.records) / n.wall;
  console.log(`native regnet sweep: ${n.records.length} models, ${imagesOf(n.records)} images, ${n.wall.toFixed(1)} s wall, ${nativeRate.toFixed(1)} images/s`);
  for (const count of workers) {
    const b = await browserSweep(server, browser, count);
    const failed = b.records.filter((r) => r.status.state !== 'finished').length;
    const runs = b.records.reduce((sum, r) => sum + r.timings.total_s, 0);
    const rate = imagesOf(b.records) / b.wall;
    console.log(
      `browser, ${count} CPU worker(s): ${b.records.length} models (${failed} failed), ${b.wall.toFixed(1)} s wall ` +
        `(runs' own time ${runs.toFixed(1)} s), ${rate.toFixed(1)} images/s, ${(rate / nativeRate).toFixed(3)} of native`,
    );
  }
} finally {
  await browser.close();
  server.close();
}
