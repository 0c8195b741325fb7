import { ANTHROPIC_VERSION } from './adapters/anthropic';
import { joinUrl, parseJson } from './adapters/common';
import { presetById } from './presets';
import { ProviderType, UpstreamRequest, UpstreamTarget } from './types';

/**
 * The upstream's own list of its models, where it has one the gateway can read with the channel's
 * key: OpenAI-compatible `GET {base}/models`, Anthropic's `GET /v1/models`, Gemini's
 * `GET /v1beta/models`. Null for the others (Azure lists deployments only through its management
 * API, Bedrock and Vertex through separate control-plane APIs), and for presets without a list.
 */
export function modelListRequest(provider: ProviderType, target: Pick<UpstreamTarget, 'baseUrl' | 'apiKey' | 'settings'>): UpstreamRequest | null {
  switch (provider) {
    case 'openai':
    case 'openai-responses': {
      const preset = presetById(target.settings?.preset);
      if (preset && !preset.listsModels) return null;
      return { method: 'GET', url: joinUrl(target.baseUrl, '/models'), headers: { authorization: `Bearer ${target.apiKey}`, accept: 'application/json' }, body: '' };
    }
    case 'anthropic':
      return { method: 'GET', url: joinUrl(target.baseUrl, '/v1/models?limit=1000'), headers: { 'x-api-key': target.apiKey, 'anthropic-version': ANTHROPIC_VERSION, accept: 'application/json' }, body: '' };
    case 'gemini':
      return { method: 'GET', url: joinUrl(target.baseUrl, '/v1beta/models?pageSize=1000'), headers: { 'x-goog-api-key': target.apiKey, accept: 'application/json' }, body: '' };
    default:
      return null;
  }
}

const MODEL_ID = /^[A-Za-z0-9._:/@-]{1,200}$/;

/** The model ids of a model-list answer (OpenAI's and Anthropic's `data[].id`, Gemini's `models[].name` without `models/`). */
export function parseModelList(provider: ProviderType, text: string): string[] {
  const body = parseJson(text, 'the model list');
  const ids =
    provider === 'gemini'
      ? (Array.isArray(body.models) ? (body.models as Array<{ name?: unknown }>) : []).map((m) => String(m.name ?? '').replace(/^models\//, ''))
      : (Array.isArray(body.data) ? (body.data as Array<{ id?: unknown }>) : []).map((m) => String(m.id ?? ''));
  // Ids become model names in mappings: anything else is dropped rather than stored.
  return [...new Set(ids.filter((id) => MODEL_ID.test(id)))].sort();
}
