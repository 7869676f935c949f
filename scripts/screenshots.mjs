// Takes the README's screenshots from the real app (after scripts/build): one per page,
// and the explorer in the dark theme, into docs/screenshots/.
//
//   node scripts/screenshots.mjs
import { mkdirSync } from 'node:fs';
import { serve, launch } from '../tests/e2e/harness.mjs';

// (file, path, the element that says the page has drawn, theme)
const SHOTS = [
  ['shape.png', '/?d=13&q=8&w0=24&wa=36.44&wm=2.49&g=8&b=1&se=0&data=imagenet', 'stage-table', 'light'],
  ['lesson.png', '/lessons/anynetx-e', 'lesson-edf', 'light'],
  ['explore.png', '/explore?pick=regnetx@7', 'model-detail', 'light'],
  ['fit.png', '/fit?widths=256x3,512x4,1024x6,2048x3', 'fit-plot', 'light'],
  ['models.png', '/models', 'models-plot', 'light'],
  ['explore-dark.png', '/explore', 'edf-plot', 'dark'],
];

mkdirSync('docs/screenshots', { recursive: true });
const server = await serve();
const browser = await launch();
try {
  for (const [file, path, ready, colorScheme] of SHOTS) {
    const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.url}${path}`);
    await page.getByTestId(ready).first().waitFor({ timeout: 60_000 });
    // The plots under the EDF draw a task later each.
    await page.waitForTimeout(500);
    await page.screenshot({ path: `docs/screenshots/${file}` });
    await context.close();
    console.log(`wrote docs/screenshots/${file}`);
  }
} finally {
  await browser.close();
  server.close();
}
