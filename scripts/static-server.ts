// The small HTTP server the browser benchmarks open their pages from: localhost, a free port,
// GET only, files chosen by the caller, never cached.
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface StaticServerOptions {
  /**
   * Cross-origin isolated (COOP same-origin, COEP require-corp): the page's performance.now()
   * then ticks in 5 µs steps instead of 100 µs.
   */
  isolated?: boolean;
}

/**
 * Serves on 127.0.0.1 (a free port) the file `fileFor` names for each GET path; 404 when it
 * names none.
 */
export function startStaticServer(
  fileFor: (pathname: string) => string | null | Promise<string | null>,
  options: StaticServerOptions = {},
): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const file = req.method === 'GET' ? await fileFor(url.pathname) : null;
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${req.method} ${url.pathname}`);
        return;
      }
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        ...(options.isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
      });
      createReadStream(file)
        .on('error', (e) => res.destroy(e))
        .pipe(res);
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (!addr || typeof addr === 'string') return reject(new Error(`static server: unexpected address ${String(addr)}`));
      resolve({ server, origin: `http://127.0.0.1:${addr.port}` });
    });
  });
}
