// End-to-end: a sweep trained in the page (/explore, "Train a sweep") on the real
// release build and a served CIFAR-format archive: two CPU workers train 2 spaces x 3
// tiny models, each run lands in IndexedDB as it ends, a reload in the middle keeps the
// finished runs and Start resumes, no main-thread task runs over 50 ms while it trains,
// a mark opens its model's curves, a renamed sweep keeps its runs, and a sweep exported
// from one browser profile and imported into a fresh one draws the same EDF. A WebGPU
// worker in a browser without WebGPU trains on the CPU and says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, newPage, cifarArchive, watchLongTasks, exported, ISOLATED } from './harness.mjs';

// Tiny models (at most 2 MF), one step of 128 images each, tested on 50: the sweep
// measures the machinery, not the models. `show=` starts with no sweep shown, so the
// EDF holds exactly the trained ones.
const PLAN = '?show=&spaces=anynetx-a,regnetx&n=3&mf=0:2&epochs=1&train=128&test=50&workers=2';

let server;
let browser;
before(async () => {
  server = await serve(undefined, { archive: cifarArchive(100) });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** The EDF curves drawn: [{name, n, min, mean}]. */
function curves(page) {
  return page.getByTestId('edf-curve').evaluateAll((paths) =>
    paths.map((p) => ({ name: p.dataset.name, n: Number(p.dataset.n), min: p.dataset.min, mean: p.dataset.mean })),
  );
}

async function openPlan(page) {
  await page.goto(`${server.url}/explore${PLAN}`);
  await page.getByTestId('train-sweep').waitFor({ timeout: 30_000 });
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
}

const done = (page) => page.getByTestId('sweep-progress').evaluate((p) => p.value);

test('2 spaces x 3 models on 2 CPU workers: a reload keeps the finished runs, Start resumes, export/import reproduces the EDF', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && page.errors.push(m.text()));
  await openPlan(page);
  assert.equal(await page.getByTestId('sweep-start').textContent(), 'Start');
  // Before training: the models the plan draws, and the band over the candidates.
  assert.equal(await page.getByTestId('planned-model').count(), 6);
  const kept = Number(await page.getByTestId('band-histogram').getAttribute('data-kept'));
  assert.ok(kept > 0, 'the band keeps some candidates');
  const workers = [];
  page.on('worker', (w) => workers.push(w));
  await page.getByTestId('sweep-start').click();
  await page.waitForURL(/show=anynetx-a-[0-9a-f]{8}/);
  await page.getByTestId('sweep-worker').first().waitFor();
  assert.equal(await page.getByTestId('sweep-worker').count(), 2, 'two CPU workers');
  await page.waitForFunction(() => document.querySelector('[data-testid=sweep-progress]')?.value >= 2, null, { timeout: 240_000 });
  assert.ok(workers.length >= 2, `${workers.length} workers started`);

  // A reload in the middle (paused first, so the tiny runs cannot all finish before
  // it): the finished runs come back from IndexedDB.
  await page.getByTestId('sweep-pause').click();
  await page.getByTestId('sweep-status').getByText(/\(paused\)/).waitFor();
  await page.reload();
  await page.getByTestId('train-sweep').waitFor({ timeout: 30_000 });
  await page.getByText(/^Resume \(\d of 6 done\)$/).waitFor({ timeout: 30_000 });
  const stored = await curves(page);
  assert.ok(stored.reduce((sum, c) => sum + c.n, 0) >= 2, `stored runs drawn after the reload: ${JSON.stringify(stored)}`);

  await page.getByTestId('sweep-start').click();
  // Long tasks are watched once a run has started: before it, Chromium compiles the
  // two workers' wasm on both of this machine's cores and the page's thread waits for
  // a core (the training test starts watching after its first steps for the same
  // reason). From here on the page's own work is measured: steps, landings, redraws.
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=sweep-worker]')].some((e) => / step \d+ of /.test(e.textContent)), null, { timeout: 120_000 });
  await watchLongTasks(page);
  await page.getByTestId('sweep-status').getByText(/6 of 6 models.*\(done\)/).waitFor({ timeout: 300_000 });
  assert.equal(await done(page), 6);
  const long = await page.evaluate(() => window.__long);
  // The Long Tasks API reports every task over 50 ms: the bound.
  assert.deepEqual(long, [], 'no main-thread task over 50 ms while the sweep ran');
  const drawn = await curves(page);
  assert.deepEqual(drawn.map((c) => c.n), [3, 3], JSON.stringify(drawn));
  assert.deepEqual(drawn.map((c) => c.name.replace(/-[0-9a-f]{8}$/, '')), ['anynetx-a', 'regnetx']);
  assert.equal(await page.getByTestId('sweep-failed').count(), 0);
  assert.equal(await page.getByText('Trained', { exact: true }).count(), 1, 'the plan is done');
  assert.equal(await page.getByTestId('edf-mark').count(), 6, 'a mark per model');
  // A click on a mark opens the model's curves; a RegNetX's also its shape (an AnyNet
  // has no RegNet parameters to open).
  // (Tiny runs share their error, so their marks overlap: the event goes to one.)
  await page.locator(`[data-testid=edf-mark][data-name=${drawn[1].name}]`).first().dispatchEvent('click');
  await page.getByTestId('model-detail').waitFor();
  assert.match(await page.getByTestId('model-shape-link').getAttribute('href'), /\/\?d=\d+&w0=\d+&wa=[\d.]+&wm=[\d.]+&g=\d+&b=1&se=0&data=cifar10$/);
  const points = await page.getByTestId('model-curve').evaluateAll((s) => s.map((e) => e.dataset.points));
  assert.deepEqual(points, ['1', '1'], 'one epoch: one point of loss, one of error');
  await page.locator(`[data-testid=edf-mark][data-name=${drawn[0].name}]`).first().dispatchEvent('click');
  await page.waitForURL(new RegExp(`pick=${drawn[0].name}`));
  assert.equal(await page.getByTestId('model-shape-link').count(), 0);
  assert.equal(await page.getByTestId('good-range').count(), 2, "each sweep's good flops range");
  assert.deepEqual(page.errors, []);

  // Export from this profile, import into a fresh one: the same EDF.
  const files = [];
  for (const c of drawn) {
    const { text } = await exported(page, c.name);
    assert.equal(text.trim().split('\n').length, 3);
    files.push({ name: `${c.name}.jsonl`, mimeType: 'application/json', buffer: Buffer.from(text) });
  }
  // Deleting a trained sweep removes it here and from the store.
  page.once('dialog', (d) => d.accept());
  await page.getByTestId(`delete-${drawn[0].name}`).click();
  await page.getByTestId(`sweep-toggle-${drawn[0].name}`).waitFor({ state: 'detached' });
  await page.reload();
  await page.getByTestId(`sweep-toggle-${drawn[1].name}`).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId(`sweep-toggle-${drawn[0].name}`).count(), 0, 'deleted from the store too');
  assert.equal(await page.getByTestId('sweep-start').textContent(), 'Resume (3 of 6 done)');
  // A renamed trained sweep keeps its runs, in the store and for its plan.
  page.once('dialog', (d) => d.accept('tiny regnetx'));
  await page.getByTestId(`rename-${drawn[1].name}`).click();
  await page.getByTestId('sweep-toggle-tiny regnetx').waitFor();
  await page.reload();
  await page.getByTestId('sweep-toggle-tiny regnetx').waitFor({ timeout: 30_000 });
  assert.deepEqual((await curves(page)).map((c) => [c.name, c.n]), [['tiny regnetx', 3]]);
  assert.equal(await page.getByTestId('sweep-start').textContent(), 'Resume (3 of 6 done)', 'the plan still finds its runs');
  const renamed = await exported(page, 'tiny regnetx');
  assert.equal(renamed.name, 'tiny regnetx.jsonl');
  assert.equal(renamed.text.trim().split('\n').length, 3);
  await context.close();
  const fresh = await newPage(browser);
  await fresh.goto(`${server.url}/explore?show=`);
  await fresh.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  assert.equal((await curves(fresh)).length, 0, 'a fresh profile has no trained sweep');
  await fresh.getByTestId('sweep-import').setInputFiles(files);
  await fresh.waitForURL(/show=anynetx-a/);
  // The files are read one after the other: the link can show both before the second
  // curve is drawn.
  for (let waited = 0; (await curves(fresh)).length < drawn.length && waited < 30_000; waited += 100) {
    await fresh.waitForTimeout(100);
  }
  assert.deepEqual(await curves(fresh), drawn, `after the import: ${fresh.url()}, errors ${JSON.stringify(fresh.errors)}`);
  assert.deepEqual(fresh.errors, []);
});

