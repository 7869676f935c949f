// The explorer's main thread while a sweep trains: Chromium's own trace of the tiny
// sweep the end-to-end test runs (2 spaces x 3 models, 2 CPU workers), every main-thread
// task over a threshold with where its time went (script, layout, paint).
//
//   node bench/sweep_main_thread.mjs [SHOW] [THRESHOLD_MS]   (after scripts/build)
//
// SHOW: the sweeps shown beside the trained ones (`show=` in the URL; default none,
// "reference" for the four reference spaces). THRESHOLD_MS defaults to 40. Tracing
// itself slows the page a little, so these durations are upper bounds.
import { serve, launch, newPage, cifarArchive } from '../tests/e2e/harness.mjs';

const [show = '', threshold = '40'] = process.argv.slice(2);
const shown = show === 'reference' ? 'anynetx-a,anynetx-e,regnetx,regnety' : show;
const server = await serve(process.env.DIST || undefined, { archive: cifarArchive(100) });
const browser = await launch();
try {
  const page = await newPage(browser);
  await page.goto(`${server.url}/explore?show=${shown}&spaces=anynetx-a,regnetx&n=3&mf=0:2&epochs=1&train=128&test=50&workers=2`);
  await page.getByTestId('explore-loading').waitFor({ state: 'detached', timeout: 30_000 });
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  await page.getByTestId('sweep-start').click();
  await page.getByTestId('sweep-status').getByText(/6 of 6 models.*\(done\)/).waitFor({ timeout: 300_000 });
  const { traceEvents } = JSON.parse((await browser.stopTracing()).toString());
  const main = traceEvents.find(
    (e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && traceEvents.some((x) => x.pid === e.pid && x.name === 'RunTask'),
  );
  const events = traceEvents.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X');
  const tasks = events.filter((e) => e.name === 'RunTask' && e.dur > Number(threshold) * 1000);
  console.log(`${tasks.length} main-thread tasks over ${threshold} ms (show=${shown || 'none'}):`);
  for (const t of tasks) {
    const parts = {};
    for (const e of events) {
      if (e !== t && e.name !== 'RunTask' && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur) parts[e.name] = (parts[e.name] || 0) + e.dur / 1000;
    }
    const top = ['FunctionCall', 'Layout', 'UpdateLayoutTree', 'Paint', 'MinorGC', 'MajorGC']
      .filter((k) => parts[k])
      .map((k) => `${k} ${parts[k].toFixed(1)}`)
      .join(', ');
    console.log(`  ${(t.dur / 1000).toFixed(1)} ms: ${top}`);
  }
  if (page.errors.length) throw new Error(page.errors.join('; '));
} finally {
  await browser.close();
  server.close();
}
