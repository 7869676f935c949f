// End-to-end: exercise links on the shape explorer (hide, lock, ask) on the real
// release build: a link hides and locks what it names and asks its question; the free
// control still moves and the exercise's keys stay in the URL; a broken name opens with
// a notice; the "share this as an exercise" builder writes such a link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedSite, newPage, openApp, readStages } from './harness.mjs';

const site = servedSite();
const MODEL = 'd=16&w0=48&wa=27.5&wm=2.5&g=8&b=1&q=8&se=0&data=imagenet';
const ASK = 'Only move wm: what happens to the stages?';

test('a link hides and locks controls and asks its question; the free one moves', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, `?${MODEL}&hide=g,b,q,train,preset&lock=d,w0,wa,se,data&ask=${encodeURIComponent(ASK)}`);
  assert.equal(await page.getByTestId('exercise-ask').textContent(), `Exercise: ${ASK}`);
  for (const gone of ['param-g', 'param-b', 'param-q', 'preset', 'train-panel']) {
    assert.equal(await page.getByTestId(gone).count(), 0, gone);
  }
  for (const locked of ['param-d', 'param-w0', 'param-wa', 'param-d-number', 'block-y', 'dataset-cifar10']) {
    assert.ok(await page.getByTestId(locked).isDisabled(), locked);
  }
  const before = await readStages(page);
  await page.getByTestId('param-wm-number').fill('3.5');
  await page.getByTestId('param-wm-number').dispatchEvent('change');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('wm') === '3.5');
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('lock'), 'd,w0,wa,se,data');
  assert.equal(url.searchParams.get('hide'), 'g,b,q,train,preset');
  assert.equal(url.searchParams.get('ask'), ASK);
  assert.equal(url.searchParams.get('d'), '16');
  const after = await readStages(page);
  assert.notDeepEqual(after, before, 'wm moved the stages');
  assert.equal(after.reduce((n, s) => n + s.depth, 0), 16, 'd stayed locked');
  assert.deepEqual(page.errors, []);
});

test('a broken exercise name opens with a notice; the builder writes a link that reopens', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url, `?${MODEL}&hide=gg&lock=train`);
  const notice = await page.getByTestId('url-notice').textContent();
  assert.match(notice, /hide: 'gg' is not a control/);
  assert.match(notice, /lock: 'train' is not a control/);
  assert.equal(await page.getByTestId('param-g').count(), 1);

  await openApp(page, site.server.url, `?${MODEL}`);
  await page.getByTestId('exercise-builder').locator('summary').click();
  await page.getByTestId('exercise-hide-b').check();
  await page.getByTestId('exercise-lock-d').check();
  await page.getByTestId('exercise-ask-input').fill(ASK);
  const link = await page.getByTestId('exercise-link').inputValue();
  const params = new URL(link).searchParams;
  assert.deepEqual([params.get('hide'), params.get('lock'), params.get('ask'), params.get('wm')], ['b', 'd', ASK, '2.5']);
  const student = await newPage(site.browser);
  await student.goto(link);
  await student.getByTestId('stage-table').waitFor({ timeout: 30_000 });
  assert.equal(await student.getByTestId('exercise-ask').textContent(), `Exercise: ${ASK}`);
  assert.equal(await student.getByTestId('param-b').count(), 0);
  assert.ok(await student.getByTestId('param-d').isDisabled());
  assert.deepEqual(await readStages(student), await readStages(page));
  assert.deepEqual([...page.errors, ...student.errors], []);
});
