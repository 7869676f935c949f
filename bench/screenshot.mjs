// Saves the README screenshot: node bench/screenshot.mjs [query] [out.png]
import { serve, launch, newPage, openApp } from '../tests/e2e/harness.mjs';

const query = process.argv[2] || '?d=13&q=8&w0=24&wa=36.44&wm=2.49&g=8&b=1&se=0&data=imagenet';
const out = process.argv[3] || 'docs/screenshot.png';
const server = await serve();
const browser = await launch();
const page = await newPage(browser);
await page.setViewportSize({ width: 1280, height: 900 });
await openApp(page, server.url, query);
await page.screenshot({ path: out, fullPage: true });
await browser.close();
server.close();
console.log(`wrote ${out}`);
