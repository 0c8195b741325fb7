import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { adapterFor, createUpstreamAgent, Endpoint, exchange, ProviderType, UpstreamError, UpstreamSettings } from '@app/providers';

/**
 * A tiny OpenAI-compatible server that runs one adapter against one upstream, so a test can read
 * the adapter's translation with the official `openai` SDK (a shape error then shows up as an SDK
 * error). Errors before the first byte become the OpenAI error object with its status; a failure
 * mid-stream becomes an error event, as the proxy does.
 */
export interface AdapterServer {
  baseUrl: string;
  close(): Promise<void>;
}

const ROUTES: Record<string, Endpoint> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions', '/v1/embeddings': 'embeddings' };

export async function startAdapterServer(options: {
  provider: ProviderType;
  upstreamBaseUrl: string;
  apiKey: string;
  upstreamModel?: string;
  /** The channel's provider settings (Azure's api-version, Bedrock's region, Vertex's project and location, a preset). */
  settings?: UpstreamSettings;
  firstByteMs?: number;
  totalMs?: number;
}): Promise<AdapterServer> {
  const adapter = adapterFor(options.provider);
  const agent: Agent = createUpstreamAgent({ connectTimeoutMs: 1000, allowPrivateNetworks: true });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const endpoint = ROUTES[new URL(req.url ?? '/', 'http://x').pathname];
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        const stream = body.stream === true;
        const wantsUsage = Boolean((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage);
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        try {
          const result = await exchange({
            adapter,
            dispatcher: agent,
            endpoint,
            body,
            target: { baseUrl: options.upstreamBaseUrl, apiKey: options.apiKey, upstreamModel: options.upstreamModel ?? String(body.model), settings: options.settings },
            publicModel: String(body.model),
            stream,
            includeUsage: true,
            firstByteMs: options.firstByteMs ?? 2000,
            totalMs: options.totalMs ?? 5000,
            signal: abort.signal,
            allowPrivateNetworks: true,
          });
          if (result.kind === 'json') {
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end(JSON.stringify(result.parsed.body));
          }
          if (result.kind === 'bytes') throw new Error('speech is not served here');
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const write = (events: typeof result.first) => {
            for (const e of events) if (!e.usageOnly || wantsUsage) res.write(e.raw);
          };
          write(result.first);
          try {
            for await (const events of result.rest) write(events);
          } catch (error) {
            const body = error instanceof UpstreamError ? error.body : { error: { message: 'internal error', type: 'api_error', param: null, code: null } };
            res.write(`data: ${JSON.stringify(body)}\n\n`);
          }
          res.end();
        } catch (error) {
          if (!(error instanceof UpstreamError)) throw error;
          res.writeHead(error.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(error.body));
        }
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error), type: 'api_error', param: null, code: 'test_server_bug' } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.close();
    },
  };
}
