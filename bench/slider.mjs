// Slider input -> table and plot redrawn, in headless Chromium on the release build.
// Usage: node bench/slider.mjs [iterations]   (after `scripts/build`)
// For each tick: set the wa slider, dispatch `input`, and time (a) until the stage
// table and plot have been updated in the DOM and (b) until the next frame.
import { serve, launch, newPage, openApp } from '../tests/e2e/harness.mjs';

const N = Number(process.argv[2] || 300);
const server = await serve();
const browser = await launch();
const page = await newPage(browser);
await openApp(page, server.url, '?d=64&q=8&w0=24&wa=36.44&wm=2.49&g=8&b=1&se=0&data=imagenet');

const samples = await page.evaluate(async (n) => {
  const slider = document.querySelector('[data-testid=param-wa]');
  const plot = document.querySelector('[data-testid=quantized-path]');
  const cont = document.querySelector('path.continuous');
  const frame = () => new Promise((ok) => requestAnimationFrame(() => ok()));
  const dom = [];
  const paint = [];
  for (let i = 0; i < n; i++) {
    await frame();
    const before = cont.getAttribute('d');
    const changed = new Promise((ok) => {
      const obs = new MutationObserver(() => {
        if (cont.getAttribute('d') !== before) {
          obs.disconnect();
          ok(performance.now());
        }
      });
      obs.observe(cont, { attributes: true });
    });
    const t0 = performance.now();
    slider.value = String(20 + (i % 2 ? 0.5 : 0) + (i % 40));
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    const t1 = await changed;
    await frame();
    const t2 = performance.now();
    if (!plot.getAttribute('d')) throw new Error('plot vanished');
    dom.push(t1 - t0);
    paint.push(t2 - t0);
  }
  return { dom, paint };
}, N);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(2)} ms, p95 ${pct(xs, 95).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;
console.log(`slider input at d=64, ${N} ticks (headless Chromium ${browser.version()})`);
console.log(`  input -> table and plot updated in the DOM: ${fmt(samples.dom)}`);
console.log(`  input -> next animation frame:               ${fmt(samples.paint)}`);
if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
await browser.close();
server.close();
