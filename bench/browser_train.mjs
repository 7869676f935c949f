// Training throughput in the browser: the release build's worker trains the mini
// RegNetX (batch 128, 32 px) on a served CIFAR-format archive, in headless Chromium,
// on the CPU (flex in wasm) or on WebGPU (SwiftShader here).
// Usage: node bench/browser_train.mjs cpu|webgpu [steps] [threads]   (after
// `scripts/build`; DIST=folder serves another build, e.g. one with `--features
// cpu-ndarray`). On the CPU, `threads` N runs the threaded worker with a pool of N
// (the page served cross-origin isolated, the worker started with `?threads=N`);
// `one` (the default) serves the page without isolation, so the CPU runs in the
// one-thread CPU worker.
// Prints one JSON object: images/s over the steps after the first two (which build
// and, on WebGPU, compile the kernels), timed by the page's own progress bar.
import { serve, launch, newPage, openApp, cifarArchive, poolThreads, fillRecipe } from '../tests/e2e/harness.mjs';

const backend = process.argv[2] === 'webgpu' ? 'webgpu' : 'cpu';
const steps = Number(process.argv[3] || 8);
const threads = process.argv[4] && process.argv[4] !== 'one' ? Number(process.argv[4]) : null;
if (threads !== null && !(threads >= 1)) throw new Error(`threads must be a number or "one", not ${process.argv[4]}`);
const batch = 128;
const MINI = '?d=6&w0=24&wa=16&wm=2.5&g=8&b=1&q=8&se=0&data=cifar10';

const server = await serve(process.env.DIST || undefined, {
  archive: cifarArchive(Math.ceil((steps * batch) / 5)),
  isolated: threads !== null,
});
const browser = await launch(backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : []);
try {
  const page = await newPage(browser);
  if (threads !== null) await poolThreads(page, threads);
  await openApp(page, server.url, `${MINI}${backend === 'cpu' ? '&backend=cpu' : ''}`);
  await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
  const recipe = { 'train-images': steps * batch, 'test-images': 100, epochs: 1, batch, lr: 0.1 };
  await fillRecipe(page, recipe);
  await page.getByTestId('train-start').click();
  // Times each step's arrival in the page (polled every animation frame).
  const times = await page.evaluate(
    (total) =>
      new Promise((done) => {
        const seen = [];
        const poll = () => {
          const step = document.querySelector('[data-testid=train-progress]')?.value ?? 0;
          while (seen.length < step) seen.push(performance.now());
          if (seen.length >= total || document.querySelector('[data-testid=train-result]')) done(seen);
          else requestAnimationFrame(poll);
        };
        poll();
      }),
    steps,
  );
  if (times.length < steps) throw new Error(`only ${times.length} of ${steps} steps ran: ${page.errors.join('; ')}`);
  const used = await page.getByTestId('train-backend-used').textContent();
  const timed = times.length - 2;
  const seconds = (times[times.length - 1] - times[1]) / 1000;
  console.log(JSON.stringify({ backend, threads: threads ?? 'one', used, batch, steps: timed, seconds, images_per_s: (timed * batch) / seconds, errors: page.errors }));
} finally {
  await browser.close();
  server.close();
}
