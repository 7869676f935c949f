// What each part of the page downloads, from a built site's page folder: the main
// module (the shape explorer), and each split point's module (a page, or the Train
// panel) with the shared chunks it loads, read from wasm-split-cli's loader
// (__wasm_split.js), each size raw and gzip -9 (BENCHMARKS.md, bundle size).
//
//   node bench/page_modules.mjs [DIST]   (default dist)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = process.argv[2] || 'dist';
const folder = readdirSync(dist).find((n) => /^page-[0-9a-f]{16}$/.test(n));
if (!folder) {
  console.error(`no page folder in ${dist}: build the site first (scripts/build)`);
  process.exit(1);
}
const dir = join(dist, folder);
const size = (file) => {
  const bytes = readFileSync(join(dir, file));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const loader = readFileSync(join(dir, '__wasm_split.js'), 'utf8');
// `export const __wasm_split_load_NAME = wrapAsyncCb(makeLoad(... "./split_NAME.wasm" ..., [__chunk_A, ...]))`
const splits = [...loader.matchAll(/__wasm_split_load_(\w+) = [\s\S]*?"\.\/(split_\w+\.wasm)"[\s\S]*?\[([^\]]*)\]\)\)/g)];
if (!splits.length) {
  console.error(`${dir}/__wasm_split.js lists no split module: has wasm-split-cli's loader changed?`);
  process.exit(1);
}
const row = (name, files) => {
  const total = files.map(size).reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip }), { raw: 0, gzip: 0 });
  console.log(`| ${name} | ${files.length} | ${total.raw.toLocaleString('en')} B | ${total.gzip.toLocaleString('en')} B |`);
  return total;
};
console.log(`${dir}\n\n| part | files | raw | gzip -9 |\n| --- | --- | --- | --- |`);
row('the main module (`/`: the shape explorer) and its script', ['playground_bg.wasm', 'playground.js', '__wasm_split.js']);
for (const [, name, file, deps] of splits) {
  const chunks = deps.split(',').map((d) => d.trim()).filter(Boolean).map((d) => `${d.replace('__chunk_', 'chunk_')}.wasm`);
  row(`${name}: its module and ${chunks.length} shared chunks`, [file, ...chunks]);
}
