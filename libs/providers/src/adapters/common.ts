import { protocolError } from '../errors';

export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

export function parseJson(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw protocolError(`${what} is not JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw protocolError(`${what} is not an object`);
  return parsed as Record<string, unknown>;
}

export const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0);

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The text of an OpenAI message content (a string, or parts of which the text ones count). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && (part as { type?: string }).type === 'text' ? String((part as { text?: unknown }).text ?? '') : ''))
      .join('');
  }
  return '';
}

export function maxTokensOf(body: Record<string, unknown>): number | undefined {
  const value = body.max_completion_tokens ?? body.max_tokens;
  return typeof value === 'number' ? value : undefined;
}

export function stopList(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop)) return stop.filter((s): s is string => typeof s === 'string');
  return undefined;
}

export function chatCompletionId(upstreamId: unknown): string {
  return `chatcmpl-${typeof upstreamId === 'string' && upstreamId ? upstreamId.replace(/[^A-Za-z0-9_-]/g, '') : Math.random().toString(36).slice(2)}`;
}

/** OpenAI's usage object from normalised buckets. */
export function openAIUsage(usage: { input: number; output: number; cacheRead: number; cacheWrite: number }) {
  const prompt = usage.input + usage.cacheRead + usage.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output,
    total_tokens: prompt + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cacheRead },
  };
}
