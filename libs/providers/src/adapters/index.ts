import { ProviderAdapter, ProviderType } from '../types';
import { AnthropicAdapter } from './anthropic';
import { GeminiAdapter } from './gemini';
import { OpenAIAdapter } from './openai';

export { AnthropicAdapter, GeminiAdapter, OpenAIAdapter };
export { usageFromOpenAI } from './openai';

const ADAPTERS: Record<ProviderType, ProviderAdapter> = {
  openai: new OpenAIAdapter(),
  anthropic: new AnthropicAdapter(),
  gemini: new GeminiAdapter(),
};

/** The (stateless) adapter of a provider type. */
export function adapterFor(type: ProviderType): ProviderAdapter {
  return ADAPTERS[type];
}
