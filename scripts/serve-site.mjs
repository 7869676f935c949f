// A static server for the built site (scripts/serve, and the browser tests and
// benchmarks through tests/e2e/harness.mjs): unknown paths get index.html, so the
// app's client-side routes (and its not-found page) load from any link. Every answer
// carries the cross-origin isolation headers (COOP same-origin, COEP require-corp),
// which the threaded CPU worker's shared memory needs; NOT_ISOLATED=1 leaves them out.
// Files named by a content hash (scripts/package-site.mjs) may be cached for good; every
// other file is revalidated (its ETag and Last-Modified), so a reload fetches only what
// changed, as a static host such as GitHub Pages does.
//
//   node scripts/serve-site.mjs [DIR] [PORT] [BASE]   (defaults: dist 8080, the root;
//   127.0.0.1 only; BASE "/repo" for a site packaged with PUBLIC_URL=/repo/)
import { createServer } from 'node:http';
import { stat } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.gz': 'application/gzip',
  '.jsonl': 'application/x-ndjson',
};

/**
 * A file named by its content hash (NAME-HASH.js, NAME-HASH_bg.wasm, ...), or any file
 * in the page's folder, which is named by the hash of its files (page-HASH/...).
 */
const HASHED = /(-[0-9a-f]{16}(_bg)?\.[a-z]+|\/page-[0-9a-f]{16}\/[^/]+)$/;

/** Where the page looks for the CIFAR-10 archive, under the site's base. */
export const ARCHIVE_PATH = '/data/cifar-10-binary.tar.gz';

/**
 * Serves `dir` on 127.0.0.1 (`port` 0: any free one).
 * `archive`: undefined serves whatever `dir` holds at ARCHIVE_PATH (the link the build
 * made); a Buffer is served there instead, and null makes that path a 404, so a test
 * decides what data the page finds.
 * `base` ("/sub") serves the site under that sub-path instead of the root (a site
 * packaged with `PUBLIC_URL=/sub/`, whose asset links point there).
 * `isolated` false leaves out the cross-origin isolation headers (the page then
 * trains on one CPU thread, and says so).
 * Returns `url`, the site's address (the base included), `origin`, `close`, and
 * `requests`: every answer so far as {path, status}, for tests of what a reload fetches.
 */
export async function serveSite(dir, { port = 0, archive, base = '', isolated = true } = {}) {
  const requests = [];
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`${dir}/index.html is missing: build the app first (scripts/build)`);
  }
  const server = createServer(async (req, res) => {
    res.on('finish', () => requests.push({ path: new URL(req.url, 'http://x').pathname, status: res.statusCode }));
    if (isolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    const full = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    if (!full.startsWith(`${base}/`)) {
      res.writeHead(404).end();
      return;
    }
    const path = full.slice(base.length);
    if (path === ARCHIVE_PATH && archive !== undefined) {
      if (!archive) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES['.gz'], 'content-length': archive.length });
      res.end(req.method === 'HEAD' ? undefined : archive);
      return;
    }
    let file = join(dir, path);
    let stats = await stat(file).catch(() => null);
    if (!stats?.isFile()) {
      if (path.startsWith('/data/')) {
        res.writeHead(404).end();
        return;
      }
      file = join(dir, 'index.html');
      stats = await stat(file);
    }
    const etag = `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
    const headers = {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      'last-modified': stats.mtime.toUTCString(),
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
    } else {
      createReadStream(file).pipe(res);
    }
  });
  await new Promise((ok, err) => server.once('error', err).listen(port, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { url: `${origin}${base}`, origin, close: () => server.close(), requests };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir = 'dist', port = '8080', base = ''] = process.argv.slice(2);
  const isolated = process.env.NOT_ISOLATED !== '1';
  const { url } = await serveSite(resolve(dir), { port: Number(port), base: base.replace(/\/$/, ''), isolated });
  console.log(`serving ${dir} at ${url}${isolated ? '' : ' without cross-origin isolation'} (Ctrl-C stops it)`);
}
