import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { retryDelayMs } from './webhook-jobs';
import { createWebhookAgent, sendWebhook, SenderOptions, snippetOf } from './webhook-sender';

describe('webhook sender', () => {
  let server: Server;
  let base: string;
  const options: SenderOptions = { allowPrivateNetworks: true, timeoutMs: 2000, responseLimitBytes: 64 * 1024 };
  const agent = createWebhookAgent(options);

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/huge') {
        // Far more than the limit, never ending on its own: the sender must stop reading.
        res.writeHead(200);
        const chunk = Buffer.alloc(16 * 1024, 'a');
        const pump = () => {
          while (res.write(chunk));
        };
        res.on('drain', pump);
        pump();
        return;
      }
      if (req.url === '/binary') {
        res.writeHead(500);
        res.end(Buffer.from([0x61, 0x00, 0x62, 0xff]));
        return;
      }
      res.writeHead(204);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads at most the response limit and keeps a 1 KiB snippet', async () => {
    const result = await sendWebhook(agent, `${base}/huge`, {}, '{}', options);
    expect(result).toMatchObject({ succeeded: true, statusCode: 200, error: null });
    expect(result.snippet).toHaveLength(1024);
  });

  it('stores binary answers as text PostgreSQL accepts', async () => {
    const result = await sendWebhook(agent, `${base}/binary`, {}, '{}', options);
    expect(result).toMatchObject({ succeeded: false, statusCode: 500, error: 'http_error', final: false });
    expect(result.snippet).not.toContain('\u0000');
    expect(snippetOf(Buffer.alloc(0))).toBeNull();
  });

  it('refuses literal private addresses without connecting unless allowed', async () => {
    const strict = { ...options, allowPrivateNetworks: false };
    const result = await sendWebhook(agent, `${base}/`, {}, '{}', strict);
    expect(result).toMatchObject({ succeeded: false, error: 'blocked_address', final: true, statusCode: null });
    expect((await sendWebhook(agent, `${base}/`, {}, '{}', options)).succeeded).toBe(true);
  });

  it('reports a refused connection as retryable', async () => {
    const result = await sendWebhook(agent, 'http://127.0.0.1:9/', {}, '{}', options);
    expect(result).toMatchObject({ succeeded: false, error: 'connection_refused', final: false });
  });

  it('spreads the default 12 attempts over about 17 hours', () => {
    const total = Array.from({ length: 11 }, (_, i) => retryDelayMs(30_000, i + 1)).reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeCloseTo(17.06, 1);
  });
});
