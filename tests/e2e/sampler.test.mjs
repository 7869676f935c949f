// End-to-end: the page's wasm sampler draws exactly the models the native build draws
// (tests/golden/samples.json, which tests/sampler_platforms.rs holds the native build
// to), for every design space, in the CIFAR regime and in an ImageNet band.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { servedSite, newPage, openApp } from './harness.mjs';

const GOLDEN = JSON.parse(readFileSync(new URL('../golden/samples.json', import.meta.url), 'utf8'));

const site = servedSite();

test('the page samples the same models as the native build, every space', async () => {
  const page = await newPage(site.browser);
  await openApp(page, site.server.url);
  const requests = GOLDEN.cases.map((c) => JSON.stringify(c.request));
  // The app's own module (the one index.html preloads and initialised): importing it
  // again returns the same, initialised instance.
  const drawn = await page.evaluate(async (requests) => {
    const app = await import(document.querySelector('link[rel=modulepreload]').href);
    // A promise: the sampler is a module of its own, loaded at the first call.
    return Promise.all(requests.map(async (r) => JSON.parse(await app.sample_models(r))));
  }, requests);
  assert.equal(drawn.length, GOLDEN.cases.length);
  GOLDEN.cases.forEach((c, i) => {
    assert.deepEqual(drawn[i], c.models, `case ${i}: ${c.request.sampler.space} at ${c.request.sampler.dataset}`);
  });
  // A bad request is a rejection with its reason, not a panic.
  const error = await page.evaluate(async () => {
    const app = await import(document.querySelector('link[rel=modulepreload]').href);
    try {
      await app.sample_models('{"n": 3}');
      return null;
    } catch (e) {
      return String(e);
    }
  });
  assert.match(error, /not a sample request/);
  assert.deepEqual(page.errors, []);
});
