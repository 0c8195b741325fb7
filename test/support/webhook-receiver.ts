import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { waitUntil } from './timing';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with the next request: answer with a status, or never answer (a timeout). */
export type Behaviour = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface WebhookReceiver {
  url(path?: string): string;
  received: ReceivedWebhook[];
  /** Behaviours for the next requests to `path`, in order; when none is left the receiver answers 200. */
  queue(path: string, ...behaviours: Behaviour[]): void;
  /** Requests for one event id (the webhook-id header), optionally at one path only. */
  forEvent(eventId: string, path?: string): ReceivedWebhook[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every request and answers as scripted. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const behaviours = new Map<string, Behaviour[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const next = behaviours.get(req.url ?? '/')?.shift() ?? { status: 200, body: 'ok' };
      if (next === 'hang') return; // never answers; the sender's timeout ends it
      res.writeHead(next.status, { 'content-type': 'text/plain', ...next.headers });
      res.end(next.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    queue: (path, ...items) => behaviours.set(path, [...(behaviours.get(path) ?? []), ...items]),
    forEvent: (eventId, path) => received.filter((r) => r.headers['webhook-id'] === eventId && (path === undefined || r.path === path)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Polls `check` until it returns a value (not undefined; a throw counts as not yet); `timeoutMs` is
 * a quiet machine's deadline (scaled, see ./timing).
 */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'the condition'): Promise<T> {
  // Boxed, so that a check returning false or null is a value, as it was here before.
  const box = await waitUntil(async () => {
    const value = await check();
    return value === undefined ? undefined : { value };
  }, { what, timeoutMs, intervalMs: 100 });
  return box.value;
}
