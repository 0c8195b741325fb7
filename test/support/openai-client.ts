import type { LookupAddress, LookupOneOptions } from 'node:dns';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { scaled } from './timing';

/**
 * The official `openai` SDK pointed at the gateway as a tenant's customer would point it: base URL
 * `http://<tenant domain>:<api port>/v1`. fetch cannot set the Host header, so the domain is
 * resolved to 127.0.0.1 by the dispatcher's own DNS lookup instead; the request then carries the
 * tenant's domain as Host, exactly as in production.
 */
export interface GatewayClient {
  client: OpenAI;
  /** Requests the SDK sent (retries included), in order. */
  sent: Array<{ method: string; url: string }>;
  close(): Promise<void>;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `connect.lookup` that answers 127.0.0.1 for any name, in both of Node's callback forms. */
export function loopbackLookup(_hostname: string, options: LookupOneOptions | { all?: boolean } | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback)!;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
  if (all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

export function gatewayClient(baseUrl: string, domain: string, apiKey: string, options: { maxRetries?: number; timeoutMs?: number } = {}): GatewayClient {
  const port = new URL(baseUrl).port;
  const dispatcher = new Agent({ connect: { lookup: loopbackLookup as never }, connections: 512 });
  const sent: GatewayClient['sent'] = [];
  async function gatewayFetch(url: string | URL, init?: RequestInit) {
    sent.push({ method: init?.method ?? 'GET', url: String(url) });
    // The SDK builds uploads (audio files) with Node's global FormData, which this undici's fetch
    // does not know: they go as the multipart bytes Node's own Response makes of them.
    if (init?.body instanceof FormData) {
      const encoded = new Response(init.body);
      const headers = new Headers(init.headers);
      headers.set('content-type', encoded.headers.get('content-type')!);
      init = { ...init, headers, body: Buffer.from(await encoded.arrayBuffer()) };
    }
    return undiciFetch(url, { ...(init as object), dispatcher } as never);
  }
  // The SDK asks a fetch's Response whether it can send the global FormData (it can, as above).
  (gatewayFetch as unknown as { Response: typeof Response }).Response = Response;
  const client = new OpenAI({
    apiKey,
    baseURL: `http://${domain}:${port}/v1`,
    maxRetries: options.maxRetries,
    timeout: scaled(options.timeoutMs ?? 30_000),
    fetch: gatewayFetch as never,
  });
  return { client, sent, close: () => dispatcher.close() };
}
