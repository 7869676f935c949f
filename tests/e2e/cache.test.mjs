// What a reload downloads again. Every program's files are named by a hash of their
// content (scripts/package-site.mjs) and served as cacheable for good
// (scripts/serve-site.mjs), so a second visit in the same browser profile takes the
// page's and the training worker's wasm from the browser's cache; only index.html and
// the small worker loaders, whose names stay fixed, are asked again, and answered
// "not modified".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISOLATED, launchProfile, openApp, serve } from './harness.mjs';

// A program's file, or any file of the page's folder (page-HASH/: its modules).
const HASHED = /(-[0-9a-f]{16}(_bg)?\.(js|wasm)|\/page-[0-9a-f]{16}\/[^/]+)$/;

test('a reload takes the page and the training worker from the browser cache', async () => {
  const server = await serve();
  const profile = await mkdtemp(join(tmpdir(), 'regnet-profile-'));
  const context = await launchProfile(profile);
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The Train panel starts its worker at once; it answers the data probe (no archive
    // here) once its wasm runs. Without WebGPU that is a CPU worker.
    await openApp(page, server.url);
    await page.getByTestId('data-missing').waitFor({ timeout: 60_000 });
    const first = server.requests.splice(0);
    // Isolated: the threaded worker's build for relaxed SIMD, which Chromium has.
    const worker = ISOLATED ? /\/train_cpu_relaxed-[0-9a-f]{16}_bg\.wasm$/ : /\/train_cpu1-[0-9a-f]{16}_bg\.wasm$/;
    assert.ok(first.some((r) => worker.test(r.path) && r.status === 200), `the worker's wasm was fetched: ${JSON.stringify(first)}`);
    assert.ok(first.some((r) => /\/page-[0-9a-f]{16}\/playground_bg\.wasm$/.test(r.path) && r.status === 200));

    await page.reload();
    await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
    await page.getByTestId('data-missing').waitFor({ timeout: 60_000 });
    const second = server.requests.splice(0);
    assert.deepEqual(second.filter((r) => HASHED.test(r.path)), [], 'no program file is fetched again');
    const loader = ISOLATED ? '/train_cpu_loader.js' : '/train_cpu1_loader.js';
    const asked = second.filter((r) => r.path.endsWith(loader) || r.path.endsWith('/'));
    assert.ok(asked.length >= 2, `index.html and the loader are revalidated: ${JSON.stringify(second)}`);
    for (const r of asked) assert.equal(r.status, 304, `${r.path} is not modified`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    server.close();
    await rm(profile, { recursive: true, force: true });
  }
});
