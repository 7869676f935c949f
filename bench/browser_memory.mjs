// Memory of training in the browser's CPU fallback, against the estimate the page
// refuses runs by (src/run/memory.rs, Target::Cpu): the worker reports its wasm
// memory (which only grows, so its peak) before the first step and after each step.
// Usage: node bench/browser_memory.mjs '<url query>' batch [steps]   (after
// `scripts/build`). Prints one JSON object; the training footprint is the
// growth from the Started event (data and model loaded) to the last step.
import { serve, launch, newPage, openApp, cifarArchive, fillRecipe } from '../tests/e2e/harness.mjs';

const [query, batchArg, stepsArg] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg || 2);
if (!query || !(batch > 0)) throw new Error('usage: node bench/browser_memory.mjs "?d=6&w0=24&..." batch [steps]');

// The page trains on at least 100 images; the archive holds what the recipe asks for.
const images = Math.max(100, steps * batch);
const server = await serve(process.env.DIST || undefined, { archive: cifarArchive(Math.ceil(images / 5)) });
const browser = await launch();
try {
  const page = await newPage(browser);
  // Every message the worker posts, as the page receives it.
  await page.addInitScript(() => {
    window.__events = [];
    const Native = window.Worker;
    window.Worker = function (...args) {
      const worker = new Native(...args);
      worker.addEventListener('message', (e) => {
        if (typeof e.data !== 'string') return;
        // Run news comes as {type: 'Run', run, event}: keep the event itself.
        const message = JSON.parse(e.data);
        window.__events.push(message.type === 'Run' ? message.event : message);
      });
      return worker;
    };
  });
  await openApp(page, server.url, query);
  await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
  const recipe = { 'train-images': images, 'test-images': 100, epochs: 1, batch, lr: 0.1 };
  await fillRecipe(page, recipe);
  await page.getByTestId('train-start').click();
  await page.waitForFunction(
    (n) => window.__events.some((e) => e.type === 'Failed' || e.type === 'Crashed') || window.__events.filter((e) => e.type === 'Step').length >= n,
    steps,
    { timeout: 900_000 },
  );
  const events = await page.evaluate(() => window.__events);
  const failed = events.find((e) => e.type === 'Failed' || e.type === 'Crashed');
  if (failed) throw new Error(`the run failed: ${failed.message}`);
  const started = events.find((e) => e.type === 'Started');
  const last = events.filter((e) => e.type === 'Step').pop();
  console.log(JSON.stringify({
    query,
    batch,
    params: started.facts.params,
    started_bytes: started.memory_bytes,
    peak_bytes: last.memory_bytes,
    training_bytes: last.memory_bytes - started.memory_bytes,
    errors: page.errors,
  }));
} finally {
  await browser.close();
  server.close();
}
