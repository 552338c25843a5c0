#!/usr/bin/env node
// `npm run web [-- --port P]`: build the page and serve it on http://127.0.0.1:P/ (default 8417). Also used by
// the browser tests, which mount a folder of their own files under /files/. Every response allows CORS, so the
// page's `?weights=URL&image=URL` may point at this server or another.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb } from './build.mjs';

export const DEFAULT_PORT = 8417;
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
};

/** A file under `root` for a URL path, or null (never outside `root`). */
function fileUnder(root, urlPath) {
  const path = normalize(join(root, decodeURIComponent(urlPath)));
  if (path !== root && !path.startsWith(root + sep)) return null;
  if (existsSync(path) && statSync(path).isDirectory()) return fileUnder(root, `${urlPath}/index.html`);
  return existsSync(path) ? path : null;
}

/**
 * Serve `root` at / and each `mounts` entry ({ '/files/': dir }) on 127.0.0.1:`port` (0: any free port).
 * Resolves to { url, close }.
 */
export function serveStatic({ root, mounts = {}, port = DEFAULT_PORT }) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let base = resolve(root);
    let rest = url.pathname;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (rest.startsWith(prefix)) {
        base = resolve(dir);
        rest = rest.slice(prefix.length - 1);
      }
    }
    const file = fileUnder(base, rest);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-store');
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(file ? 405 : 404, { 'content-type': 'text/plain' }).end(file ? 'method not allowed' : 'not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      ok({
        url: `http://127.0.0.1:${address.port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i >= 0 ? Number(process.argv[i + 1]) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port needs a port number (0-65535), got '${process.argv[i + 1]}'`);
    process.exit(2);
  }
  const root = await buildWeb();
  const { url } = await serveStatic({ root, port });
  console.log(`TernausNet web page: ${url}`);
  console.log(`unattended: ${url}?weights=URL&image=URL[&tile=N]   (Ctrl-C stops)`);
}
