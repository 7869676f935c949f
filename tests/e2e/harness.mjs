// Serves the real release build (dist/) on 127.0.0.1 and drives Debian's Chromium
// through playwright-core. A missing build or browser is an error, never a skip.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = join(ROOT, 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

/** Starts a static server for `dir`; unknown paths get index.html (client-side routes). */
export async function serve(dir = DIST) {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`${dir}/index.html is missing: build the app first (trunk build --release)`);
  }
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path);
    if (!(await stat(file).catch(() => null))?.isFile()) file = join(dir, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
    res.end(await readFile(file));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Headless Chromium with the flags this sandbox needs. */
export async function launch(extraArgs = []) {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium`);
  return chromium.launch({
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
  });
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
