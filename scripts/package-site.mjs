// Turns the five cargo-built wasm32 programs into the site (scripts/lib.sh, build_app):
//
//   node scripts/package-site.mjs --page PAGE.wasm --worker WORKER.wasm \
//     --cpu-worker CPU_WORKER.wasm --relaxed-cpu-worker RELAXED_CPU_WORKER.wasm \
//     --one-thread-worker ONE_THREAD_WORKER.wasm --out DIST
//
// Every program's files are named by a hash of its cargo output (NAME-HASH.js,
// NAME-HASH_bg.wasm; the page's folder by a hash of its files), so a new build never
// meets a stale cached copy and a browser may
// keep them as long as it likes (scripts/serve-site.mjs says so); only the tiny worker
// loaders keep fixed names, the ones src/app/train/client.rs starts.
// - the page: cut by wasm-split-cli at its split points (src/app/lazy.rs: each page
//   but `/` in a module of its own, and chunks of code several of them share), the
//   main module through wasm-bindgen (`--target web`), and `wasm-opt -Oz` on every
//   module. The modules load each other by fixed names (playground.js,
//   __wasm_split.js, split_*.wasm, chunk_*.wasm), so they share a folder, page-HASH/,
//   named by a hash of everything in it. Loaded by a module script in index.html and
//   preloaded with the `modulepreload` link the app reads its base path from
//   (src/app/mod.rs);
// - the WebGPU worker: wasm-bindgen (`--target no-modules`: a classic worker script)
//   and `wasm-opt -O1`, as train_worker-HASH.js / _bg.wasm, started by
//   train_worker_loader.js;
// - the threaded CPU worker: wasm-bindgen (`--target web`: a module worker, whose
//   rayon pool starts more module workers from wasm-bindgen-rayon's snippet) and
//   `wasm-opt -O1`, as train_cpu-HASH.js / _bg.wasm / snippets/, and its build for
//   relaxed SIMD as train_cpu_relaxed-HASH.js / _bg.wasm; train_cpu_loader.js starts
//   the relaxed one where the browser validates relaxed SIMD, the plain one elsewhere;
// - the one-thread CPU worker: the same without threads, as train_cpu1-HASH.js /
//   _bg.wasm, started by train_cpu1_loader.js;
// - public/style.css and public/favicon.svg under hashed names, with integrity hashes;
// - public/sweeps/ (the reference sweep's run records) as sweeps/, names unchanged;
// - data/cifar-10-binary.tar.gz, a link to $REGNET_CIFAR (default
//   ../shared/data/cifar-10-binary.tar.gz) when that file exists, never a copy; without
//   it the page says where to get the archive and takes a picked file.
//
// Asset links are absolute under $PUBLIC_URL (default "/"): set it to the sub-path a
// site is deployed under ("/repo/"). COI_SERVICEWORKER=1 adds the npm package
// coi-serviceworker's script, first in the page: for hosts that cannot send the
// cross-origin isolation headers (GitHub Pages), its service worker adds them and
// reloads the page once, so the threaded CPU worker can share memory there too. The site is written to DIST.staging and swapped
// in whole, so a failed build leaves the last good DIST in place.
//
//   PUBLIC_URL=/sub/ node scripts/package-site.mjs --from DIST --out OTHER
//
// writes the same site for another sub-path without rebuilding it: DIST's packaged
// programs, styles and records copied, index.html written again (the end-to-end tests
// run the same build under a sub-path this way).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/**
 * A module whose one function is relaxed SIMD's `f32x4.relaxed_madd` of three zero
 * vectors (assembled by binaryen's wasm-as): a browser that validates it can run the
 * relaxed build.
 */
const RELAXED_SIMD_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
];

/** The page's folder: page-HASH, the hash of its files' names and contents. */
const PAGE_DIR = /^page-[0-9a-f]{16}$/;

/**
 * The wasm features rustc's wasm32 target enabled for the page (the main module's
 * target_features section), as wasm-opt's flags: the split modules carry no such
 * section, and wasm-opt must validate them for the same features.
 */
const PAGE_FEATURES = [
  'bulk-memory', 'bulk-memory-opt', 'call-indirect-overlong', 'multivalue', 'mutable-globals',
  'nontrapping-float-to-int', 'reference-types', 'sign-ext', 'simd',
].map((feature) => `--enable-${feature}`);

