// End-to-end: the design-space explorer (/explore) on the real release build: the
// reference sweep's EDFs on a first visit, imports (pycls's sweep.json; a corrupt file
// refused with nothing shown lost), and every view a link, also under a sub-path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { servedSite, newPage, BASE } from './harness.mjs';

const REFERENCE = ['anynetx-a', 'anynetx-e', 'regnetx', 'regnety'];
const PYCLS_SWEEP = readFileSync(new URL('../golden/pycls_sweep.json', import.meta.url));

const site = servedSite();

async function openExplore(page, base, query = '') {
  await page.goto(`${base}/explore${query}`);
  await page.getByTestId('sweep-list').waitFor({ timeout: 30_000 });
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
}

/** The EDF curves drawn: [{name, n, min, mean}]. */
function curves(page) {
  return page.getByTestId('edf-curve').evaluateAll((paths) =>
    paths.map((p) => ({
      name: p.dataset.name,
      n: Number(p.dataset.n),
      min: Number(p.dataset.min),
      mean: Number(p.dataset.mean),
    })),
  );
}

test('a first visit shows the reference sweep: four EDFs of 48 models, KS against noise', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url);
  const drawn = await curves(page);
  assert.deepEqual(drawn.map((c) => c.name), REFERENCE);
  for (const c of drawn) {
    assert.equal(c.n, 48, `${c.name} has 48 trained models`);
    assert.ok(c.min > 0 && c.min <= c.mean && c.mean < 100, JSON.stringify(c));
  }
  assert.equal(await page.getByTestId('ks-row').count(), 6, 'one row per pair of four sweeps');
  assert.match(await page.getByTestId('seed-noise').textContent(), /8 reference models trained with 3 seeds/);
  assert.equal(await page.getByTestId('search-plot').count(), 1);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-edf.svg').click()]);
  assert.equal(download.suggestedFilename(), 'edf.svg');
  const svg = readFileSync(await download.path(), 'utf8');
  assert.ok(svg.startsWith('<svg') && svg.includes('regnety  48|'), 'the downloadable SVG has pycls legends');
  assert.equal(await page.getByTestId('url-notice').count(), 0);
  assert.deepEqual(page.errors, []);
});

test('a pycls sweep.json imports beside the reference; a corrupt file is refused', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url);
  await page.getByTestId('sweep-import').setInputFiles({
    name: 'cifar_regnet.json',
    mimeType: 'application/json',
    buffer: PYCLS_SWEEP,
  });
  await page.waitForURL(/show=.*cifar_regnet/);
  const drawn = await curves(page);
  assert.deepEqual(drawn.map((c) => c.name), [...REFERENCE, 'cifar_regnet']);
  // pycls's collected errors: the lowest EMA error of each finished job.
  assert.deepEqual(drawn[4], { name: 'cifar_regnet', n: 5, min: 21.86, mean: 24.41 });

  await page.getByTestId('sweep-import').setInputFiles({
    name: 'broken.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"not": "a sweep"'),
  });
  await page.getByTestId('list-error').waitFor();
  assert.match(await page.getByTestId('list-error').textContent(), /^broken\.json: /);
  assert.equal((await curves(page)).length, 5, 'nothing shown is lost');
  // The import is kept in this browser: a reload shows it again, until it is deleted.
  await page.reload();
  await page.getByTestId('sweep-toggle-cifar_regnet').waitFor({ timeout: 30_000 });
  assert.deepEqual((await curves(page))[4], { name: 'cifar_regnet', n: 5, min: 21.86, mean: 24.41 });
  // Renamed: a reference's name is refused; a new one is shown, linked and kept.
  page.once('dialog', (d) => d.accept('regnetx'));
  await page.getByTestId('rename-cifar_regnet').click();
  await page.getByTestId('list-error').getByText("cifar_regnet keeps its name: regnetx is a reference sweep's name").waitFor();
  page.once('dialog', (d) => d.accept(' cluster run '));
  await page.getByTestId('rename-cifar_regnet').click();
  await page.waitForURL(/show=.*cluster(\+|%20)run/);
  await page.reload();
  await page.getByTestId('sweep-toggle-cluster run').waitFor({ timeout: 30_000 });
  assert.deepEqual((await curves(page))[4], { name: 'cluster run', n: 5, min: 21.86, mean: 24.41 });
  assert.equal(await page.getByTestId('sweep-toggle-cifar_regnet').count(), 0);
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('delete-cluster run').click();
  await page.getByTestId('sweep-toggle-cluster run').waitFor({ state: 'detached' });
  await page.reload();
  await page.getByTestId('sweep-list').waitFor();
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  // Stored sweeps load just after the reference: give them the moment they take.
  await page.waitForTimeout(1_000);
  assert.equal(await page.getByTestId('sweep-toggle-cluster run').count(), 0, 'deleted from the store too');
  assert.deepEqual(page.errors, []);
});

