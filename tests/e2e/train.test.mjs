// End-to-end: training in the browser (the real release build, the real worker, Burn
// on WebGPU through SwiftShader or on the CPU), with a small CIFAR-format archive
// served by the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, newPage, openApp, cifarArchive, watchLongTasks, fillRecipe } from './harness.mjs';

const TINY = '?d=2&w0=8&wa=8&wm=2&g=8&b=1&q=8&se=0&data=cifar10';
const archive = cifarArchive(100);

let withData;
let withoutData;
before(async () => {
  withData = await serve(undefined, { archive });
  withoutData = await serve();
});
after(() => {
  withData?.close();
  withoutData?.close();
});

function setRecipe(page, { train = 200, test = 100, epochs = 2, batch = 20, lr = 0.1 } = {}) {
  return fillRecipe(page, { 'train-images': train, 'test-images': test, epochs, batch, lr });
}

const progressValue = (page) => page.getByTestId('train-progress').evaluate((p) => p.value);

/** Keeps every GPUDevice the worker creates, so the test can lose one mid-run. */
async function recordDevices(worker) {
  await worker.evaluate(() => {
    const requestDevice = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (descriptor) {
      const device = await requestDevice.call(this, descriptor);
      (self.devices ??= []).push(device);
      return device;
    };
  });
}

test('trains a tiny model on WebGPU; a device lost mid-run moves to the CPU and keeps the curves', async () => {
  // Burn's wgpu backend on WebGPU, here Chromium's SwiftShader (CPU) adapter: the same
  // kernels a laptop GPU runs, compiled and validated by the same browser.
  const browser = await launch(['--enable-unsafe-webgpu']);
  try {
    const page = await newPage(browser);
    const worker = page.waitForEvent('worker');
    await openApp(page, withData.url, TINY);
    await recordDevices(await worker);
    await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
    await setRecipe(page);
    await page.getByTestId('train-start').click();
    await page.getByTestId('data-ready').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('data-ready').textContent(), /500 training and 100 test images/);
    await page.getByTestId('train-backend-used').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('train-backend-used').textContent(), /WebGPU/, 'WebGPU is tried first');
    // The first steps compile every kernel: CubeCL's compiler runs in the worker's wasm
    // and SwiftShader compiles and runs the result, both on this machine's two cores
    // (BENCHMARKS.md, "Training in the browser"), so they take minutes here.
    await page.waitForFunction(() => document.querySelector('[data-testid=train-progress]')?.value >= 3, null, { timeout: 1_200_000 });
    // Long tasks are watched from the third step on, while steps run: before it the
    // worker starts and SwiftShader compiles kernels on both of this machine's cores.
    await watchLongTasks(page);
    await page.getByTestId('train-result').waitFor({ timeout: 900_000 });
    assert.equal(await page.getByTestId('gpu-failed').count(), 0, 'every kernel validated and ran');
    assert.match(await page.getByTestId('train-backend-used').textContent(), /WebGPU/);
    assert.equal(await progressValue(page), 20, 'all 20 steps ran');
    const status = await page.getByTestId('train-status').textContent();
    const loss = Number(/loss ([\d.]+)/.exec(status)?.[1]);
    assert.ok(Number.isFinite(loss) && loss > 0 && loss < 10, `finite loss in "${status}"`);
    const error = Number(/Final test error ([\d.]+)%/.exec(await page.getByTestId('train-result').textContent())?.[1]);
    assert.ok(error >= 0 && error <= 100, 'a test error in percent');
    assert.equal(await page.getByTestId('error-curve').locator('circle').count(), 2, 'one test error per epoch');
    assert.ok((await page.getByTestId('loss-curve').locator('path.live').getAttribute('d')).split('L').length >= 20);
    const long = await page.evaluate(() => window.__long);
    assert.ok(Math.max(0, ...long) < 100, `no main-thread task over 100 ms while training: ${long}`);
    assert.deepEqual(page.errors, []);

    // A second run loses its GPU device at step 3 (as when a driver resets): the page
    // says so, keeps both runs' curves and finishes the run on the CPU.
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=train-progress]')?.value >= 3, null, { timeout: 300_000 });
    const lost = await (await worker).evaluate(() => {
      for (const device of self.devices ?? []) device.destroy();
      return (self.devices ?? []).length;
    });
    assert.equal(lost, 1, 'the run had one GPU device');
    await page.getByTestId('gpu-failed').waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId('gpu-failed').textContent(), /WebGPU failed in this browser \(the GPU stopped answering \(.+\); the device may have been lost\), so this tab trains on the CPU/);
    assert.match(await page.getByTestId('loss-curve').locator('path.previous').getAttribute('d'), /^M[\d.]+,[\d.]+L/, 'the lost run\'s curve is kept');
    // The kept curve is named as the failed WebGPU run once the CPU rerun starts.
    await page.waitForFunction(() => /^previous run: d=2 .* \(WebGPU, failed\)$/.test(document.querySelector('.key.previous')?.textContent ?? ''), null, { timeout: 120_000 });
    await page.getByTestId('train-result').waitFor({ timeout: 300_000 });
    assert.match(await page.getByTestId('train-backend-used').textContent(), /CPU/);
    assert.equal(await progressValue(page), 20, 'the CPU rerun ran all 20 steps');
  } finally {
    await browser.close();
  }
});

