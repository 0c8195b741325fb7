import Anthropic from '@anthropic-ai/sdk';
import { Agent, fetch as undiciFetch } from 'undici';
import { loopbackLookup } from './openai-client';

/**
 * The official `@anthropic-ai/sdk`, unchanged, pointed at the gateway as Claude Code is (base URL
 * `http://<tenant domain>:<api port>`, the key as `x-api-key`, or as a bearer token with
 * `authToken`). The tenant's domain resolves to 127.0.0.1 (see openai-client.ts).
 */
export interface AnthropicGatewayClient {
  client: Anthropic;
  /** Requests the SDK sent (retries included), in order. */
  sent: Array<{ method: string; url: string; headers: Record<string, string> }>;
  close(): Promise<void>;
}

export function anthropicClient(
  baseUrl: string,
  domain: string,
  apiKey: string,
  options: { maxRetries?: number; bearer?: boolean; defaultHeaders?: Record<string, string> } = {},
): AnthropicGatewayClient {
  const port = new URL(baseUrl).port;
  const dispatcher = new Agent({ connect: { lookup: loopbackLookup as never } });
  const sent: AnthropicGatewayClient['sent'] = [];
  const client = new Anthropic({
    apiKey: options.bearer ? null : apiKey,
    authToken: options.bearer ? apiKey : null,
    baseURL: `http://${domain}:${port}`,
    maxRetries: options.maxRetries ?? 0,
    timeout: 30_000,
    defaultHeaders: options.defaultHeaders,
    fetch: ((url: string | URL, init?: RequestInit) => {
      sent.push({ method: init?.method ?? 'GET', url: String(url), headers: Object.fromEntries(new Headers(init?.headers).entries()) });
      return undiciFetch(url, { ...(init as object), dispatcher } as never);
    }) as never,
  });
  return { client, sent, close: () => dispatcher.close() };
}