const { values: args } = parseArgs({
  options: {
    page: { type: 'string' },
    worker: { type: 'string' },
    'cpu-worker': { type: 'string' },
    'relaxed-cpu-worker': { type: 'string' },
    'one-thread-worker': { type: 'string' },
    out: { type: 'string' },
    from: { type: 'string' },
  },
});
const programs = args.from ? [] : ['page', 'worker', 'cpu-worker', 'relaxed-cpu-worker', 'one-thread-worker'];
for (const name of [...programs, 'out']) {
  if (!args[name]) fail(`--${name} is required`);
}
for (const name of programs) {
  if (!existsSync(args[name])) fail(`no ${name} build at ${args[name]}: run its cargo build first`);
}
if (args.from && !existsSync(join(args.from, 'index.html'))) fail(`no site at ${args.from}: package it first`);
const publicUrl = (process.env.PUBLIC_URL || '/').replace(/\/?$/, '/');
if (!publicUrl.startsWith('/')) fail(`PUBLIC_URL must be an absolute path, not ${publicUrl}`);

const out = resolve(args.out);
const stage = `${out}.staging`;
const scratch = `${out}.bindgen`;
await rm(stage, { recursive: true, force: true });
await rm(scratch, { recursive: true, force: true });
await mkdir(stage, { recursive: true });
await mkdir(scratch, { recursive: true });

const { page, style, icon } = args.from ? await copiedSite(resolve(args.from)) : await packagedSite();
const COI = 'coi-serviceworker.js';
const withCoi = process.env.COI_SERVICEWORKER === '1';
if (withCoi) {
  await copyFile(join(ROOT, 'node_modules/coi-serviceworker/coi-serviceworker.min.js'), join(stage, COI));
}
const head = [
  // A classic script, before the app: it registers itself from its own address.
  ...(withCoi ? [`<script src="${publicUrl}${COI}"></script>`] : []),
  `<link rel="stylesheet" href="${publicUrl}${style.name}" integrity="${style.integrity}"/>`,
  `<link rel="icon" href="${publicUrl}${icon.name}" integrity="${icon.integrity}"/>`,
  `<link rel="modulepreload" href="${publicUrl}${page.js.name}" crossorigin="anonymous" integrity="${page.js.integrity}">`,
  `<link rel="preload" href="${publicUrl}${page.wasm.name}" crossorigin="anonymous" integrity="${page.wasm.integrity}" as="fetch" type="application/wasm">`,
  '<script type="module">',
  `import init from '${publicUrl}${page.js.name}';`,
  `await init({ module_or_path: '${publicUrl}${page.wasm.name}' });`,
  '</script>',
].join('\n    ');
const template = await readFile(join(ROOT, 'index.html'), 'utf8');
const MARK = '<!-- the app: scripts/package-site.mjs -->';
if (!template.includes(MARK)) fail(`index.html lacks the line ${MARK}`);
await writeFile(join(stage, 'index.html'), template.replace(MARK, head));
// GitHub Pages answers an unknown path with 404.html: the same page, so every route's
// link loads the app (which shows its not-found view where it has no page).
await writeFile(join(stage, '404.html'), template.replace(MARK, head));
await linkData();

await rm(out, { recursive: true, force: true });
await rename(stage, out);
await rm(scratch, { recursive: true, force: true });
console.log(`site written to ${out} (assets under ${publicUrl})`);

/** The programs built into the site, and the styles and icon copied under hashed names. */
async function packagedSite() {
  const [page] = await Promise.all([
    packagePage(args.page),
    packageWorker(args.worker),
    packageCpuWorker(args['cpu-worker'], args['relaxed-cpu-worker']),
    packageOneThreadWorker(args['one-thread-worker']),
  ]);
  const style = await hashedCopy(join(ROOT, 'public/style.css'));
  const icon = await hashedCopy(join(ROOT, 'public/favicon.svg'));
  // The reference sweep's run records, under their own names: the page fetches them.
  if (existsSync(join(ROOT, 'public/sweeps'))) {
    await cp(join(ROOT, 'public/sweeps'), join(stage, 'sweeps'), { recursive: true });
  }
  return { page, style, icon };
}

