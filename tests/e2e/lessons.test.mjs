// End-to-end: the lessons (/lessons/STEP) on the real release build: every step's link
// opens that step with its progress, its added constraint highlighted, the spaces'
// sizes shrinking and the reference EDFs it names; previous/next and the arrow keys
// move through them; the worked example's "try it" opens two stages of two blocks; an
// unknown step says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedSite, newPage, readStages, BASE } from './harness.mjs';

const site = servedSite();
const SLUGS = ['design-spaces', 'anynetx-a', 'anynetx-b', 'anynetx-c', 'anynetx-d', 'anynetx-e', 'linear-rule', 'regnetx', 'best-models'];
// The parameter each AnyNet step constrains.
const ADDS = { 'anynetx-b': 'b_i', 'anynetx-c': 'g_i', 'anynetx-d': 'w_i', 'anynetx-e': 'd_i' };

async function openStep(page, slug) {
  await page.goto(`${site.server.url}/lessons/${slug}`);
  await page.waitForFunction((s) => document.querySelector('[data-testid=lesson]')?.dataset.step === s, slug, { timeout: 30_000 });
}

test('every step opens from its link with its progress, constraint, sizes and EDFs', async () => {
  const page = await newPage(site.browser);
  for (const [i, slug] of SLUGS.entries()) {
    await openStep(page, slug);
    assert.equal(await page.getByTestId('lesson-progress').getAttribute('value'), String(i + 1));
    assert.equal(await page.getByTestId('lesson-progress').getAttribute('max'), String(SLUGS.length));
    const added = await page.locator('[data-testid=lesson-constraint][data-added=true]').evaluateAll((rs) => rs.map((r) => r.dataset.param));
    assert.deepEqual(added, ADDS[slug] ? [ADDS[slug]] : [], slug);
    const size = page.getByTestId('lesson-size');
    if (await size.count()) {
      const [before, after] = await size.evaluate((p) => [Number(p.dataset.before), Number(p.dataset.after)]);
      assert.ok(after < before, `${slug}: ${before} -> ${after}`);
    }
    const edf = page.getByTestId('lesson-edf');
    if (slug !== 'linear-rule') {
      await edf.waitFor({ timeout: 30_000 });
      const names = (await edf.getAttribute('data-names')).split(',');
      assert.ok(names.length >= 1 && names.every((n) => ['anynetx-a', 'anynetx-e', 'regnetx', 'regnety'].includes(n)), `${slug}: ${names}`);
      assert.equal(await edf.locator('svg').count(), 1);
    } else {
      assert.equal(await edf.count(), 0);
    }
    assert.equal(await page.getByTestId('lesson-prev').count(), i > 0 ? 1 : 0);
    assert.equal(await page.getByTestId('lesson-next').count(), i + 1 < SLUGS.length ? 1 : 0);
  }
  // The route alone opens the first step.
  await page.goto(`${site.server.url}/lessons`);
  await page.waitForFunction(() => document.querySelector('[data-testid=lesson]')?.dataset.step === 'design-spaces', null, { timeout: 30_000 });
  assert.deepEqual(page.errors, []);
});

test('next, previous and the arrow keys move through the steps; try it sets the controls', async () => {
  const page = await newPage(site.browser);
  await openStep(page, 'anynetx-e');
  await page.getByTestId('lesson-next').click();
  await page.waitForURL((url) => url.pathname === `${BASE}/lessons/linear-rule`);
  await page.keyboard.press('ArrowLeft');
  await page.waitForURL((url) => url.pathname === `${BASE}/lessons/anynetx-e`);
  await page.keyboard.press('ArrowRight');
  await page.waitForURL((url) => url.pathname === `${BASE}/lessons/linear-rule`);
  assert.equal(await page.getByTestId('lesson-title').textContent(), 'The quantized linear rule');
  await page.getByTestId('lesson-try').click();
  await page.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  const stages = await readStages(page);
  assert.deepEqual(stages.map((s) => [s.depth, s.width]), [[2, 32], [2, 64]]);
  // It opens as an exercise: the rule's own sliders only, and a question.
  await page.getByTestId('exercise-ask').waitFor();
  assert.equal(await page.getByTestId('param-g').count(), 0);
  assert.equal(await page.getByTestId('param-wm').count(), 1);

  await page.goto(`${site.server.url}/lessons/no-such-step`);
  await page.getByTestId('lesson-missing').waitFor({ timeout: 30_000 });
  await page.getByTestId('lesson-missing').locator('a').click();
  await page.waitForURL((url) => url.pathname === `${BASE}/lessons/design-spaces`);
  assert.deepEqual(page.errors, []);
});
