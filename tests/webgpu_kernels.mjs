// Our GPU kernels, as WebGPU shaders, through headless Chromium's validation: on a device
// without the `subgroups` feature and on one with it. Every WGSL source of ours in LOG is
// made a shader module (Tint's checks, uniformity analysis included: a barrier in
// non-uniform control flow is an error) and a compute pipeline with an automatic layout
// (WebGPU's default limits: 8 storage buffers per stage, 16 KiB of workgroup memory).
//
//   node tests/webgpu_kernels.mjs LOG
//
// LOG is CubeCL's compilation log of a native run of the GPU kernels' tests (Burn's wgpu
// backend compiles them to WGSL there too): `CUBECL_DEBUG_LOG=LOG cargo test --features
// gpu --lib gpu`, as scripts/test runs it. The browser's worker compiles the same kernels
// with the same compiler, and the source is the browser's where it depends on nothing
// the native adapter has and a browser has not: ours use no subgroup operations, and no
// 64-bit integers (CubeCL's `FastDivmod` would bring them natively, so ours divide
// plainly), which this script checks first. Exits 1, naming the kernel, on any error or
// missing kernel.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { launch } from './e2e/harness.mjs';

// Every kernel of ours (the last part of its Rust path): each must be in the log.
const OURS = [
  'ForwardKernel', 'GradXKernel', 'GradWKernel', 'SumChunksKernel', 'GemmKernel',
  'BnForwardKernel', 'BnBackwardKernel', 'BnPackKernel', 'BnRunningKernel',
  'BnSumsKernel', 'BnApplyKernel', 'BnGradSumsKernel', 'BnGradApplyKernel',
  'SeGateKernel', 'SeScaleKernel', 'SeBackwardKernel', 'SeWeightsKernel',
];

const [log] = process.argv.slice(2);
if (!log) {
  console.error('usage: node tests/webgpu_kernels.mjs LOG (CubeCL compilation log of the gpu tests)');
  process.exit(2);
}

// "[START_KERNEL_COMPILATION]\nname: path::Kernel ... source:\n```wgsl\n...\n```".
const BLOCK = /\[START_KERNEL_COMPILATION\]\nname: (\S+)[\s\S]*?```wgsl\n([\s\S]*?)```/g;
const kernels = new Map();
for (const [, path, source] of readFileSync(log, 'utf8').matchAll(BLOCK)) {
  if (!path.startsWith('regnet_playground::')) continue;
  const name = path.split('::').pop();
  kernels.set(source, name);
}
const wide = [...kernels].filter(([source]) => /\b[ui]64\b/.test(source)).map(([, name]) => name);
if (wide.length) {
  console.error(`${log}: 64-bit integers, which no browser's WGSL has, in ${[...new Set(wide)].join(', ')}`);
  process.exit(1);
}
const found = new Set(kernels.values());
const missing = OURS.filter((k) => !found.has(k));
const unknown = [...found].filter((k) => !OURS.includes(k));
if (missing.length || unknown.length) {
  console.error(`${log}: kernels missing ${JSON.stringify(missing)}, not listed here ${JSON.stringify(unknown)}`);
  process.exit(1);
}

// WebGPU needs a secure context: an empty page from localhost.
const server = createServer((_, res) => res.end('<!doctype html><title>kernels</title>'));
await new Promise((done) => server.listen(0, '127.0.0.1', done));
const browser = await launch(['--enable-unsafe-webgpu']);
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);
const shaders = [...kernels].map(([source, name]) => ({ name, source }));
const results = await page.evaluate(async (shaders) => {
  const out = [];
  for (const features of [[], ['subgroups']]) {
    // An adapter makes one device.
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return { error: 'no WebGPU adapter' };
    if (!features.every((f) => adapter.features.has(f))) return { error: `the adapter lacks ${features}` };
    const device = await adapter.requestDevice({ requiredFeatures: features });
    for (const { name, source } of shaders) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: source });
      const info = await module.getCompilationInfo();
      const problems = info.messages
        .filter((m) => m.type !== 'info')
        .map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
      try {
        await device.createComputePipelineAsync({ layout: 'auto', compute: { module } });
      } catch (e) {
        problems.push(`pipeline: ${e.message}`);
      }
      const scope = await device.popErrorScope();
      if (scope) problems.push(`validation: ${scope.message}`);
      out.push({ name, features: features.join(',') || 'none', problems });
    }
    device.destroy();
  }
  return { out };
}, shaders);
await browser.close();
server.close();

if (results.error) {
  console.error(`Chromium's WebGPU: ${results.error}`);
  process.exit(1);
}
const bad = results.out.filter((r) => r.problems.length);
for (const r of bad) console.error(`${r.name} (features: ${r.features}):\n  ${r.problems.join('\n  ')}`);
console.log(
  `${shaders.length} WGSL shaders of our ${OURS.length} kernels checked in Chromium, without and with subgroups: ` +
    (bad.length ? `${bad.length} failed` : 'all valid'),
);
process.exit(bad.length ? 1 : 0);