test('a WebGPU worker that gets no GPU device hands the run to a CPU worker, which trains it', async () => {
  // The page finds an adapter, so the run goes to the WebGPU worker, which has no CPU
  // backend; there the device is refused (as a blocklisted or exhausted GPU would).
  const browser = await launch(['--enable-unsafe-webgpu']);
  try {
    const page = await newPage(browser);
    const worker = page.waitForEvent('worker');
    await openApp(page, withData.url, TINY);
    await (await worker).evaluate(() => {
      GPUAdapter.prototype.requestDevice = () => Promise.reject(new Error('no device in this test'));
    });
    await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
    await setRecipe(page, { epochs: 1 });
    await page.getByTestId('train-start').click();
    await page.getByTestId('gpu-failed').waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId('gpu-failed').textContent(), /WebGPU failed in this browser \(it gave no usable GPU: .*no device in this test.*\), so this tab trains on the CPU/);
    await page.getByTestId('train-result').waitFor({ timeout: 300_000 });
    assert.match(await page.getByTestId('train-backend-used').textContent(), /CPU \(Burn flex/);
    assert.equal(await progressValue(page), 10, 'the CPU worker ran all 10 steps');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('our GPU layers train as Burn\'s do on WebGPU: the same loss at every step', async () => {
  // The same seeded run twice in one WebGPU worker on SwiftShader: Burn's own layers,
  // then ours everywhere (our batch norm and squeeze-excitation forward and backward,
  // in both layouts, our 3x3 convolutions and our 1x1 layers' tiled matrix products,
  // compiled by CubeCL to WGSL and validated by Chromium), on the tiny model with SE
  // (a RegNetY). The first WebGPU test runs the default layers (ours where measured
  // faster).
  const browser = await launch(['--enable-unsafe-webgpu']);
  try {
    const page = await newPage(browser);
    await recordWorkerMessages(page);
    await openApp(page, withData.url, `${TINY.replace('se=0', 'se=0.25')}&layers=burn&seed=5`);
    assert.equal(await page.getByTestId('train-layers').inputValue(), 'burn', 'the link sets the layers');
    await page.getByText(/server has the CIFAR-10 archive/).waitFor({ timeout: 60_000 });
    await setRecipe(page, { train: 100, epochs: 1 });
    // The choice is folded under "advanced".
    await page.getByTestId('train-advanced').locator('summary').click();
    for (const [i, layers] of ['burn', 'ours'].entries()) {
      await page.getByTestId('train-layers').selectOption(layers);
      assert.match(page.url(), new RegExp(`&layers=${layers}&`), 'the link keeps the layers');
      await page.getByTestId('train-start').click();
      await page.waitForFunction(
        (n) => window.__received.filter((m) => m.type === 'Run' && ['Finished', 'Failed'].includes(m.event.type)).length >= n,
        i + 1,
        { timeout: 1_200_000 },
      );
    }
    const sent = await page.evaluate(() => window.__sent.filter((m) => m.type === 'Start'));
    const crashed = await page.evaluate(() => window.__received.filter((m) => m.type === 'Crashed'));
    // A run that fails on WebGPU is started again on the CPU: then there are more Starts.
    assert.deepEqual(sent.map((m) => m.spec.layers), ['burn', 'ours'], `each Start carries its layers, and each ran on WebGPU: ${JSON.stringify(crashed)}`);
    const received = await page.evaluate(() => window.__received.filter((m) => m.type === 'Run'));
    const runs = sent.map((m) => received.filter((r) => r.run === m.spec.id).map((r) => r.event));
    for (const events of runs) {
      assert.deepEqual(events.filter((e) => e.type === 'Backend').map((e) => e.gpu), [true], 'trained on WebGPU');
      assert.equal(events.at(-1).type, 'Finished', JSON.stringify(events.at(-1)));
    }
    const [burn, ours] = runs.map((events) => events.filter((e) => e.type === 'Step').map((e) => e.loss));
    assert.equal(burn.length, 5, 'five steps of 20 images');
    assert.equal(ours.length, 5);
    burn.forEach((b, k) => {
      const o = ours[k];
      assert.ok(Number.isFinite(b) && Math.abs(o - b) <= 1e-3 * Math.max(1, Math.abs(b)), `step ${k + 1}: ours ${o}, Burn's ${b}`);
    });
    assert.equal(await page.getByTestId('gpu-failed').count(), 0, 'every kernel validated and ran');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

/** Keeps every message between the page and its worker (`window.__sent`, `__received`). */
async function recordWorkerMessages(page) {
  await page.addInitScript(() => {
    const Native = window.Worker;
    window.__sent = [];
    window.__received = [];
    window.Worker = function (...args) {
      const worker = new Native(...args);
      window.__worker = worker;
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message, ...rest) => {
        if (typeof message === 'string') window.__sent.push(JSON.parse(message));
        return post(message, ...rest);
      };
      worker.addEventListener('message', (e) => {
        if (typeof e.data === 'string') window.__received.push(JSON.parse(e.data));
      });
      return worker;
    };
  });
}

test('without WebGPU the CPU fallback says so and trains; a second Start gets Busy; Cancel keeps the curves', async () => {
  const browser = await launch();
  try {
    const page = await newPage(browser);
    await recordWorkerMessages(page);
    await openApp(page, withData.url, TINY);
    await setRecipe(page, { epochs: 5 });
    await page.getByTestId('train-start').click();
    await page.getByTestId('cpu-fallback').waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId('cpu-fallback').textContent(), /CPU/);
    assert.match(await page.getByTestId('train-backend-used').textContent(), /CPU/);
    await page.waitForFunction(() => document.querySelector('[data-testid=train-progress]')?.value >= 2, null, { timeout: 120_000 });
    // A Start while a run holds the worker is answered, not dropped, and the run goes on.
    const start = await page.evaluate(() => window.__sent.find((m) => m.type === 'Start'));
    assert.ok(start.spec.id > 1 && start.spec.recipe.epochs === 5, JSON.stringify(start.spec.recipe));
    await page.evaluate((spec) => window.__worker.postMessage(JSON.stringify({ type: 'Start', spec: { ...spec, id: 1 } })), start.spec);
    await page.waitForFunction(() => window.__received.some((m) => m.type === 'Run' && m.run === 1), null, { timeout: 60_000 });
    const received = await page.evaluate(() => window.__received);
    assert.deepEqual(received.find((m) => m.run === 1).event, { type: 'Busy', running: start.spec.id });
    const runs = new Set(received.filter((m) => m.type === 'Run' && m.run !== 1).map((m) => m.run));
    assert.deepEqual([...runs], [start.spec.id], 'every run event names the page\'s run');
    assert.equal(await page.getByTestId('train-error').count(), 0, 'the page ignores news of another run');
    await page.getByTestId('train-cancel').click();
    await page.getByText('Cancelled; the curves so far are kept.').waitFor({ timeout: 60_000 });
    const steps = await progressValue(page);
    assert.ok(steps >= 2 && steps < 50, `stopped early, at step ${steps}`);
    assert.match(await page.getByTestId('loss-curve').locator('path.live').getAttribute('d'), /^M[\d.]+,[\d.]+L/);
    assert.equal(await page.getByTestId('train-start').isEnabled(), true, 'a new run can start');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('no archive on the server: the page says where to get it and takes a picked file', async () => {
  const browser = await launch();
  try {
    const page = await newPage(browser);
    await openApp(page, withoutData.url, TINY);
    await page.getByTestId('data-missing').waitFor({ timeout: 60_000 });
    assert.equal(
      await page.getByTestId('data-missing').locator('a').getAttribute('href'),
      'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    );
    const input = page.getByTestId('data-file');
    await input.setInputFiles({ name: 'notes.tar.gz', mimeType: 'application/gzip', buffer: Buffer.from('not an archive') });
    await page.getByTestId('data-invalid').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('data-invalid').textContent(), /gzip/);
    await input.setInputFiles({ name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: archive });
    await page.getByTestId('data-ready').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('data-ready').textContent(), /500 training and 100 test images \(from cifar-10-binary.tar.gz\)/);
    // Kept in the browser (the page says so once the cache has it): a reload finds it
    // without the server.
    await page.getByTestId('data-cache-note').getByText('Kept in this browser for the next visit.').waitFor({ timeout: 60_000 });
    await page.reload();
    await page.getByText(/stored in this browser/).waitFor({ timeout: 60_000 });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('a model too big for memory is refused before anything is allocated', async () => {
  const browser = await launch();
  try {
    const page = await newPage(browser);
    // The pycls CIFAR RegNetY-125MF (cifar_best): about 1.7 GB at batch 128.
    await openApp(page, withoutData.url, '?d=12&w0=96&wa=19.5&wm=2.942&g=8&b=1&q=8&se=1&data=cifar10');
    await setRecipe(page, { batch: 1024 });
    const estimate = page.getByTestId('memory-estimate');
    assert.match(await estimate.textContent(), /Too big to train here: .* try a batch of \d+ or less/);
    assert.equal(await page.getByTestId('train-start').isDisabled(), true);
    const fits = Number(/batch of (\d+)/.exec(await estimate.textContent())[1]);
    await setRecipe(page, { batch: fits });
    assert.match(await estimate.textContent(), /Needs about [\d.]+ GB/);
    // Enabled once the worker is up.
    await page.waitForFunction(() => !document.querySelector('[data-testid=train-start]').disabled, null, { timeout: 60_000 });
    // Far too wide for any batch: the message says to shrink the model instead.
    await page.getByTestId('param-w0-number').fill('512');
    await page.getByTestId('param-w0-number').dispatchEvent('change');
    await page.getByTestId('param-d-number').fill('64');
    await page.getByTestId('param-d-number').dispatchEvent('change');
    await page.waitForFunction(() => /pick a smaller model/.test(document.querySelector('[data-testid=memory-estimate]').textContent));
    assert.equal(await page.getByTestId('train-start').isDisabled(), true);
    // The recipe lives in the URL with the model: a link carries it, and a value out of
    // range is clamped with a notice, like a slider's.
    assert.match(page.url(), new RegExp(`batch=${fits}&`));
    await openApp(page, withoutData.url, `${TINY}&epochs=3&batch=5000&backend=cpu`);
    assert.equal(await page.getByTestId('train-epochs').inputValue(), '3');
    assert.equal(await page.getByTestId('train-batch').inputValue(), '1024');
    assert.equal(await page.getByTestId('train-backend').inputValue(), 'cpu');
    await page.getByText('batch: 5000 is above the maximum 1024, so 1024 is used.').waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
