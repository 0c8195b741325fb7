import { FakeUpstream, startFakeServer, streamEvents } from '../../../scripts/fake-upstream';

/**
 * The Gemini API as its reference describes it: `POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse` (each SSE event a whole GenerateContentResponse, the last with
 * finishReason and usageMetadata, no [DONE]), `:batchEmbedContents`; key in `x-goog-api-key`;
 * errors as `{"error":{"code","message","status"}}`.
 */
export const GEMINI_USAGE = { promptTokenCount: 12, candidatesTokenCount: 5, totalTokenCount: 17, cachedContentTokenCount: 4 };
export const GEMINI_TEXT = 'Hola from Gemini.';

const STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

export function startFakeGemini(options: { keys?: string[] } = {}): Promise<FakeUpstream> {
  return startFakeServer({
    ...options,
    keyOf: (req, url) => (typeof req.headers['x-goog-api-key'] === 'string' ? req.headers['x-goog-api-key'] : (url.searchParams.get('key') ?? undefined)),
    errorBody: (status, message) => ({ error: { code: status, message, status: STATUS[status] ?? 'UNKNOWN' } }),
    handle: async (ctx) => {
      const { url, body, behaviour } = ctx;
      const match = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/.exec(url.pathname);
      if (!match) return ctx.json(404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      const [, model, method] = match;
      if (behaviour.kind === 'malformed') {
        ctx.res.writeHead(200, { 'content-type': 'application/json' });
        return ctx.res.end('{"candidates": "not a list"}');
      }
      if (method === 'batchEmbedContents') {
        return ctx.json(200, { embeddings: (body?.requests ?? []).map((_: unknown, i: number) => ({ values: [0.5, 0.25, i] })) });
      }
      if (!Array.isArray(body?.contents) || !body.contents.length) return ctx.json(400, { error: { code: 400, message: '* GenerateContentRequest.contents: contents is not specified', status: 'INVALID_ARGUMENT' } });
      const toolCall = behaviour.kind === 'tool-call';
      const candidate = (parts: unknown[], finishReason?: string) => ({ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 });
      if (method === 'generateContent') {
        if (behaviour.kind === 'truncated') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"candidates":[{"content":{"parts":[{"text":"Ho');
          return void ctx.res.destroy();
        }
        if (behaviour.kind === 'stall-after') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"candidates":');
          await ctx.sleep(behaviour.ms);
          return ctx.end();
        }
        const parts = toolCall ? [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] : [{ text: GEMINI_TEXT }];
        return ctx.json(200, { candidates: [candidate(parts, 'STOP')], usageMetadata: GEMINI_USAGE, modelVersion: model, responseId: 'gemini-resp-1' });
      }
      if (url.searchParams.get('alt') !== 'sse') return ctx.json(400, { error: { code: 400, message: 'this fake streams with alt=sse only', status: 'INVALID_ARGUMENT' } });
      const pieces = toolCall ? [] : GEMINI_TEXT.split(/(?<= )/);
      const events = pieces.map((text, i) => ({ data: { candidates: [candidate([{ text }])], usageMetadata: { promptTokenCount: GEMINI_USAGE.promptTokenCount, totalTokenCount: GEMINI_USAGE.promptTokenCount + i }, modelVersion: model, responseId: 'gemini-resp-1' } }));
      const last = toolCall ? [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] : [{ text: '' }];
      if (toolCall) events.push({ data: { candidates: [candidate([{ text: '' }])], usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 }, modelVersion: model, responseId: 'gemini-resp-1' } });
      await streamEvents(ctx, events, [{ data: { candidates: [candidate(last, 'STOP')], usageMetadata: GEMINI_USAGE, modelVersion: model, responseId: 'gemini-resp-1' } }]);
    },
  });
}
