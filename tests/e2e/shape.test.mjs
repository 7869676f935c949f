// End-to-end: the shape explorer in headless Chromium, on the real release build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedSite, newPage, openApp, readStages, BASE } from './harness.mjs';

const site = servedSite();

const query = (o) => '?' + new URLSearchParams(o).toString();
const X200 = { d: 13, q: 8, w0: 24, wa: 36.44, wm: 2.49, g: 8, b: 1, se: 0, data: 'imagenet' };

test('a link with parameters restores the paper example', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, query({ d: 4, w0: 32, wa: 8, wm: 2, g: 8, b: 1, q: 8, data: 'cifar10' }));
  assert.deepEqual(await readStages(page), [
    { depth: 2, width: 32, groupWidth: 8 },
    { depth: 2, width: 64, groupWidth: 8 },
  ]);
  assert.equal(await page.getByTestId('stage-boundary').count(), 1, 'one boundary between the two stages');
  assert.equal(await page.getByTestId('url-notice').count(), 0);
  assert.equal(await page.getByTestId('param-d').inputValue(), '4');
  assert.equal(await page.getByTestId('param-wm-number').inputValue(), '2');
  assert.deepEqual(page.errors, []);
});

test('published RegNetX-200MF: stages and pycls param count', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, query(X200));
  assert.deepEqual(
    (await readStages(page)).map((s) => [s.depth, s.width]),
    [[1, 24], [1, 56], [4, 152], [7, 368]],
  );
  assert.equal(await page.getByTestId('params').getAttribute('title'), '2,684,792');
  assert.equal(await page.getByTestId('preset').inputValue(), 'regnetx-200mf');
  assert.deepEqual(page.errors, []);
});

test('moving a slider updates the table and the URL without new history entries', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, query(X200));
  const historyBefore = await page.evaluate(() => history.length);
  const flopsBefore = await page.getByTestId('flops').getAttribute('title');
  const slider = page.getByTestId('param-d');
  await slider.focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  await page.waitForURL(/[?&]d=18(&|$)/);
  const stages = await readStages(page);
  assert.equal(stages.reduce((n, s) => n + s.depth, 0), 18, 'depths sum to the new d');
  assert.notEqual(await page.getByTestId('flops').getAttribute('title'), flopsBefore);
  assert.equal(await page.evaluate(() => history.length), historyBefore, 'slider ticks replace, not push');
  assert.equal(await page.getByTestId('preset').inputValue(), 'custom');
  assert.equal(await page.getByTestId('param-d-number').inputValue(), '18');

  // The link reproduces the view in a fresh page.
  const again = await newPage(site.browser);
  await again.goto(page.url());
  await again.getByTestId('stage-table').waitFor();
  assert.deepEqual(await readStages(again), stages);
  assert.deepEqual([...page.errors, ...again.errors], []);
});

test('typing a number, toggles and presets', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, query(X200));
  await page.getByTestId('param-g-number').fill('16');
  await page.getByTestId('param-g-number').press('Enter');
  await page.waitForURL(/[?&]g=16(&|$)/);
  assert.ok((await readStages(page)).every((s) => s.groupWidth <= 16 && s.width % s.groupWidth === 0));

  const imagenetFlops = await page.getByTestId('flops').getAttribute('title');
  await page.getByTestId('dataset-cifar10').click();
  await page.waitForURL(/data=cifar10/);
  assert.notEqual(await page.getByTestId('flops').getAttribute('title'), imagenetFlops);

  const historyBefore = await page.evaluate(() => history.length);
  await page.getByTestId('preset').selectOption('regnety-200mf');
  await page.waitForURL(/se=1/);
  await page.getByTestId('dataset-imagenet').click();
  await page.waitForURL(/data=imagenet/);
  assert.equal(await page.getByTestId('params').getAttribute('title'), '3,162,996');
  assert.equal(await page.evaluate(() => history.length), historyBefore + 1, 'a preset is one history entry');
  assert.deepEqual(page.errors, []);
});

test('a link with garbage values shows a notice naming them and a working page', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, '?d=abc&w0=20&wa=-5&wm=99&g=0&se=maybe&data=mnist&unknown=1');
  const notice = page.getByTestId('url-notice');
  await notice.waitFor();
  const text = await notice.textContent();
  for (const key of ['d:', 'w0:', 'wa:', 'wm:', 'g:', 'se:', 'data:']) assert.ok(text.includes(key), `${key} in ${text}`);
  assert.ok(!text.includes('unknown'), 'unknown keys are ignored');
  const stages = await readStages(page);
  assert.ok(stages.length >= 1);
  assert.equal(stages.reduce((n, s) => n + s.depth, 0), 13, 'd fell back to its default');
  assert.equal(await page.getByTestId('param-w0').inputValue(), '24', 'w0 snapped to a multiple of q');

  // The page still works: a slider move writes a clean link and the notice goes.
  await page.getByTestId('param-d').focus();
  await page.keyboard.press('ArrowLeft');
  await page.waitForURL(/[?&]d=12(&|$)/);
  await notice.waitFor({ state: 'detached' });
  assert.ok(!page.url().includes('unknown'));
  assert.deepEqual(page.errors, []);
});

test('copy link puts the current URL on the clipboard', async () => {
  const context = await site.browser.newContext();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.server.origin });
  const page = await context.newPage();
  await openApp(page, site.server.url, query({ ...X200, d: 20 }));
  await page.getByTestId('copy-link').click();
  await page.getByTestId('copy-status').filter({ hasText: 'copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), page.url());
  await context.close();
});

test("an unknown path says so and links home; links keep the site's path", async () => {
  // BASE is "" at the root, "/sub" in scripts/test's second pass.
  const page = await newPage(site.browser);
  await page.goto(`${site.server.url}/no/such/page`);
  await page.getByTestId('not-found').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('not-found').locator('a').getAttribute('href'), `${BASE}/`);
  await page.goto(`${site.server.url}/nowhere`);
  await page.getByTestId('not-found').waitFor({ timeout: 30_000 });
  assert.ok((await page.getByTestId('not-found').textContent()).includes(`no page at ${BASE}/nowhere`));
  await page.getByTestId('not-found').locator('a').click();
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  assert.equal(new URL(page.url()).pathname, `${BASE}/`);
  // A link to index.html (as a static host serves the page) opens the same view.
  await page.goto(`${site.server.url}/index.html?d=4&w0=32&wa=8&wm=2&g=8&b=1&q=8&data=cifar10`);
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  assert.equal((await readStages(page)).length, 2);
  // A link opens its view, and changing it keeps the path.
  await openApp(page, site.server.url, query({ d: 4, w0: 32, wa: 8, wm: 2, g: 8, b: 1, q: 8, data: 'cifar10' }));
  assert.equal((await readStages(page)).length, 2);
  await page.getByTestId('param-d-number').fill('6');
  await page.getByTestId('param-d-number').dispatchEvent('change');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('d') === '6');
  assert.equal(new URL(page.url()).pathname, `${BASE}/`);
  assert.equal(new URL(page.url()).searchParams.get('w0'), '32');
  assert.deepEqual(page.errors, []);
});
