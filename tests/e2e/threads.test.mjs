// End-to-end: the threaded CPU worker (rayon's pool on Web Workers sharing one wasm
// memory, on a cross-origin isolated page), in its build for relaxed SIMD and in the
// plain one a browser without relaxed SIMD gets, against the one-thread CPU path (the
// same page served without isolation), the fallback when the threads cannot start, and
// coi-serviceworker isolating a page whose host sends no headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, launch, newPage, openApp, cifarArchive, fillRecipe, DIST, BASE } from './harness.mjs';

const TINY = '?d=2&w0=8&wa=8&wm=2&g=8&b=1&q=8&se=0&data=cifar10&backend=cpu';
const archive = cifarArchive(100);

let isolated;
let plain;
before(async () => {
  isolated = await serve(undefined, { archive, isolated: true });
  plain = await serve(undefined, { archive, isolated: false });
});
after(() => {
  isolated?.close();
  plain?.close();
});

/**
 * Trains the tiny model on the CPU (seed fixed by the recipe's default) in a fresh
 * browser on `server`, and returns what the page said and every step's loss as the
 * worker posted it. `breakThreads` replaces the threaded worker's script with one
 * that throws, as a browser would fail to start it; `awaitIsolation` waits for the
 * page to become cross-origin isolated before anything else; `noRelaxedSimd` serves
 * the threaded worker's loader with its relaxed SIMD probe answered "no", as a browser
 * without relaxed SIMD answers it (Chromium has it, and V8 no longer has a flag to turn
 * it off). Also returns the CPU workers' wasm files the page fetched.
 */
async function trainOnCpu(server, { breakThreads = false, awaitIsolation = false, noRelaxedSimd = false } = {}) {
  server.requests.splice(0);
  const browser = await launch();
  try {
    const page = await newPage(browser);
    if (noRelaxedSimd) {
      await page.context().route('**/train_cpu_loader.js*', async (route) => {
        const response = await route.fetch();
        const body = (await response.text()).replace(/WebAssembly\.validate\(/, '(() => false)(');
        await route.fulfill({ response, body });
      });
    }
    await page.addInitScript((broken) => {
      const Native = window.Worker;
      window.__losses = [];
      window.Worker = function (url, options) {
        let href = String(url);
        if (broken && href.includes('train_cpu_loader')) {
          href = URL.createObjectURL(new Blob(['throw new Error("no threads in this test");'], { type: 'text/javascript' }));
        }
        const worker = new Native(href, options);
        worker.addEventListener('message', (e) => {
          const m = typeof e.data === 'string' ? JSON.parse(e.data) : null;
          if (m?.type === 'Run' && m.event.type === 'Step') window.__losses.push(m.event.loss);
        });
        return worker;
      };
    }, breakThreads);
    await openApp(page, server.url, TINY);
    if (awaitIsolation) {
      // coi-serviceworker reloads the page once its service worker is in charge.
      await page.waitForFunction(() => self.crossOriginIsolated, null, { timeout: 60_000 });
      await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
    }
    await fillRecipe(page, { 'train-images': 200, 'test-images': 100, epochs: 2, batch: 20, lr: 0.1 });
    await page.waitForFunction(() => !document.querySelector('[data-testid=train-start]').disabled, null, { timeout: 60_000 });
    await page.getByTestId('train-start').click();
    await page.getByTestId('train-result').waitFor({ timeout: 300_000 });
    const oneThread = page.getByTestId('cpu-one-thread');
    return {
      isolated: await page.evaluate(() => self.crossOriginIsolated),
      backend: await page.getByTestId('train-backend-used').textContent(),
      oneThread: (await oneThread.count()) ? await oneThread.textContent() : null,
      result: await page.getByTestId('train-result').textContent(),
      losses: await page.evaluate(() => window.__losses),
      errors: page.errors,
      programs: server.requests.map((r) => r.path.split('/').pop()).filter((f) => /^train_cpu.*_bg\.wasm$/.test(f)),
    };
  } finally {
    await browser.close();
  }
}

/** The loss of every step of `a` within 1e-3 (relative, at least absolute) of `b`'s. */
function sameRun(a, b) {
  assert.equal(a.losses.length, 20);
  assert.equal(b.losses.length, 20);
  a.losses.forEach((loss, i) => {
    const other = b.losses[i];
    assert.ok(Math.abs(loss - other) <= 1e-3 * Math.max(1, Math.abs(other)), `step ${i + 1}: ${loss} against ${other}`);
  });
}

test("the threaded worker's two builds train on every core and agree with the one-thread worker", async () => {
  // Chromium has relaxed SIMD: the loader starts that build.
  const relaxed = await trainOnCpu(isolated);
  assert.equal(relaxed.isolated, true);
  assert.match(relaxed.backend, /^Training on CPU \(Burn flex, \d+ threads, relaxed SIMD\)\.$/);
  assert.equal(relaxed.oneThread, null, 'no one-thread notice on an isolated page');
  assert.deepEqual(relaxed.programs.map((f) => f.replace(/-[0-9a-f]{16}/, '')), ['train_cpu_relaxed_bg.wasm']);
  assert.deepEqual(relaxed.errors, []);

  // A browser without relaxed SIMD: the plain build.
  const plainSimd = await trainOnCpu(isolated, { noRelaxedSimd: true });
  assert.match(plainSimd.backend, /^Training on CPU \(Burn flex, \d+ threads\)\.$/);
  assert.deepEqual(plainSimd.programs.map((f) => f.replace(/-[0-9a-f]{16}/, '')), ['train_cpu_bg.wasm']);
  assert.deepEqual(plainSimd.errors, []);

  const single = await trainOnCpu(plain);
  assert.equal(single.isolated, false);
  assert.equal(single.backend, 'Training on CPU (Burn flex).');
  assert.match(single.oneThread, /one thread: this page is not cross-origin isolated/);
  assert.deepEqual(single.errors, []);

  // The same run, step by step: only the order of parallel sums, and where relaxed
  // SIMD fuses a multiply-add its single rounding, may differ.
  sameRun(relaxed, single);
  sameRun(plainSimd, single);
});

test('a threaded worker that cannot start gives way to the one-thread worker, which says why', async () => {
  const fallback = await trainOnCpu(isolated, { breakThreads: true });
  assert.equal(fallback.isolated, true);
  assert.equal(fallback.backend, 'Training on CPU (Burn flex).');
  assert.match(fallback.oneThread, /one thread: the threaded worker did not start \(.*no threads in this test.*\)/);
  assert.equal(fallback.losses.length, 20, 'the run the page started still ran');
  assert.match(fallback.result, /Final test error/);
});

test('on a host that sends no isolation headers, coi-serviceworker isolates the page and the threads run', async () => {
  // The same build packaged as the Pages workflow does it.
  const out = join(tmpdir(), `regnet-coi-${process.pid}`);
  const script = fileURLToPath(new URL('../../scripts/package-site.mjs', import.meta.url));
  execFileSync('node', [script, '--from', DIST, '--out', out], {
    env: { ...process.env, PUBLIC_URL: `${BASE}/`, COI_SERVICEWORKER: '1' },
  });
  const server = await serve(out, { archive, isolated: false });
  try {
    const run = await trainOnCpu(server, { awaitIsolation: true });
    assert.equal(run.isolated, true);
    assert.match(run.backend, /^Training on CPU \(Burn flex, \d+ threads, relaxed SIMD\)\.$/);
    assert.equal(run.losses.length, 20);
    assert.deepEqual(run.errors, []);
  } finally {
    server.close();
    rmSync(out, { recursive: true, force: true });
  }
});
