import { FakeUpstream, startFakeServer, streamEvents } from '../../../scripts/fake-upstream';

/**
 * Anthropic's Messages API (`POST /v1/messages`, `x-api-key`, `anthropic-version`), as its API
 * reference describes it: a `message` object; streams of `message_start`, `content_block_start`,
 * `content_block_delta` (text_delta, input_json_delta), `content_block_stop`, `message_delta`
 * (stop_reason and cumulative usage), `message_stop`, with `ping`s; errors as
 * `{"type":"error","error":{"type","message"}}`. Usage includes prompt-cache reads and writes.
 */
export const ANTHROPIC_USAGE = { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 20, cache_creation_input_tokens: 5 };
export const ANTHROPIC_TEXT = 'Bonjour from Claude.';
/**
 * A request that asks for a one-hour cache write (`cache_control.ttl: "1h"`) gets its cache writes
 * split as the API reports them: `cache_creation` by time to live (of the 5 written, 3 for an hour).
 */
export const ANTHROPIC_CACHE_CREATION_1H = { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 };
/** What the fake's count_tokens answers. */
export const ANTHROPIC_COUNTED = 42;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function startFakeAnthropic(options: { keys?: string[] } = {}): Promise<FakeUpstream> {
  return startFakeServer({
    ...options,
    keyOf: (req) => (typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : undefined),
    errorBody: (status, message) => ({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } }),
    handle: async (ctx) => {
      const { url, body, behaviour, req } = ctx;
      if (url.pathname === '/v1/messages/count_tokens' && req.method === 'POST') return ctx.json(200, { input_tokens: ANTHROPIC_COUNTED });
      if (url.pathname !== '/v1/messages' || req.method !== 'POST') return ctx.json(404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
      if (!req.headers['anthropic-version']) return ctx.json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } });
      if (typeof body?.max_tokens !== 'number') return ctx.json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });
      if (behaviour.kind === 'malformed') {
        ctx.res.writeHead(200, { 'content-type': 'application/json' });
        return ctx.res.end('<html>upstream proxy error</html>');
      }
      const toolCall = behaviour.kind === 'tool-call';
      const id = 'msg_01FakeAnthropic';
      const model = String(body.model);
      const usage = JSON.stringify(body).includes('"ttl":"1h"') ? { ...ANTHROPIC_USAGE, cache_creation: ANTHROPIC_CACHE_CREATION_1H } : ANTHROPIC_USAGE;
      if (!body.stream) {
        if (behaviour.kind === 'truncated') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"id":"msg_01","type":"message","content":[{"type":"te');
          return void ctx.res.destroy();
        }
        if (behaviour.kind === 'stall-after') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"id":"msg_01",');
          await ctx.sleep(behaviour.ms);
          return ctx.end();
        }
        const content = toolCall
          ? [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }]
          : [{ type: 'text', text: ANTHROPIC_TEXT }];
        return ctx.json(200, { id, type: 'message', role: 'assistant', model, content, stop_reason: toolCall ? 'tool_use' : 'end_turn', stop_sequence: null, usage });
      }
      const start = { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } };
      const events: Array<{ data: unknown; event: string }> = [{ event: 'message_start', data: start }, { event: 'ping', data: { type: 'ping' } }];
      if (toolCall) {
        events.push(
          { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: {} } } },
          { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city": ' } } },
          { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } } },
          { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
        );
      } else {
        events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } });
        for (const piece of ANTHROPIC_TEXT.split(/(?<= )/)) events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } } });
        events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } });
      }
      events.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: toolCall ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: ANTHROPIC_USAGE.output_tokens } } });
      await streamEvents(ctx, events, [{ event: 'message_stop', data: { type: 'message_stop' } }]);
    },
  });
}
