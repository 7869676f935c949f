// End-to-end: the published models side by side (/models) on the real release build:
// all 36 models in the table and the plot, our complexity equal to the published one
// for every RegNet, a RegNet's point opening its shape with those numbers, the axis a
// link, and a bad link value named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedSite, newPage, readStages } from './harness.mjs';

const site = servedSite();

async function openModels(page, query = '') {
  await page.goto(`${site.server.url}/models${query}`);
  await page.getByTestId('models-table').waitFor({ timeout: 30_000 });
}

const grouped = (n) => Number(n).toLocaleString('en-US');

test("every published model is listed and plotted; our RegNets' complexity is the published one", async () => {
  const page = await newPage(site.browser);
  await openModels(page);
  const rows = await page.getByTestId('models-row').evaluateAll((rs) => rs.map((r) => ({ ...r.dataset })));
  assert.equal(rows.length, 36);
  const families = new Set(rows.map((r) => r.family));
  assert.deepEqual([...families].sort(), ['EfficientNet', 'RegNetX', 'RegNetY', 'ResNeXt', 'ResNet']);
  const regnets = rows.filter((r) => r.family.startsWith('RegNet'));
  assert.equal(regnets.length, 24);
  for (const r of regnets) {
    assert.deepEqual([r.oursFlops, r.oursParams, r.oursActs], [r.flops, r.params, r.acts], r.model);
  }
  for (const r of rows.filter((r) => !r.family.startsWith('RegNet'))) assert.equal(r.oursFlops, '', r.model);
  assert.equal(await page.locator('td.agree').count(), 24);
  assert.equal(await page.locator('td.differs').count(), 0);

  assert.equal(await page.getByTestId('models-series').count(), 5);
  assert.equal(await page.getByTestId('models-point').count(), 36);
  assert.equal(await page.locator('[data-testid=models-point][data-href]').count(), 24, 'RegNets open');
  assert.deepEqual(page.errors, []);
});

test('the axis is a link; a RegNet point opens its shape with the published flops', async () => {
  const page = await newPage(site.browser);
  await openModels(page);
  const xs = async () => page.getByTestId('models-point').evaluateAll((ps) => ps.map((p) => Number(p.getAttribute('cx'))));
  const byFlops = await xs();
  await page.getByTestId('models-x').selectOption('acts');
  await page.waitForURL(/x=acts/);
  await page.waitForFunction((before) => {
    const now = [...document.querySelectorAll('[data-testid=models-point]')].map((p) => Number(p.getAttribute('cx')));
    return now.some((x, i) => x !== before[i]);
  }, byFlops);
  const byActs = await xs();
  const again = await newPage(site.browser);
  await openModels(again, '?x=acts');
  assert.equal(await again.getByTestId('models-x').inputValue(), 'acts');
  assert.deepEqual(await again.getByTestId('models-point').evaluateAll((ps) => ps.map((p) => Number(p.getAttribute('cx')))), byActs);

  // A bad axis value opens flops with a notice.
  await openModels(again, '?x=speed');
  await again.getByTestId('url-notice').getByText(/x: 'speed'/).waitFor();
  assert.equal(await again.getByTestId('models-x').inputValue(), 'flops');

  const row = await page.locator('[data-testid=models-row][data-model="RegNetY-800MF"]').evaluate((r) => ({ ...r.dataset }));
  await page.locator('[data-testid=models-point][data-model="RegNetY-800MF"]').click();
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  assert.match(page.url(), /data=imagenet/);
  assert.equal(await page.getByTestId('flops').getAttribute('title'), grouped(row.flops));
  assert.equal(await page.getByTestId('params').getAttribute('title'), grouped(row.params));
  assert.equal((await readStages(page)).length, 4);
  assert.deepEqual([...page.errors, ...again.errors], []);
});
