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
  const client = new OpenAI({
    apiKey,
    baseURL: `http://${domain}:${port}/v1`,
    maxRetries: options.maxRetries,
    timeout: scaled(options.timeoutMs ?? 30_000),
    fetch: ((url: string | URL, init?: RequestInit) => {
      sent.push({ method: init?.method ?? 'GET', url: String(url) });
      return undiciFetch(url, { ...(init as object), dispatcher } as never);
    }) as never,
  });
  return { client, sent, close: () => dispatcher.close() };
}
