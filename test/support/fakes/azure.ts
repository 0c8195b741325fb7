import { FakeUpstream, startFakeServer, streamEvents } from '../../../scripts/fake-upstream';
import { FAKE_TEXT, FAKE_USAGE } from './openai';

/**
 * Azure OpenAI's data plane as its reference describes it:
 * `POST /openai/deployments/{deployment}/chat/completions?api-version=...` (and `/embeddings`),
 * the key in `api-key`, OpenAI's bodies, answers naming the model behind the deployment; streams
 * open with a `choices: []` chunk of prompt filter results. An unknown deployment is 404
 * `DeploymentNotFound`; a missing or unsupported api-version 404 too, as Azure answers.
 */
export const AZURE_MODEL = 'gpt-4o-2024-08-06';

export function startFakeAzure(options: { keys: string[]; deployments: string[]; apiVersions: string[] }): Promise<FakeUpstream> {
  return startFakeServer({
    keys: options.keys,
    keyOf: (req) => (typeof req.headers['api-key'] === 'string' ? req.headers['api-key'] : undefined),
    errorBody: (status, message) => ({ error: { code: String(status), message } }),
    handle: async (ctx) => {
      const match = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(ctx.url.pathname);
      if (!options.apiVersions.includes(ctx.url.searchParams.get('api-version') ?? '')) return ctx.json(404, { error: { code: '404', message: 'Resource not found' } });
      if (!match || !options.deployments.includes(decodeURIComponent(match[1]))) {
        return ctx.json(404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } });
      }
      const body = ctx.body ?? {};
      if (match[2] === 'embeddings') return ctx.json(200, { object: 'list', model: 'text-embedding-3-small', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 3, total_tokens: 3 } });
      const id = 'chatcmpl-azure-1';
      if (!body.stream) {
        return ctx.json(200, {
          id,
          object: 'chat.completion',
          created: 1700000000,
          model: AZURE_MODEL,
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
          choices: [{ index: 0, message: { role: 'assistant', content: FAKE_TEXT }, finish_reason: 'stop', logprobs: null, content_filter_results: {} }],
          usage: FAKE_USAGE,
        });
      }
      const chunk = (delta: unknown, finish: string | null = null) => ({ id, object: 'chat.completion.chunk', created: 1700000000, model: AZURE_MODEL, choices: [{ index: 0, delta, finish_reason: finish, content_filter_results: {} }] });
      const usage = body.stream_options?.include_usage ? [{ data: { id, object: 'chat.completion.chunk', created: 1700000000, model: AZURE_MODEL, choices: [], usage: FAKE_USAGE } }] : [];
      return streamEvents(
        ctx,
        [
          { data: { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] } },
          { data: chunk({ role: 'assistant', content: '' }) },
          ...FAKE_TEXT.split(/(?<= )/).map((text) => ({ data: chunk({ content: text }) })),
        ],
        [{ data: chunk({}, 'stop') }, ...usage, { data: '[DONE]' }],
      );
    },
  });
}