test('a WebGPU lane in a browser that gives no adapter trains on the CPU and says so', async () => {
  // Headless Chromium without --enable-unsafe-webgpu has navigator.gpu but gives no
  // adapter: the page asks before the lane boots, so the lane is a CPU worker from the
  // start, whether or not the CPU lane finishes every model first. (A sweep on
  // SwiftShader's WebGPU would spend minutes compiling kernels on this machine's CPU;
  // the WebGPU runs themselves are the training test's.)
  const page = await newPage(browser);
  await page.goto(`${server.url}/explore?show=&spaces=regnetx&n=2&mf=0:2&epochs=1&train=128&test=50&workers=1&gpu=1`);
  await page.getByTestId('train-sweep').waitFor({ timeout: 30_000 });
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  await page.getByTestId('sweep-start').click();
  await page.getByTestId('sweep-status').getByText(/2 of 2 models.*\(done\)/).waitFor({ timeout: 240_000 });
  const lanes = await page.getByTestId('sweep-worker').allTextContents();
  assert.deepEqual(lanes.map((l) => l.split(':')[0]), ['CPU 1', 'WebGPU worker, on the CPU']);
  assert.match(await page.getByTestId('sweep-gpu-notice').textContent(), /WebGPU gave this page no adapter, so training runs on the CPU/);
  assert.equal(await page.getByTestId('sweep-failed').count(), 0);
  const [curve] = await curves(page);
  assert.equal(curve.n, 2, 'both runs count');
  const { text } = await exported(page, curve.name);
  const backends = text.trim().split('\n').map((l) => JSON.parse(l).backend);
  // A CPU lane on an isolated page is the threaded worker with a pool of one, on a page
  // that is not isolated the one-thread worker; the WebGPU lane, finding no GPU,
  // boots as such a CPU worker. (Chromium has relaxed SIMD: the threaded worker's
  // build for it.)
  const cpuLane = ISOLATED ? 'CPU (Burn flex, 1 thread, relaxed SIMD)' : 'CPU (Burn flex)';
  for (const backend of backends) assert.ok([cpuLane, 'CPU (Burn flex)'].includes(backend), backend);
  assert.deepEqual(page.errors, []);
});
