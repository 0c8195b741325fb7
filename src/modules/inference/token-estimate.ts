
/**
 * Prompt size for the balance hold and the tokens-per-minute limits, from the body's length alone
 * (no tokenizer on the hot path): one token per three bytes of JSON is above the real count for
 * English (about four characters a token) and close for CJK text (three bytes a character, about a
 * token each). The hold is settled against the upstream's real usage afterwards.
 */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 3);
}

/** Every string in a chat `messages` array, a `prompt` or an `input`, concatenated for counting. */
export function promptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (depth > 8) return;
    if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.content === 'string' || Array.isArray(o.content)) visit(o.content, depth + 1);
      if (typeof o.text === 'string') parts.push(o.text);
    }
  };
  visit(body.messages ?? body.prompt ?? body.input, 0);
  return parts.join('\n');
}

/**
 * Token counts when an upstream reports none (vLLM without `stream_options`, a stream cut before
 * its usage chunk): counted with an o200k tokenizer, the closest public one for current models.
 */
export function countTextTokens(text: string): number {
  if (!text) return 0;
  // Loaded on first use: its o200k tables take about 70 MB, and most upstreams report usage.
  tokenizer ??= (require('gpt-tokenizer') as typeof import('gpt-tokenizer')).countTokens;
  return tokenizer(text);
}

let tokenizer: ((text: string) => number) | undefined;