/** The packaged site in `from`, copied as it is (but for index.html and the data link). */
async function copiedSite(from) {
  const names = await readdir(from);
  for (const name of names.filter((n) => !['index.html', '404.html', 'data', 'coi-serviceworker.js'].includes(n))) {
    await cp(join(from, name), join(stage, name), { recursive: true });
  }
  const one = async (pattern) => {
    const name = names.find((n) => pattern.test(n));
    if (!name) fail(`${from} has no file like ${pattern}`);
    return described(join(stage, name));
  };
  const pageDir = names.find((n) => PAGE_DIR.test(n));
  if (!pageDir) fail(`${from} has no page folder like ${PAGE_DIR}`);
  return {
    page: {
      js: await described(join(stage, pageDir, 'playground.js')),
      wasm: await described(join(stage, pageDir, 'playground_bg.wasm')),
    },
    style: await one(/^style-[0-9a-f]{16}\.css$/),
    icon: await one(/^favicon-[0-9a-f]{16}\.svg$/),
  };
}

function fail(message) {
  console.error(`package-site: ${message}`);
  process.exit(1);
}

async function tool(name, argv) {
  try {
    await run(name, argv, { maxBuffer: 64 << 20 });
  } catch (e) {
    fail(`${name} ${argv.join(' ')} failed:\n${e.stderr || e.message}`);
  }
}

function digest(bytes, algorithm = 'sha384') {
  return createHash(algorithm).update(bytes).digest();
}

/** A file of the site: its path under the site's root, and its integrity hash. */
async function described(path) {
  const bytes = await readFile(path);
  return { name: relative(stage, path), integrity: `sha384-${digest(bytes).toString('base64')}` };
}

async function hashedCopy(path) {
  const bytes = await readFile(path);
  const ext = extname(path);
  const name = `${basename(path, ext)}-${digest(bytes, 'sha256').toString('hex').slice(0, 16)}${ext}`;
  await copyFile(path, join(stage, name));
  return described(join(stage, name));
}

/** The name for a program built from `wasm`: `name` and a hash of the cargo output. */
async function hashedName(name, wasm) {
  return `${name}-${digest(await readFile(wasm), 'sha256').toString('hex').slice(0, 16)}`;
}

/**
 * The page: wasm-split-cli cuts the cargo output (linked with --emit-relocs, so the
 * tool can move code between modules) into the main module and the lazily loaded ones;
 * wasm-bindgen binds the main module (keeping the linker's exports, which the split
 * modules import); every module goes through `wasm-opt -Oz`.
 */
