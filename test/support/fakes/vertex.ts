import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { FakeUpstream, startFakeServer, streamEvents } from '../../../scripts/fake-upstream';
import { ANTHROPIC_TEXT, ANTHROPIC_USAGE } from './anthropic';
import { GEMINI_TEXT, GEMINI_USAGE } from './gemini';

/**
 * Google Vertex AI and Google's OAuth token endpoint in one fake. `POST /token` takes a
 * service-account JWT grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`), checks the
 * RS256 assertion against the public half of the key it was given (issuer, audience, scope,
 * expiry) and issues an access token with the fake's `tokenTtlSeconds`. The API answers only to
 * `Authorization: Bearer <a token it issued>`: Gemini's bodies at
 * `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent` (and
 * `:streamGenerateContent?alt=sse`), Anthropic's at `.../publishers/anthropic/models/{m}:rawPredict`
 * (and `:streamRawPredict`, Anthropic's SSE), with `anthropic_version: vertex-2023-10-16`.
 */
export interface FakeVertex extends FakeUpstream {
  /** Tokens issued so far. */
  minted: number;
  tokenTtlSeconds: number;
}

export interface ServiceAccount {
  /** The key file's JSON, as a channel key. */
  json: string;
  email: string;
  publicKey: KeyObject;
}

/** A fresh service-account key (RSA 2048), its token_uri pointing at `tokenUri`. */
export function generateServiceAccount(tokenUri: string, name = `sa-${Math.random().toString(36).slice(2, 8)}`): ServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = `${name}@test-project.iam.gserviceaccount.com`;
  const json = JSON.stringify({
    type: 'service_account',
    project_id: 'test-project',
    private_key_id: name,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: email,
    client_id: '1234567890',
    token_uri: tokenUri,
  });
  return { json, email, publicKey };
}

export async function startFakeVertex(options: { project: string; location: string; accounts: () => ServiceAccount[] }): Promise<FakeVertex> {
  const issued = new Set<string>();
  const fake = (await startFakeServer({
    keyOf: () => undefined,
    errorBody: (status, message) => ({ error: { code: status, message, status: status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL' } }),
    handle: async (ctx) => {
      if (ctx.url.pathname === '/token') {
        const form = new URLSearchParams(ctx.rawBody);
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return ctx.json(400, { error: 'unsupported_grant_type' });
        for (const account of options.accounts()) {
          try {
            const { payload } = await jwtVerify(form.get('assertion') ?? '', account.publicKey, { issuer: account.email, audience: 'https://oauth2.googleapis.com/token', algorithms: ['RS256'] });
            if (!String(payload.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/cloud-platform')) return ctx.json(400, { error: 'invalid_scope' });
            fake.minted += 1;
            const token = `ya29.fake-${fake.minted}-${Math.random().toString(36).slice(2)}`;
            issued.add(token);
            return ctx.json(200, { access_token: token, expires_in: fake.tokenTtlSeconds, token_type: 'Bearer' });
          } catch {
            // not this account's key
          }
        }
        return ctx.json(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      }
      const bearer = /^Bearer (.+)$/.exec(String(ctx.req.headers.authorization ?? ''))?.[1];
      if (!bearer || !issued.has(bearer)) return ctx.json(401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
      const prefix = `/v1/projects/${options.project}/locations/${options.location}/publishers/`;
      if (!ctx.url.pathname.startsWith(prefix)) return ctx.json(404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      const match = /^(google|anthropic)\/models\/([^:]+):(generateContent|streamGenerateContent|rawPredict|streamRawPredict)$/.exec(ctx.url.pathname.slice(prefix.length));
      if (!match) return ctx.json(404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      const [, publisher, model, method] = match;
      const body = ctx.body ?? {};
      if (publisher === 'anthropic') {
        if (body.anthropic_version !== 'vertex-2023-10-16' || body.model !== undefined) return ctx.json(400, { error: { code: 400, message: 'anthropic_version must be vertex-2023-10-16', status: 'INVALID_ARGUMENT' } });
        const id = 'msg_vrtx_01';
        if (method === 'rawPredict') {
          return ctx.json(200, { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: ANTHROPIC_TEXT }], stop_reason: 'end_turn', stop_sequence: null, usage: ANTHROPIC_USAGE });
        }
        const { output_tokens, ...prompt } = ANTHROPIC_USAGE;
        return streamEvents(
          ctx,
          [
            { event: 'message_start', data: { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], usage: { ...prompt, output_tokens: 1 } } } },
            { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
            ...ANTHROPIC_TEXT.split(/(?<= )/).map((text) => ({ event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } } })),
          ],
          [
            { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
            { event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens } } },
            { event: 'message_stop', data: { type: 'message_stop' } },
          ],
        );
      }
      if (!Array.isArray(body.contents) || !body.contents.length) return ctx.json(400, { error: { code: 400, message: 'contents is not specified', status: 'INVALID_ARGUMENT' } });
      const candidate = (text: string, finishReason?: string) => ({ content: { role: 'model', parts: [{ text }] }, ...(finishReason ? { finishReason } : {}), index: 0 });
      if (method === 'generateContent') return ctx.json(200, { candidates: [candidate(GEMINI_TEXT, 'STOP')], usageMetadata: GEMINI_USAGE, modelVersion: model, responseId: 'vertex-resp-1' });
      if (ctx.url.searchParams.get('alt') !== 'sse') return ctx.json(400, { error: { code: 400, message: 'alt=sse expected', status: 'INVALID_ARGUMENT' } });
      return streamEvents(
        ctx,
        GEMINI_TEXT.split(/(?<= )/).map((text) => ({ data: { candidates: [candidate(text)], modelVersion: model } })),
        [{ data: { candidates: [candidate('', 'STOP')], usageMetadata: GEMINI_USAGE, modelVersion: model } }],
      );
    },
  })) as FakeVertex;
  fake.minted = 0;
  fake.tokenTtlSeconds = 3600;
  return fake;
}
