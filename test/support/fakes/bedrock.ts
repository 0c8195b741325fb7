import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec, MessageHeaders } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { FakeContext, FakeUpstream, startFakeServer } from '../../../scripts/fake-upstream';
import { ANTHROPIC_TEXT, ANTHROPIC_USAGE } from './anthropic';

/**
 * The AWS Bedrock runtime as its API reference describes it: `POST /model/{modelId}/invoke` and
 * `/invoke-with-response-stream` (Anthropic's Messages body with `anthropic_version`
 * `bedrock-2023-05-31`; streamed as `chunk` events whose `bytes` are Anthropic's stream events,
 * base64), `/converse` and `/converse-stream` (messageStart, contentBlockDelta, contentBlockStop,
 * messageStop, metadata). Every request must carry a valid SigV4 signature for service `bedrock`
 * in the fake's region, checked by re-signing what arrived with the secret it knows (AWS answers
 * 403 otherwise). Event streams are encoded with the AWS codec and written in small slices, so
 * frames arrive split across reads.
 */
export const CONVERSE_TEXT = 'Hallo from Bedrock Converse.';
export const CONVERSE_USAGE = { inputTokens: 13, outputTokens: 8, totalTokens: 25, cacheReadInputTokens: 4, cacheWriteInputTokens: 0 };

export interface FakeBedrock extends FakeUpstream {
  /** Requests whose signature checked out (the rest got 403). */
  signed: number;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: 'string' as const, value });

export function eventFrame(eventType: string, payload: unknown, messageType = 'event'): Uint8Array {
  const headers: MessageHeaders = { ':message-type': str(messageType), ':content-type': str('application/json') };
  if (messageType === 'event') headers[':event-type'] = str(eventType);
  else headers[':exception-type'] = str(eventType);
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

function anthropicChunk(event: Record<string, unknown>): Uint8Array {
  return eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') });
}

async function verifySignature(ctx: FakeContext, region: string, secrets: Map<string, string>): Promise<boolean> {
  const auth = String(ctx.req.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!match) return false;
  const [, accessKeyId, , scopeRegion, service, signedHeaders] = match;
  const secretAccessKey = secrets.get(accessKeyId);
  const amzDate = String(ctx.req.headers['x-amz-date'] ?? '');
  if (!secretAccessKey || scopeRegion !== region || service !== 'bedrock' || !/^\d{8}T\d{6}Z$/.test(amzDate)) return false;
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) headers[name] = String(ctx.req.headers[name] ?? '');
  if (!headers.host || !('x-amz-date' in headers)) return false;
  const at = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: 'bedrock', region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256, applyChecksum: false });
  const [hostname, port] = headers.host.split(':');
  const expected = await signer.sign(
    { method: ctx.req.method ?? 'POST', protocol: 'http:', hostname, port: port ? Number(port) : undefined, path: ctx.url.pathname, query: {}, headers, body: ctx.rawBody },
    { signingDate: at },
  );
  return expected.headers.authorization === auth;
}

async function writeFrames(ctx: FakeContext, frames: Uint8Array[]): Promise<void> {
  ctx.res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
  const bytes = Buffer.concat(frames.map((f) => Buffer.from(f)));
  const cut = ctx.behaviour.kind === 'truncated' ? Math.floor(bytes.length / 2) : bytes.length;
  // Slices that do not line up with frames: the reader must put frames back together.
  for (let at = 0; at < cut; at += 37) {
    ctx.res.write(bytes.subarray(at, Math.min(at + 37, cut)));
    if (at === 0) await ctx.sleep(5);
  }
  if (ctx.behaviour.kind === 'truncated') return void ctx.res.destroy();
  ctx.end();
}

export async function startFakeBedrock(options: { region: string; credentials: Record<string, string> }): Promise<FakeBedrock> {
  const secrets = new Map(Object.entries(options.credentials));
  const fake = (await startFakeServer({
    keys: [...secrets.keys()],
    keyOf: (req) => /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1],
    errorBody: (_status, message) => ({ message }),
    handle: async (ctx) => {
      if (!(await verifySignature(ctx, options.region, secrets))) {
        return ctx.json(403, { message: 'The request signature we calculated does not match the signature you provided.' });
      }
      fake.signed += 1;
      const match = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)$/.exec(ctx.url.pathname);
      if (!match) return ctx.json(404, { message: 'Not found' });
      const [, model, action] = match;
      const body = ctx.body ?? {};
      if (action.startsWith('invoke')) {
        if (body.anthropic_version !== 'bedrock-2023-05-31' || body.model !== undefined || !Array.isArray(body.messages)) {
          return ctx.json(400, { message: 'Malformed input request: anthropic_version, messages required; model not allowed' });
        }
        const id = 'msg_bdrk_01';
        if (action === 'invoke') {
          return ctx.json(200, { id, type: 'message', role: 'assistant', model: decodeURIComponent(model), content: [{ type: 'text', text: ANTHROPIC_TEXT }], stop_reason: 'end_turn', stop_sequence: null, usage: ANTHROPIC_USAGE });
        }
        const { output_tokens, ...prompt } = ANTHROPIC_USAGE;
        const pieces = ANTHROPIC_TEXT.split(/(?<= )/);
        const frames = [
          anthropicChunk({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model: decodeURIComponent(model), content: [], stop_reason: null, usage: { ...prompt, output_tokens: 1 } } }),
          anthropicChunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
          ...pieces.map((text) => anthropicChunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
        ];
        if (ctx.behaviour.kind === 'malformed') frames.push(eventFrame('throttlingException', { message: 'Too many requests' }, 'exception'));
        frames.push(
          anthropicChunk({ type: 'content_block_stop', index: 0 }),
          anthropicChunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens } }),
          anthropicChunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: prompt.input_tokens, outputTokenCount: output_tokens, invocationLatency: 100, firstByteLatency: 50 } }),
        );
        return writeFrames(ctx, frames);
      }
      if (!Array.isArray(body.messages) || !body.messages.length) return ctx.json(400, { message: 'A conversation must start with a user message.' });
      if (action === 'converse') {
        return ctx.json(200, { output: { message: { role: 'assistant', content: [{ text: CONVERSE_TEXT }] } }, stopReason: 'end_turn', usage: CONVERSE_USAGE, metrics: { latencyMs: 120 } });
      }
      const frames = [
        eventFrame('messageStart', { role: 'assistant' }),
        ...CONVERSE_TEXT.split(/(?<= )/).map((text) => eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text } })),
      ];
      if (ctx.behaviour.kind === 'malformed') frames.push(eventFrame('modelStreamErrorException', { message: 'The model failed' }, 'exception'));
      frames.push(eventFrame('contentBlockStop', { contentBlockIndex: 0 }), eventFrame('messageStop', { stopReason: 'end_turn' }), eventFrame('metadata', { usage: CONVERSE_USAGE, metrics: { latencyMs: 120 } }));
      return writeFrames(ctx, frames);
    },
  })) as FakeBedrock;
  fake.signed = 0;
  return fake;
}
