// Serves the real release build (dist/) on 127.0.0.1 and drives Debian's Chromium
// through playwright-core. A missing build or browser is an error, never a skip.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { ARCHIVE_PATH, serveSite } from '../../scripts/serve-site.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The site the tests serve, and the sub-path it is served under: dist/ at the root, or
 * as scripts/test's second pass runs them, `E2E_DIST` (that build packaged with
 * `PUBLIC_URL=$E2E_BASE/`) under `E2E_BASE` ("/sub").
 */
export const DIST = process.env.E2E_DIST ? join(ROOT, process.env.E2E_DIST) : join(ROOT, 'dist');
export const BASE = (process.env.E2E_BASE || '').replace(/\/$/, '');
/**
 * Whether the server sends the cross-origin isolation headers (the threaded CPU worker
 * needs them): yes unless `E2E_ISOLATED=0`, as scripts/test's second pass runs, so the
 * suite passes on both the threaded and the one-thread CPU path.
 */
export const ISOLATED = process.env.E2E_ISOLATED !== '0';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export { ARCHIVE_PATH };

/**
 * Serves the build in `dir` (scripts/serve-site.mjs). `archive` (a Buffer) is served at
 * ARCHIVE_PATH; without it that path is a 404, so a test decides what data the page
 * finds, whatever the build linked there. `base` (default BASE) serves the site under
 * that sub-path, `isolated` (default ISOLATED) with or without the isolation headers.
 * The server's `url` is the site's address, the base included.
 */
export function serve(dir = DIST, { archive = null, base = BASE, isolated = ISOLATED } = {}) {
  return serveSite(dir, { archive, base, isolated });
}

/**
 * The build served and the browser launched around the calling file's tests:
 * `site.server` and `site.browser` once its `before` hook has run.
 */
export function servedSite() {
  const site = {};
  before(async () => {
    site.server = await serve();
    site.browser = await launch();
  });
  after(async () => {
    await site.browser?.close();
    site.server?.close();
  });
  return site;
}

/** What headless Chromium is launched with here: the flags this sandbox needs. */
function options(extraArgs) {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium`);
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  };
}

/** Headless Chromium with the flags this sandbox needs. */
export async function launch(extraArgs = []) {
  return chromium.launch(options(extraArgs));
}

/**
 * Headless Chromium on a profile kept in `dir` (its disk cache too, as a person's
 * browser has): a browser context, closed with `close()`.
 */
export async function launchProfile(dir, extraArgs = []) {
  return chromium.launchPersistentContext(dir, options(extraArgs));
}

/** A page that records console errors and uncaught exceptions (a Rust panic is one). */
export async function newPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  return page;
}

/** Records main-thread tasks over 50 ms (the Long Tasks API) from now on, in `window.__long`. */
export async function watchLongTasks(page) {
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__long.push(e.duration);
    }).observe({ type: 'longtask' });
  });
}

/** Clicks the sweep `name`'s export link and returns the downloaded file: {name, text}. */
export async function exported(page, name) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${name}`).click()]);
  return { name: download.suggestedFilename(), text: readFileSync(await download.path(), 'utf8') };
}

/**
 * Gives the page's threaded CPU worker a pool of `threads` (from the next navigation
 * on): the worker reads the size from its own URL, `?threads=N`.
 */
export async function poolThreads(page, threads) {
  await page.addInitScript((n) => {
    const Native = window.Worker;
    window.Worker = function (url, options) {
      const href = String(url);
      return new Native(href.includes('train_cpu_loader') ? `${href}?threads=${n}` : href, options);
    };
  }, threads);
}

/** Types `recipe` ({key: value}) into the Train panel's inputs (`train-KEY`). */
export async function fillRecipe(page, recipe) {
  for (const [key, value] of Object.entries(recipe)) {
    await page.getByTestId(`train-${key}`).fill(String(value));
    await page.getByTestId(`train-${key}`).dispatchEvent('change');
  }
}

/** Waits until the app has rendered its stage table. */
export async function openApp(page, base, query = '') {
  await page.goto(`${base}/${query}`);
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
}

/** The stage table as numbers: [{depth, width, groupWidth}]. */
export async function readStages(page) {
  return page.getByTestId('stage-row').evaluateAll((rows) =>
    rows.map((r) => ({
      depth: Number(r.querySelector('[data-testid=stage-depth]').textContent),
      width: Number(r.querySelector('[data-testid=stage-width]').textContent),
      groupWidth: Number(r.querySelector('[data-testid=stage-group-width]').textContent),
    })),
  );
}

/**
 * A gzip'd tar in the official CIFAR-10 binary layout (cifar-10-batches-bin/, five
 * training batches and a test batch), `perBatch` records each. Every image is a
 * class-dependent colour plus noise, so a model can learn it in a few steps.
 */
export function cifarArchive(perBatch = 100, seed = 1) {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const batch = () => {
    const out = Buffer.alloc(perBatch * 3073);
    for (let i = 0; i < perBatch; i++) {
      const label = i % 10;
      out[i * 3073] = label;
      for (let p = 0; p < 3072; p++) {
        const channel = Math.floor(p / 1024);
        const base = ((label + 1) * (channel + 3) * 37) % 256;
        out[i * 3073 + 1 + p] = (base + (rand() >> 3)) & 0xff;
      }
    }
    return out;
  };
  const names = ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch'];
  const parts = [];
  for (const name of names) {
    const body = batch();
    const header = Buffer.alloc(512);
    header.write(`cifar-10-batches-bin/${name}.bin`, 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}