test('a click on a mark opens the model: its facts, training curves and shape, as a link', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url);
  const mark = page.locator('[data-testid=edf-mark][data-name=regnetx]').first();
  const id = await mark.getAttribute('data-id');
  await mark.click();
  await page.waitForURL(new RegExp(`pick=regnetx(%40|@)${id}$`));
  const detail = page.getByTestId('model-detail');
  await detail.waitFor();
  assert.match(await detail.textContent(), new RegExp(`regnetx, model ${id}`));
  assert.match(await page.getByTestId('model-facts').textContent(), /error[\d.]+%.*wm/);
  // The reference trains 3 epochs and tests once, at the end: 3 points of loss, 1 of error.
  const points = await page.getByTestId('model-curve').evaluateAll((s) => s.map((e) => e.dataset.points));
  assert.deepEqual(points, ['3', '1']);
  assert.equal(await page.getByTestId('edf-picked').count(), 1, 'the open model is ringed');
  const shape = await page.getByTestId('model-shape-link').getAttribute('href');
  assert.ok(shape.startsWith(`${BASE}/?`), shape);
  assert.match(shape, /\/\?d=\d+&w0=\d+&wa=[\d.]+&wm=[\d.]+&g=\d+&b=1&se=0&data=cifar10$/);

  // The link reopens the same model; the keyboard opens another; a stale link says so.
  const again = await newPage(site.browser);
  await openExplore(again, site.server.url, new URL(page.url()).search);
  await again.getByTestId('model-detail').waitFor();
  assert.equal(await again.getByTestId('model-shape-link').getAttribute('href'), shape);
  const next = again.locator('[data-testid=edf-mark][data-name=regnetx]').nth(1);
  await next.focus();
  await again.keyboard.press('Enter');
  const other = await next.getAttribute('data-id');
  await again.waitForURL(new RegExp(`pick=regnetx(%40|@)${other}$`));
  await again.getByTestId('model-close').click();
  await again.getByTestId('model-detail').waitFor({ state: 'detached' });
  assert.doesNotMatch(again.url(), /pick=/);
  await openExplore(again, site.server.url, '?show=regnetx&pick=regnetx@9999');
  await again.getByTestId('model-missing').waitFor();
  assert.deepEqual([...page.errors, ...again.errors], []);
});

test('with the storage full an import is shown, not kept, and says so', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url);
  // Chromium's own quota, lowered for this origin: IndexedDB's writes really fail.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: site.server.origin, quotaSize: 1 });
  await page.getByTestId('sweep-import').setInputFiles({
    name: 'cifar_regnet.json',
    mimeType: 'application/json',
    buffer: PYCLS_SWEEP,
  });
  await page.waitForURL(/show=.*cifar_regnet/);
  assert.match(
    await page.getByTestId('list-error').textContent(),
    /^cifar_regnet\.json is shown but not kept: the browser's storage is full/,
  );
  assert.deepEqual((await curves(page))[4], { name: 'cifar_regnet', n: 5, min: 21.86, mean: 24.41 });
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: site.server.origin });
  await page.reload();
  await page.getByTestId('sweep-list').waitFor();
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  await page.waitForTimeout(1_000);
  assert.equal(await page.getByTestId('sweep-toggle-cifar_regnet').count(), 0, 'nothing half-written');
  assert.deepEqual(page.errors, []);
});

test('hiding a sweep and normalising are links that reopen the same view', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url);
  await page.getByTestId('sweep-toggle-anynetx-a').uncheck();
  await page.waitForURL(/show=anynetx-e%2Cregnetx%2Cregnety|show=anynetx-e,regnetx,regnety/);
  await page.getByTestId('explore-norm').selectOption('flops');
  await page.waitForURL(/norm=flops/);
  const shown = await curves(page);
  assert.deepEqual(shown.map((c) => c.name), ['anynetx-e', 'regnetx', 'regnety']);
  assert.equal(await page.getByTestId('ks-row').count(), 3);

  const again = await newPage(site.browser);
  await openExplore(again, site.server.url, new URL(page.url()).search);
  assert.deepEqual(await curves(again), shown);
  assert.equal(await again.getByTestId('explore-norm').inputValue(), 'flops');
  assert.deepEqual([...page.errors, ...again.errors], []);
});

test('a link naming a sweep this browser lacks says so and shows the rest', async () => {
  const page = await newPage(site.browser);
  await openExplore(page, site.server.url, '?show=regnetx,my-cluster-sweep&bins=abc');
  assert.deepEqual((await curves(page)).map((c) => c.name), ['regnetx']);
  const notice = await page.getByTestId('url-notice').textContent();
  assert.match(notice, /my-cluster-sweep' is not in this browser/);
  assert.match(notice, /bins: 'abc'/);
  assert.deepEqual(page.errors, []);
});

test("the reference loads from the site's path, and the nav links both ways", async () => {
  const page = await newPage(site.browser);
  await page.goto(`${site.server.url}/`);
  await page.getByTestId('nav-explore').click();
  await page.waitForURL((url) => url.pathname === `${BASE}/explore`);
  // The list renders with the loading line, so the line's removal means loaded.
  await page.getByTestId('sweep-list').waitFor({ timeout: 30_000 });
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  assert.deepEqual((await curves(page)).map((c) => c.name), REFERENCE);
  for (const [nav, path] of [['nav-fit', '/fit'], ['nav-models', '/models'], ['nav-home', '/']]) {
    await page.getByTestId(nav).click();
    await page.waitForURL((url) => url.pathname === `${BASE}${path}`);
  }
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  assert.deepEqual(page.errors, []);
});

test('leaving the explorer while it loads its sweeps and stored runs panics nothing', async () => {
  const page = await newPage(site.browser);
  // The reference sweep answers slowly, so the page is left before its load ends; the
  // load then goes on to open the store and read the stored runs.
  await page.route('**/sweeps/reference/**', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue().catch(() => {});
  });
  await page.goto(`${site.server.url}/explore`);
  await page.getByTestId('nav-fit').click();
  await page.getByTestId('fit-result').waitFor({ timeout: 30_000 });
  // Long enough for the delayed answers and the store's reads had the load gone on.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  assert.deepEqual(page.errors, []);
  // The page still works: back to the explorer, which loads in full.
  await page.unroute('**/sweeps/reference/**');
  await page.getByTestId('nav-explore').click();
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  assert.deepEqual((await curves(page)).map((c) => c.name), REFERENCE);
  assert.deepEqual(page.errors, []);
});
