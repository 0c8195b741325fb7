import { protocolError } from '../errors';
import { googleTokens } from '../google-auth';
import { BuildOptions, Endpoint, ParsedResponse, ProviderAdapter, ProviderType, StreamTranslator, UpstreamRequest, UpstreamTarget } from '../types';
import { AnthropicAdapter } from './anthropic';
import { joinUrl } from './common';
import { GeminiAdapter } from './gemini';

type Json = Record<string, unknown>;

/** The body field Vertex wants instead of the anthropic-version header. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** Anthropic's models on Vertex are named `claude-...` (`claude-sonnet-4-5@20250929`). */
export function isVertexAnthropic(model: string): boolean {
  return model.startsWith('claude-');
}

/**
 * Google Vertex AI (`https://{location}-aiplatform.googleapis.com`), with an OAuth access token
 * minted from the channel's service-account key. Gemini models use the Gemini API's bodies at
 * `/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
 * (`:streamGenerateContent?alt=sse`); Anthropic's models Anthropic's Messages bodies (with
 * `anthropic_version` in the body, no model) at `.../publishers/anthropic/models/{model}:rawPredict`
 * (`:streamRawPredict`, Anthropic's SSE).
 */
export class VertexAdapter implements ProviderAdapter {
  readonly type: ProviderType = 'vertex';
  private readonly gemini = new GeminiAdapter();
  private readonly anthropic = new AnthropicAdapter();

  supports(endpoint: Endpoint): boolean {
    return endpoint === 'chat';
  }

  buildRequest(_endpoint: Endpoint, body: Json, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    const { projectId, location } = target.settings ?? {};
    if (!projectId || !location) throw protocolError('the Vertex channel has no project or location');
    const model = encodeURIComponent(target.upstreamModel);
    const prefix = `/v1/projects/${encodeURIComponent(projectId)}/locations/${encodeURIComponent(location)}/publishers`;
    const headers = { 'content-type': 'application/json', accept: options.stream ? 'text/event-stream' : 'application/json' };
    if (isVertexAnthropic(target.upstreamModel)) {
      const request = JSON.parse(this.anthropic.buildRequest('chat', body, target, options).body as string) as Json;
      delete request.model;
      request.anthropic_version = VERTEX_ANTHROPIC_VERSION;
      return { url: joinUrl(target.baseUrl, `${prefix}/anthropic/models/${model}:${options.stream ? 'streamRawPredict' : 'rawPredict'}`), headers, body: JSON.stringify(request) };
    }
    const built = this.gemini.buildRequest('chat', body, target, options);
    return { url: joinUrl(target.baseUrl, `${prefix}/google/models/${model}:${options.stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`), headers, body: built.body };
  }

  async authorize(request: UpstreamRequest, target: UpstreamTarget): Promise<UpstreamRequest> {
    const token = await googleTokens.token(target.apiKey, target.allowPrivateNetworks ?? false);
    return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
  }

  parseResponse(endpoint: Endpoint, text: string, publicModel: string, request?: Json): ParsedResponse {
    // Anthropic's answer is a `message`; Gemini's has candidates.
    return text.includes('"candidates"') ? this.gemini.parseResponse('chat', text, publicModel, request) : this.anthropic.parseResponse('chat', text, publicModel);
  }

  streamTranslator(_endpoint: Endpoint, publicModel: string, upstreamModel?: string): StreamTranslator {
    return upstreamModel && isVertexAnthropic(upstreamModel) ? this.anthropic.streamTranslator('chat', publicModel) : this.gemini.streamTranslator('chat', publicModel);
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.buildRequest('chat', { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, target, { stream: false, includeUsage: false });
  }
}
