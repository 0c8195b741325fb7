import { BuildOptions, Endpoint, ProviderType, StreamTranslator, UpstreamRequest, UpstreamTarget } from '../types';
import { joinUrl } from './common';
import { OpenAIAdapter, OpenAIStream } from './openai';

/** The GA data-plane version used when a channel names none. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

const PATHS: Partial<Record<Endpoint, string>> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings', images: '/images/generations' };

/**
 * Azure OpenAI: `{base}/openai/deployments/{deployment}/chat/completions?api-version=...` with the
 * key in `api-key`. The base URL is the resource's endpoint (`https://NAME.openai.azure.com`); the
 * deployment is the channel's upstream model name (the model mapping routes each public model to
 * its deployment). Bodies are OpenAI's; Azure answers with the model behind the deployment, which
 * is replaced by the public name in JSON and streams alike.
 */
export class AzureOpenAIAdapter extends OpenAIAdapter {
  override readonly type: ProviderType = 'azure';

  override supports(endpoint: Endpoint): boolean {
    return endpoint in PATHS;
  }

  override buildRequest(endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    const upstreamBody = this.upstreamBody(endpoint, body, target, options);
    // The deployment decides the model; Azure ignores (older versions refuse) a model in the body.
    delete upstreamBody.model;
    const version = encodeURIComponent(target.settings?.apiVersion ?? AZURE_DEFAULT_API_VERSION);
    return {
      url: joinUrl(target.baseUrl, `/openai/deployments/${encodeURIComponent(target.upstreamModel)}${PATHS[endpoint] ?? '/chat/completions'}?api-version=${version}`),
      headers: { 'content-type': 'application/json', 'api-key': target.apiKey, accept: options.stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(upstreamBody),
    };
  }

  override streamTranslator(_endpoint: Endpoint, publicModel: string): StreamTranslator {
    return new OpenAIStream(publicModel, undefined, true);
  }
}
