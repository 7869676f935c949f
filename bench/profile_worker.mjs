// Where a training step's time goes in the browser's CPU worker: V8's sampling
// profiler (CDP, through a browser-level session) on every worker while the page
// trains the mini RegNetX (batch 128, 32 px), self time summed per function.
//
//   node bench/profile_worker.mjs DIST [threads|one] [steps]
//
// DIST is a site whose workers keep their function names (the workers built with
// `CARGO_PROFILE_WORKER_DEBUG=line-tables-only`, see BENCHMARKS.md); `one` serves it
// without isolation (the one-thread CPU worker), a number runs the threaded
// worker with that many pool threads. Prints the top functions by self time, and the
// share of time in our kernels, gemm, Burn's flex and the rest.
import { serve, launch, newPage, openApp, cifarArchive, poolThreads, fillRecipe } from '../tests/e2e/harness.mjs';

const [dist, mode = '1', stepsArg = '8'] = process.argv.slice(2);
if (!dist) throw new Error('usage: node bench/profile_worker.mjs DIST [threads|one] [steps]');
const threads = mode === 'one' ? null : Number(mode);
const steps = Number(stepsArg);
const batch = 128;
// MODEL=QUERY profiles another network (the page's model parameters, e.g. a sweep's
// model: `d=9&w0=16&wa=23.2&wm=2.474&g=1`); the mini RegNetX by default.
const MODEL = process.env.MODEL || 'd=6&w0=24&wa=16&wm=2.5&g=8';
const QUERY = `?${MODEL}&b=1&q=8&se=0&data=cifar10&backend=cpu`;

const server = await serve(dist, { archive: cifarArchive(Math.ceil((steps * batch) / 5)), isolated: threads !== null });
const browser = await launch();
try {
  const cdp = await browser.newBrowserCDPSession();
  // Every worker target (the training worker and its pool), attached the old way:
  // messages to and from it travel inside Target.* calls on this one session.
  const sessions = new Map();
  let nextId = 1;
  const pending = new Map();
  const call = (sessionId, method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
    const m = JSON.parse(message);
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)(m.result);
      pending.delete(m.id);
    }
  });
  cdp.on('Target.targetCreated', async ({ targetInfo }) => {
    if (targetInfo.type !== 'worker') return;
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: targetInfo.targetId, flatten: false });
    sessions.set(sessionId, targetInfo.url);
    await call(sessionId, 'Profiler.enable');
    await call(sessionId, 'Profiler.setSamplingInterval', { interval: 200 });
  });
  await cdp.send('Target.setDiscoverTargets', { discover: true });

  const page = await newPage(browser);
  if (threads !== null) await poolThreads(page, threads);
  await openApp(page, server.url, QUERY);
  await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
  const recipe = { 'train-images': steps * batch, 'test-images': 100, epochs: 1, batch, lr: 0.1 };
  await fillRecipe(page, recipe);
  await page.waitForFunction(() => !document.querySelector('[data-testid=train-start]').disabled, null, { timeout: 60_000 });
  await page.getByTestId('train-start').click();
  const progress = (n) =>
    page.waitForFunction((k) => (document.querySelector('[data-testid=train-progress]')?.value ?? 0) >= k, n, { timeout: 600_000 });
  await progress(2);
  for (const id of sessions.keys()) await call(id, 'Profiler.start');
  const t0 = Date.now();
  await progress(steps);
  const seconds = (Date.now() - t0) / 1000;
  const self = new Map();
  let total = 0;
  for (const id of sessions.keys()) {
    const { profile } = await call(id, 'Profiler.stop');
    const dt = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
    const hits = new Map();
    for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
    for (const node of profile.nodes) {
      const name = node.callFrame.functionName || `(${node.callFrame.url || 'anonymous'})`;
      if (name === '(idle)' || name === '(program)') continue;
      const t = (hits.get(node.id) ?? 0) * dt;
      if (!t) continue;
      self.set(name, (self.get(name) ?? 0) + t);
      total += t;
    }
  }
  const used = await page.getByTestId('train-backend-used').textContent();
  console.log(`${used} ${steps - 2} steps in ${seconds.toFixed(2)} s; ${sessions.size} workers; busy ${(total / 1e6).toFixed(2)} s sampled`);
  const groups = { 'our kernels (src/train)': /regnet_playground/, gemm: /gemm/, 'Burn flex': /burn_flex|burn_backend|burn_autodiff|burn_tensor|burn_core|burn_nn|burn_optim|burn_std|burn_ir/, 'waiting (atomics)': /Atomics|wait|park|spin/i };
  const share = {};
  for (const [name, t] of self) {
    const group = Object.keys(groups).find((g) => groups[g].test(name)) ?? 'other';
    share[group] = (share[group] ?? 0) + t;
  }
  for (const [g, t] of Object.entries(share).sort((a, b) => b[1] - a[1])) console.log(`  ${g.padEnd(28)} ${((100 * t) / total).toFixed(1)}%`);
  console.log('top functions by self time:');
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 150)}`);
  }
} finally {
  await browser.close();
  server.close();
}
