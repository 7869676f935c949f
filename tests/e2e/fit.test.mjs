// End-to-end: fitting the RegNet rule to per-block widths (/fit) on the real release
// build: the paper's worked example, every published RegNet fitted exactly and opened
// in the shape explorer, ResNet-50 fitted approximately, bad input refused with a
// message, and the view a link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedSite, newPage, readStages } from './harness.mjs';

const site = servedSite();

async function openFit(page, query = '') {
  await page.goto(`${site.server.url}/fit${query}`);
  await page.getByTestId('fit-result').waitFor({ timeout: 30_000 });
}

const result = (page) =>
  page.getByTestId('fit-result').evaluate((p) => ({
    d: Number(p.dataset.d),
    w0: Number(p.dataset.w0),
    wa: Number(p.dataset.wa),
    wm: Number(p.dataset.wm),
    eFit: Number(p.dataset.efit),
  }));

test("the paper's example fits exactly; a published RegNet fits exactly and opens in the shape explorer", async () => {
  const page = await newPage(site.browser);
  await openFit(page);
  assert.deepEqual(await result(page).then((r) => [r.d, r.w0, r.eFit]), [4, 32, 0]);
  assert.equal(await page.getByTestId('fit-given').count(), 4);

  // Every published RegNet's block widths (the example list) fit with e_fit 0.
  const names = await page.getByTestId('fit-example').locator('option').evaluateAll((os) => os.map((o) => o.value).filter((v) => v.startsWith('regnet')));
  assert.equal(names.length, 24);
  for (const name of names) {
    await page.getByTestId('fit-example').selectOption(name);
    await page.waitForURL(/widths=/);
    await page.waitForFunction((n) => document.querySelector('[data-testid=fit-example]').value === n, name);
    const r = await result(page);
    assert.equal(r.eFit, 0, `${name}: ${JSON.stringify(r)}`);
  }

  await page.getByTestId('fit-example').selectOption('regnetx-200mf');
  await page.waitForURL(/widths=24(%2C|,)56(%2C|,)152x4(%2C|,)368x7/);
  const again = await newPage(site.browser);
  await openFit(again, new URL(page.url()).search);
  assert.deepEqual(await result(again), await result(page), 'the link reopens the same fit');
  await page.getByTestId('fit-open').click();
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  const stages = await readStages(page);
  assert.deepEqual(stages.map((s) => [s.depth, s.width]), [[1, 24], [1, 56], [4, 152], [7, 368]]);
  assert.deepEqual([...page.errors, ...again.errors], []);
});

test('ResNet-50 fits approximately; typed widths refit; bad input says so and keeps the fit', async () => {
  const page = await newPage(site.browser);
  await openFit(page, '?widths=256x3,512x4,1024x6,2048x3');
  const r = await result(page);
  assert.equal(r.d, 16);
  assert.ok(r.eFit > 0 && r.eFit < 0.2, JSON.stringify(r));
  await page.getByTestId('fit-widths').fill('48, 48, 96 96 96');
  await page.getByTestId('fit-widths').dispatchEvent('change');
  await page.waitForURL(/widths=48x2(%2C|,)96x3/);
  assert.deepEqual(await result(page).then((x) => [x.d, x.w0, x.eFit]), [5, 48, 0]);
  await page.getByTestId('fit-widths').fill('48, abc');
  await page.getByTestId('fit-widths').dispatchEvent('change');
  await page.getByTestId('fit-input-error').waitFor();
  assert.match(await page.getByTestId('fit-input-error').textContent(), /'abc' is not a width/);
  assert.equal((await result(page)).d, 5, 'the last fit stays');

  await openFit(page, '?widths=0,8&q=999');
  const notice = await page.getByTestId('url-notice').textContent();
  assert.match(notice, /widths: '0' is not a width/);
  assert.match(notice, /q: '999'/);
  assert.deepEqual(page.errors, []);
});
