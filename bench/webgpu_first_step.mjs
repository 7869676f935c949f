// How long the first WebGPU steps take in the browser, where CubeCL compiles every kernel
// in the worker's wasm: the e2e test's tiny model (batch 20, 200 images, one epoch) on
// each built site given, one after the other, in headless Chromium with WebGPU
// (SwiftShader here). Prints per site the seconds to three steps and to the result, and
// the worker's own "step N recorded / read back" lines. A site given as DIST?QUERY adds
// QUERY to the link (e.g. dist?layers=burn against dist?layers=measured: whose layer
// kernels the run compiles).
//
//   node bench/webgpu_first_step.mjs DIST[?QUERY] [DIST[?QUERY]...]   (e.g. dist and a copy with another worker)
import { serve, launch, newPage, openApp, cifarArchive, fillRecipe } from '../tests/e2e/harness.mjs';
const TINY = '?d=2&w0=8&wa=8&wm=2&g=8&b=1&q=8&se=0&data=cifar10';
const archive = cifarArchive(100);
for (const site of process.argv.slice(2)) {
  const [dir, query = ''] = site.split('?');
  const server = await serve(dir, { archive });
  const browser = await launch(['--enable-unsafe-webgpu']);
  const page = await newPage(browser);
  const logs = [];
  const t0 = Date.now();
  page.on('worker', (w) => w.on('console', (m) => logs.push(`${((Date.now() - t0) / 1000).toFixed(1)} ${m.text()}`)));
  await openApp(page, server.url, query ? `${TINY}&${query}` : TINY);
  await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
  await fillRecipe(page, { 'train-images': 200, 'test-images': 100, epochs: 1, batch: 20 });
  const start = Date.now();
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=train-progress]')?.value >= 3, null, { timeout: 1_200_000 });
  const three = (Date.now() - start) / 1000;
  await page.getByTestId('train-result').waitFor({ timeout: 1_200_000 });
  const all = (Date.now() - start) / 1000;
  console.log(site, JSON.stringify({ threeSteps: three, run: all, backend: await page.getByTestId('train-backend-used').textContent() }));
  console.log(logs.filter((l) => /step/.test(l)).join('\n'));
  await browser.close();
  server.close();
}
