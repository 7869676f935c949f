// End-to-end: every route in light and dark themes, at phone and desktop widths, on
// the real release build: axe-core (from npm) finds no serious or critical problems,
// the dark theme follows the system setting, and a phone never scrolls sideways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { servedSite } from './harness.mjs';

const site = servedSite();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// Each route, and the element that says it has rendered.
const ROUTES = [
  ['/', 'stage-table'],
  ['/?d=16&w0=48&wa=27.5&wm=2.5&hide=g,b&lock=d&ask=Only%20move%20wm', 'exercise-ask'],
  ['/lessons/anynetx-e', 'lesson-edf'],
  ['/explore', 'edf-plot'],
  ['/fit', 'fit-plot'],
  ['/models', 'models-table'],
  ['/no/such/page', 'not-found'],
];

async function audit(colorScheme, width) {
  const context = await site.browser.newContext({ colorScheme, viewport: { width, height: 900 } });
  const findings = [];
  try {
    for (const [route, ready] of ROUTES) {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${site.server.url}${route}`);
      await page.getByTestId(ready).first().waitFor({ timeout: 30_000 });
      await page.addScriptTag({ content: AXE });
      const violations = await page.evaluate(async () =>
        (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`),
      );
      findings.push(...violations.map((v) => `${route} (${colorScheme}, ${width}px): ${v}`));
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (wide > 1) findings.push(`${route} (${colorScheme}, ${width}px): the page scrolls sideways by ${wide}px`);
      const ground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const dark = ground !== 'rgb(255, 255, 255)';
      if (dark !== (colorScheme === 'dark')) findings.push(`${route} (${colorScheme}): body background ${ground}`);
      findings.push(...errors.map((e) => `${route}: ${e}`));
      await page.close();
    }
  } finally {
    await context.close();
  }
  return findings;
}

test('every route passes axe-core in the light theme, on a desktop and a phone', async () => {
  assert.deepEqual([...(await audit('light', 1280)), ...(await audit('light', 375))], []);
});

test('every route passes axe-core in the dark theme, on a desktop and a phone', async () => {
  assert.deepEqual([...(await audit('dark', 1280)), ...(await audit('dark', 375))], []);
});
