import { ProviderType } from './types';

/** How an OpenAI-compatible upstream departs from OpenAI's own API. */
export interface OpenAIQuirks {
  /**
   * How to get usage in a stream: OpenAI's `stream_options.include_usage`; `always` (the upstream
   * reports it in the last chunk unasked and may refuse the option); OpenRouter's `usage.include`.
   */
  streamUsage: 'stream_options' | 'always' | 'openrouter';
  /** The highest temperature the upstream accepts (higher ones are clamped, not refused). */
  maxTemperature?: number;
  /** The upstream knows `max_tokens` only: `max_completion_tokens` is sent under that name. */
  maxTokensOnly?: boolean;
}

export interface ChannelPreset {
  id: string;
  label: string;
  provider: ProviderType;
  /** The base URL a channel of this preset starts with (the mainland or the international endpoint). */
  baseUrl: string;
  /** Other base URLs of the same service (international endpoints). */
  alternativeBaseUrls: string[];
  /** Whether `GET {base}/models` lists the upstream's models (channel model sync). */
  listsModels: boolean;
  /** How the service reports the account's balance to its key (see balance.ts); absent: it does not. */
  balance?: 'deepseek' | 'kimi' | 'openrouter';
  quirks: OpenAIQuirks;
  notes: string;
}

const OPENAI_QUIRKS: OpenAIQuirks = { streamUsage: 'stream_options' };

/**
 * OpenAI-compatible services resellers run channels to, with their base URLs and quirks. A channel
 * of type `openai` names one in `settings.preset`; without one it is treated as OpenAI itself.
 */
export const CHANNEL_PRESETS: readonly ChannelPreset[] = [
  {
    id: 'deepseek',
    label: 'DeepSeek',
    provider: 'openai',
    baseUrl: 'https://api.deepseek.com/v1',
    alternativeBaseUrls: [],
    listsModels: true,
    balance: 'deepseek',
    quirks: { streamUsage: 'stream_options', maxTokensOnly: true, maxTemperature: 2 },
    notes: 'Cache hits are reported as usage.prompt_cache_hit_tokens (billed as cached input).',
  },
  {
    id: 'qwen',
    label: 'Qwen (Alibaba Cloud DashScope, compatible mode)',
    provider: 'openai',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    alternativeBaseUrls: ['https://dashscope-intl.aliyuncs.com/compatible-mode/v1'],
    listsModels: true,
    quirks: { streamUsage: 'stream_options', maxTokensOnly: true, maxTemperature: 1.99 },
    notes: 'Temperature must be below 2.',
  },
  {
    id: 'kimi',
    label: 'Kimi (Moonshot AI)',
    provider: 'openai',
    baseUrl: 'https://api.moonshot.cn/v1',
    alternativeBaseUrls: ['https://api.moonshot.ai/v1'],
    listsModels: true,
    balance: 'kimi',
    quirks: { streamUsage: 'always', maxTokensOnly: true, maxTemperature: 1 },
    notes: "Streams report usage inside the last chunk's choice (choices[0].usage); temperature is at most 1.",
  },
  {
    id: 'glm',
    label: 'GLM (Zhipu AI / Z.ai)',
    provider: 'openai',
    baseUrl: 'https://open.bigmodel.cn/api/paas/v4',
    alternativeBaseUrls: ['https://api.z.ai/api/paas/v4'],
    listsModels: false,
    quirks: { streamUsage: 'always', maxTokensOnly: true, maxTemperature: 1 },
    notes: 'The version path is /api/paas/v4; streams carry usage in the last chunk unasked; temperature is at most 1.',
  },
  {
    id: 'vllm',
    label: 'vLLM (self-hosted)',
    provider: 'openai',
    baseUrl: 'http://localhost:8000/v1',
    alternativeBaseUrls: [],
    listsModels: true,
    quirks: OPENAI_QUIRKS,
    notes: 'A private address needs CHANNEL_ALLOW_PRIVATE_NETWORKS=true; the key is the --api-key given to vllm serve.',
  },
  {
    id: 'ollama',
    label: 'Ollama (self-hosted)',
    provider: 'openai',
    baseUrl: 'http://localhost:11434/v1',
    alternativeBaseUrls: [],
    listsModels: true,
    quirks: { streamUsage: 'stream_options', maxTokensOnly: true },
    notes: 'Ollama ignores the key (any placeholder of 8+ characters will do); a private address needs CHANNEL_ALLOW_PRIVATE_NETWORKS=true.',
  },
  {
    id: 'openrouter',
    label: 'OpenRouter',
    provider: 'openai',
    baseUrl: 'https://openrouter.ai/api/v1',
    alternativeBaseUrls: [],
    listsModels: true,
    balance: 'openrouter',
    quirks: { streamUsage: 'openrouter' },
    notes: 'Model names carry the vendor (anthropic/claude-sonnet-4.5); usage is asked for with usage.include.',
  },
];

export const PRESET_IDS = CHANNEL_PRESETS.map((p) => p.id);

const BY_ID = new Map(CHANNEL_PRESETS.map((p) => [p.id, p]));

export function presetById(id: string | undefined): ChannelPreset | undefined {
  return id ? BY_ID.get(id) : undefined;
}

/** The quirks of a channel's preset (OpenAI's own behaviour without one). */
export function quirksOf(preset: string | undefined): OpenAIQuirks {
  return presetById(preset)?.quirks ?? OPENAI_QUIRKS;
}
