/**
 * The floor of the benchmark: a passthrough proxy with no logic at all (no auth, no billing, no
 * routing), on the same stack the gateway uses for upstream calls (node:http in, undici pooled
 * keep-alive out, bodies piped). No Node.js gateway can be faster than this on this machine.
 *
 *   node dist/scripts/bench/bare-proxy.js <port> <upstream base url>
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

export function startBareProxy(port: number, upstream: string): Promise<() => Promise<void>> {
  const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
    }
    pool
      .request({ method: req.method as 'POST', path: req.url ?? '/', headers, body: req })
      .then(async (upstreamRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value !== undefined && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') out[name] = value;
        }
        res.writeHead(upstreamRes.statusCode, out);
        await pipeline(upstreamRes.body, res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve(async () => {
        await new Promise<void>((done) => server.close(() => done()));
        await pool.close();
      }),
    ),
  );
}

if (require.main === module) {
  const [port, upstream] = process.argv.slice(2);
  void startBareProxy(Number(port), upstream).then(() => process.stdout.write(`bare proxy on ${port} -> ${upstream}\n`));
}
