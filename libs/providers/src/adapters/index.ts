import { MESSAGES_OVER_CHAT } from '../protocols/messages';
import { RESPONSES_OVER_CHAT } from '../protocols/responses';
import { ViaChatAdapter } from '../protocols/chat-stream';
import { Endpoint, ProviderAdapter, ProviderType } from '../types';
import { AnthropicAdapter } from './anthropic';
import { AzureOpenAIAdapter } from './azure';
import { BedrockAdapter } from './bedrock';
import { VertexAdapter } from './vertex';
import { GeminiAdapter } from './gemini';
import { OpenAIAdapter } from './openai';
import { OpenAIResponsesAdapter } from './openai-responses';

export { AnthropicAdapter, AzureOpenAIAdapter, BedrockAdapter, GeminiAdapter, OpenAIAdapter, OpenAIResponsesAdapter, VertexAdapter };
export { AZURE_DEFAULT_API_VERSION } from './azure';
export { BEDROCK_ANTHROPIC_VERSION, isBedrockAnthropic } from './bedrock';
export { VERTEX_ANTHROPIC_VERSION, isVertexAnthropic } from './vertex';
export { usageFromResponses } from './openai-responses';
export { usageFromOpenAI } from './openai';

const ADAPTERS: Record<ProviderType, ProviderAdapter> = {
  openai: new OpenAIAdapter(),
  anthropic: new AnthropicAdapter(),
  gemini: new GeminiAdapter(),
  'openai-responses': new OpenAIResponsesAdapter(),
  azure: new AzureOpenAIAdapter(),
  bedrock: new BedrockAdapter(),
  vertex: new VertexAdapter(),
};

/** Anthropic's Messages over the chat of upstreams that do not speak it. */
const MESSAGES_VIA_CHAT: Record<ProviderType, ProviderAdapter> = {
  openai: new ViaChatAdapter(ADAPTERS.openai, 'messages', MESSAGES_OVER_CHAT),
  anthropic: ADAPTERS.anthropic, // native: passed through
  gemini: new ViaChatAdapter(ADAPTERS.gemini, 'messages', MESSAGES_OVER_CHAT),
  'openai-responses': new ViaChatAdapter(ADAPTERS['openai-responses'], 'messages', MESSAGES_OVER_CHAT),
  azure: new ViaChatAdapter(ADAPTERS.azure, 'messages', MESSAGES_OVER_CHAT),
  bedrock: new ViaChatAdapter(ADAPTERS.bedrock, 'messages', MESSAGES_OVER_CHAT),
  vertex: new ViaChatAdapter(ADAPTERS.vertex, 'messages', MESSAGES_OVER_CHAT),
};

/** OpenAI's Responses: passed through to upstreams that serve it, over chat completions for the others. */
const RESPONSES_VIA_CHAT: Record<ProviderType, ProviderAdapter> = {
  openai: new ViaChatAdapter(ADAPTERS.openai, 'responses', RESPONSES_OVER_CHAT),
  anthropic: new ViaChatAdapter(ADAPTERS.anthropic, 'responses', RESPONSES_OVER_CHAT),
  gemini: new ViaChatAdapter(ADAPTERS.gemini, 'responses', RESPONSES_OVER_CHAT),
  'openai-responses': ADAPTERS['openai-responses'], // native: passed through
  azure: new ViaChatAdapter(ADAPTERS.azure, 'responses', RESPONSES_OVER_CHAT),
  bedrock: new ViaChatAdapter(ADAPTERS.bedrock, 'responses', RESPONSES_OVER_CHAT),
  vertex: new ViaChatAdapter(ADAPTERS.vertex, 'responses', RESPONSES_OVER_CHAT),
};

/**
 * The (stateless) adapter of a provider type for an endpoint: the protocols of coding agents go
 * to upstreams that speak them as they are, and through chat to the others.
 */
export function adapterFor(type: ProviderType, endpoint?: Endpoint): ProviderAdapter {
  if (endpoint === 'messages') return MESSAGES_VIA_CHAT[type];
  if (endpoint === 'responses') return RESPONSES_VIA_CHAT[type];
  return ADAPTERS[type];
}
export { joinUrl } from './common';
