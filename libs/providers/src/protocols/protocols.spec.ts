import { SseParser } from '../sse';
import { ChatToMessages, messagesToChat } from './messages';
import { ChatToResponses, responsesToChat } from './responses';

/** The events of an SSE text, as `[name, data]`. */
function events(text: string): Array<[string | null, any]> {
  return new SseParser().push(text).map((e) => [e.event, JSON.parse(e.data)]);
}

describe('Anthropic Messages over chat', () => {
  it('translates a request: system blocks, images, tool uses and results (errors marked), tools and tool_choice, stop sequences', () => {
    const chat = messagesToChat({
      model: 'm',
      max_tokens: 100,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      stop_sequences: ['END'],
      tools: [{ name: 'Bash', description: 'run', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
      tool_choice: { type: 'tool', name: 'Bash', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } }, { type: 'tool_use', id: 't2', name: 'Bash', input: { command: 'pwd' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'a b' }, { type: 'tool_result', tool_use_id: 't2', is_error: true, content: [{ type: 'text', text: 'denied' }] }] },
      ],
    });
    expect(chat).toEqual({
      model: 'm',
      max_tokens: 100,
      stop: ['END'],
      tools: [{ type: 'function', function: { name: 'Bash', description: 'run', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'Bash' } },
      parallel_tool_calls: false,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 't1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
            { id: 't2', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 't1', content: 'a b' },
        { role: 'tool', tool_call_id: 't2', content: 'Error: denied' },
      ],
    });
  });

  it('streams chat chunks as Anthropic events: one block per run of thinking, text or tool call, indexes in order, usage at the end', () => {
    const out = new ChatToMessages('public');
    let text = out.chunk({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { reasoning_content: 'Let me think.' } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { content: 'Two ' } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { content: 'calls.' } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'a', arguments: '{"x"' } }] } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'c2', function: { name: 'b', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] });
    text += out.finish({ input: 10, output: 5, cacheRead: 2, cacheWrite: 0 });
    const seen = events(text);
    expect(seen.map(([name]) => name)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(seen[0][1].message).toMatchObject({ id: 'msg_1', model: 'public', role: 'assistant' });
    const starts = seen.filter(([name]) => name === 'content_block_start').map(([, data]) => [data.index, data.content_block.type, data.content_block.id]);
    expect(starts).toEqual([
      [0, 'thinking', undefined],
      [1, 'text', undefined],
      [2, 'tool_use', 'c1'],
      [3, 'tool_use', 'c2'],
    ]);
    expect(seen[seen.length - 2][1]).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2, cache_creation_input_tokens: 0 },
    });
  });
});

describe('OpenAI Responses over chat', () => {
  it('translates a stateless request: instructions, messages, function calls and outputs, tools, format, effort; reasoning items dropped', () => {
    const chat = responsesToChat({
      model: 'm',
      instructions: 'Be brief.',
      max_output_tokens: 50,
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }, { type: 'web_search' }],
      tool_choice: { type: 'function', name: 'f' },
      input: [
        { role: 'developer', content: 'Rules.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] },
        { type: 'reasoning', id: 'rs', summary: [], encrypted_content: 'x' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call', call_id: 'c2', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'function_call_output', call_id: 'c2', output: 'two' },
      ],
    });
    expect(chat).toEqual({
      model: 'm',
      max_tokens: 50,
      reasoning_effort: 'low',
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      tools: [{ type: 'function', function: { name: 'f', description: undefined, parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Rules.' },
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
            { id: 'c2', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'one' },
        { role: 'tool', tool_call_id: 'c2', content: 'two' },
      ],
    });
  });

  it('streams chat chunks as the Responses sequence, numbered, with the whole response and usage at the end', () => {
    const out = new ChatToResponses('public', { instructions: 'Be brief.' });
    let text = out.chunk({ choices: [{ index: 0, delta: { content: 'Hel' } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { content: 'lo' } }] });
    text += out.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] });
    text += out.finish({ input: 7, output: 4, cacheRead: 2, cacheWrite: 0, reasoning: 1 });
    const seen = events(text);
    expect(seen.map(([, data]) => data.sequence_number)).toEqual(seen.map((_, i) => i));
    expect(seen.map(([name]) => name)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const completed = seen[seen.length - 1][1].response;
    expect(completed).toMatchObject({ status: 'completed', model: 'public', instructions: 'Be brief.', store: false });
    expect(completed.output).toEqual([
      expect.objectContaining({ type: 'message', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] }),
      expect.objectContaining({ type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}', status: 'completed' }),
    ]);
    expect(completed.usage).toEqual({ input_tokens: 9, input_tokens_details: { cached_tokens: 2 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 13 });
  });

  it('an answer cut by max tokens ends as response.incomplete', () => {
    const out = new ChatToResponses('public', {});
    const text = out.chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'length' }] }) + out.finish(null);
    const last = events(text).pop()!;
    expect(last[0]).toBe('response.incomplete');
    expect(last[1].response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });
});
