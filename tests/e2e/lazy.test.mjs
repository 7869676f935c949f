// End-to-end: the pages other than `/`, and the Train panel, are modules of their own,
// fetched when first shown (src/app/lazy.rs, scripts/package-site.mjs). A visit to `/`
// downloads no other page; opening a page fetches its module; a module that does not
// arrive is a message and a retry, not a panic, and the retry loads it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, servedSite, newPage, openApp, readStages } from './harness.mjs';

const site = servedSite();

/** The page's split modules the server has answered since `from`, by file name. */
const modulesFetched = (from) =>
  site.server.requests
    .slice(from)
    .map((r) => r.path.match(/\/page-[0-9a-f]{16}\/((split|chunk)_\w+\.wasm)$/)?.[1])
    .filter(Boolean);

/** Polls `ok` until it holds, for at most 30 s. */
async function waitFor(ok, what) {
  for (const start = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - start > 30_000) throw new Error(`timed out: ${what}`);
  }
}

/** A panic (an `unreachable` trap after the panic hook's message) among the page's errors. */
const panics = (page) => page.errors.filter((e) => /panicked|unreachable|RuntimeError/.test(e));

test('`/` downloads no other page; a page whose module fails to load says so, and its retry loads it', async () => {
  const page = await newPage(site.browser);
  const start = site.server.requests.length;
  await openApp(page, site.server.url);
  await page.getByTestId('train-panel').waitFor({ timeout: 30_000 });
  const home = modulesFetched(start);
  assert.ok(home.includes('split_train_panel.wasm'), `the Train panel's module: ${home}`);
  assert.deepEqual(home.filter((f) => f.startsWith('split_') && f !== 'split_train_panel.wasm'), [], 'no other page');

  // The fit page's own module fails once, as a dropped connection does.
  let aborted = 0;
  await page.route('**/split_fit_page.wasm', (route) => {
    aborted += 1;
    return route.abort('internetdisconnected');
  });
  await page.getByTestId('nav-fit').click();
  await page.waitForURL((url) => url.pathname === `${BASE}/fit`);
  const failed = page.getByTestId('page-load-failed');
  await failed.waitFor({ timeout: 30_000 });
  // Once or twice: the hover before the click starts a load of its own.
  assert.ok(aborted >= 1, `the module was asked for: ${aborted}`);
  assert.match(await failed.textContent(), /did not load/);
  // The navigation stays, so the rest of the site is one click away.
  assert.equal(await page.getByTestId('nav-home').count(), 1);
  assert.deepEqual(panics(page), []);

  // Back online: the retry fetches the module again and shows the page.
  await page.unroute('**/split_fit_page.wasm');
  const retry = site.server.requests.length;
  await page.getByTestId('load-retry').click();
  await page.getByTestId('fit-result').waitFor({ timeout: 30_000 });
  assert.ok(modulesFetched(retry).includes('split_fit_page.wasm'), 'the retry fetched the module');
  assert.equal(await failed.count(), 0);

  // A link under the pointer starts its page's download before any click.
  const hovered = site.server.requests.length;
  await page.getByTestId('nav-models').hover();
  await waitFor(() => modulesFetched(hovered).includes('split_models_page.wasm'), 'the hover fetched /models');

  // Every other page opens from the navigation, each fetching its own module (or,
  // for /models, having fetched it on the hover above).
  for (const [nav, path, ready] of [
    ['nav-models', '/models', 'models-table'],
    ['nav-lessons', '/lessons', 'lesson-progress'],
    ['nav-explore', '/explore', 'sweep-list'],
  ]) {
    const before = site.server.requests.length;
    await page.getByTestId(nav).click();
    await page.waitForURL((url) => url.pathname === `${BASE}${path}`);
    await page.getByTestId(ready).waitFor({ timeout: 30_000 });
    const name = `split_${path.slice(1)}_page.wasm`;
    const fetched = modulesFetched(path === '/models' ? hovered : before);
    assert.ok(fetched.includes(name), `${path} fetched ${name}: ${fetched}`);
  }
  // A page already loaded opens again without fetching anything.
  const again = site.server.requests.length;
  await page.getByTestId('nav-fit').click();
  await page.getByTestId('fit-result').waitFor({ timeout: 30_000 });
  assert.deepEqual(modulesFetched(again), []);
  assert.deepEqual(panics(page), []);
});

test("the Train panel's module loads beside the shape explorer; if it fails, the shapes stay and a retry loads it", async () => {
  const page = await newPage(site.browser);
  let aborted = 0;
  await page.route('**/split_train_panel.wasm', (route) => {
    aborted += 1;
    return route.abort('internetdisconnected');
  });
  await openApp(page, site.server.url, '?d=4&w0=24&wa=36&wm=2.5');
  const failed = page.getByTestId('train-load-failed');
  await failed.waitFor({ timeout: 30_000 });
  assert.equal(aborted, 1);
  assert.equal(await page.getByTestId('train-panel').count(), 0);
  // The shape explorer works on: a new depth redraws the table.
  await page.getByTestId('param-d-number').fill('40');
  await page.getByTestId('param-d-number').dispatchEvent('change');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('d') === '40');
  assert.equal((await readStages(page)).reduce((sum, s) => sum + s.depth, 0), 40);
  assert.deepEqual(panics(page), []);

  await page.unroute('**/split_train_panel.wasm');
  await page.getByTestId('load-retry').click();
  await page.getByTestId('train-panel').waitFor({ timeout: 30_000 });
  assert.equal(await failed.count(), 0);
  assert.deepEqual(panics(page), []);
});

test('a Train panel whose module arrives after its page was left builds nothing and starts no worker', async () => {
  const page = await newPage(site.browser);
  await page.route('**/split_train_panel.wasm', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue().catch(() => {});
  });
  const start = site.server.requests.length;
  await openApp(page, site.server.url);
  await page.getByTestId('nav-fit').click();
  await page.getByTestId('fit-result').waitFor({ timeout: 30_000 });
  // Past the delayed module and a worker's start, had the panel been built.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  assert.ok(modulesFetched(start).includes('split_train_panel.wasm'), 'the module did arrive');
  const workers = site.server.requests.slice(start).filter((r) => /_loader\.js$/.test(r.path));
  assert.deepEqual(workers, [], 'no training worker was started');
  assert.deepEqual(page.errors, []);
});