async function packagePage(wasm) {
  const split = join(scratch, 'page-split');
  const bound = join(scratch, 'page-bound');
  const built = join(scratch, 'page');
  await tool('wasm-split-cli', [wasm, split, '--target', 'web', '--out-name', 'playground']);
  await tool('wasm-bindgen', [
    '--target=web', '--no-typescript', '--keep-lld-exports', `--out-dir=${bound}`, '--out-name=playground',
    join(split, 'playground.wasm'),
  ]);
  const extra = (await readdir(bound)).filter((f) => !['playground.js', 'playground_bg.wasm'].includes(f));
  if (extra.length) fail(`wasm-bindgen wrote files the page's packaging does not copy: ${extra.join(', ')}`);
  await mkdir(built);
  const modules = (await readdir(split)).filter((f) => /^(split|chunk)_\w+\.wasm$/.test(f));
  if (!modules.some((f) => f.startsWith('split_'))) fail(`wasm-split-cli found no split point in ${wasm}`);
  await Promise.all([
    tool('wasm-opt', ['-Oz', `--output=${join(built, 'playground_bg.wasm')}`, join(bound, 'playground_bg.wasm')]),
    ...modules.map((f) => tool('wasm-opt', ['-Oz', ...PAGE_FEATURES, `--output=${join(built, f)}`, join(split, f)])),
  ]);
  await copyFile(join(split, '__wasm_split.js'), join(built, '__wasm_split.js'));
  await copyFile(join(bound, 'playground.js'), join(built, 'playground.js'));
  const files = (await readdir(built)).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\0`).update(await readFile(join(built, f)));
  const dir = join(stage, `page-${hash.digest('hex').slice(0, 16)}`);
  await cp(built, dir, { recursive: true });
  return {
    js: await described(join(dir, 'playground.js')),
    wasm: await described(join(dir, 'playground_bg.wasm')),
  };
}

/**
 * wasm-bindgen for `target` and `wasm-opt -O1` (with `optFlags`) over `wasm`, as
 * NAME-HASH.js and NAME-HASH_bg.wasm in the site; returns the hashed name and
 * wasm-bindgen's output folder.
 */
async function packageProgram(name, wasm, target, optFlags = []) {
  const hashed = await hashedName(name, wasm);
  const dir = join(scratch, name);
  await tool('wasm-bindgen', [`--target=${target}`, '--no-typescript', `--out-dir=${dir}`, `--out-name=${hashed}`, wasm]);
  await tool('wasm-opt', ['-O1', ...optFlags, `--output=${join(stage, `${hashed}_bg.wasm`)}`, join(dir, `${hashed}_bg.wasm`)]);
  await copyFile(join(dir, `${hashed}.js`), join(stage, `${hashed}.js`));
  return { hashed, dir };
}

async function packageWorker(wasm) {
  const { hashed } = await packageProgram('train_worker', wasm, 'no-modules');
  await writeFile(
    join(stage, 'train_worker_loader.js'),
    `importScripts("./${hashed}.js");wasm_bindgen("./${hashed}_bg.wasm");`,
  );
}

/** A module worker's loader: the Rust side starts (and, threaded, starts its pool) before it says it is ready. */
async function writeModuleLoader(loader, hashed) {
  await writeFile(join(stage, loader), `import init from "./${hashed}.js";\nawait init();\n`);
}

/** The threaded CPU worker's two builds, and the loader that picks one. */
async function packageCpuWorker(wasm, relaxedWasm) {
  const [plainBuild, relaxedBuild] = await Promise.all([
    packageProgram('train_cpu', wasm, 'web', ['--enable-threads']),
    packageProgram('train_cpu_relaxed', relaxedWasm, 'web', ['--enable-threads', '--enable-relaxed-simd']),
  ]);
  // wasm-bindgen-rayon's pool worker starts the module with the positional arguments
  // wasm-bindgen has deprecated (a console warning per thread): given as one object.
  // The two builds' snippets are the same file.
  for (const { dir } of [plainBuild, relaxedBuild]) {
    const [helper] = (await readdir(join(dir, 'snippets'), { recursive: true })).filter((f) =>
      f.endsWith('workerHelpers.no-bundler.js'),
    );
    if (!helper) fail('a CPU worker has no wasm-bindgen-rayon snippet: was it built with --features threads?');
    const OLD = 'pkg.default(data.module, data.memory)';
    const source = await readFile(join(dir, 'snippets', helper), 'utf8');
    if (!source.includes(OLD)) fail(`wasm-bindgen-rayon's ${helper} no longer calls ${OLD}: check the patch`);
    await mkdir(join(stage, 'snippets', dirname(helper)), { recursive: true });
    await writeFile(
      join(stage, 'snippets', helper),
      source.replace(OLD, 'pkg.default({ module_or_path: data.module, memory: data.memory })'),
    );
  }
  // The pool's size comes from the worker's own URL (`?threads=N`).
  await writeFile(
    join(stage, 'train_cpu_loader.js'),
    [
      `const relaxed = WebAssembly.validate(new Uint8Array([${RELAXED_SIMD_PROBE}]));`,
      `const { default: init } = await import(relaxed ? "./${relaxedBuild.hashed}.js" : "./${plainBuild.hashed}.js");`,
      'await init();',
      '',
    ].join('\n'),
  );
}

async function packageOneThreadWorker(wasm) {
  const { hashed } = await packageProgram('train_cpu1', wasm, 'web');
  await writeModuleLoader('train_cpu1_loader.js', hashed);
}

async function linkData() {
  const archive = process.env.REGNET_CIFAR || join(ROOT, '../shared/data/cifar-10-binary.tar.gz');
  if (!existsSync(archive)) {
    console.log(`package-site: no CIFAR-10 archive at ${archive}; the page will offer a file picker`);
    return;
  }
  await mkdir(join(stage, 'data'));
  await symlink(await realpath(archive), join(stage, 'data/cifar-10-binary.tar.gz'));
}
