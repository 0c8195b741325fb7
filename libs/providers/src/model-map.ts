/** One line of a channel's model list: a public name (may hold one `*`) and the upstream's name for it. */
export interface ModelMapping {
  public: string;
  /** The upstream's name; a `*` here is replaced by what the public wildcard matched. Defaults to the public name. */
  upstream?: string | null;
}

interface WildcardRule {
  prefix: string;
  suffix: string;
  upstream: string | null;
}

/**
 * Resolves public model names to upstream names for one channel. Exact names win over
 * wildcards; among wildcards, the longest literal part wins (the most specific rule).
 */
export class ModelMap {
  private readonly exact = new Map<string, string>();
  private readonly wildcards: WildcardRule[] = [];

  constructor(mappings: readonly ModelMapping[]) {
    for (const mapping of mappings) {
      const star = mapping.public.indexOf('*');
      if (star === -1) {
        if (!this.exact.has(mapping.public)) this.exact.set(mapping.public, mapping.upstream || mapping.public);
      } else {
        this.wildcards.push({ prefix: mapping.public.slice(0, star), suffix: mapping.public.slice(star + 1), upstream: mapping.upstream || null });
      }
    }
    this.wildcards.sort((a, b) => b.prefix.length + b.suffix.length - (a.prefix.length + a.suffix.length));
  }

  /** The upstream name for `model`, or null when this channel does not serve it. */
  resolve(model: string): string | null {
    const exact = this.exact.get(model);
    if (exact !== undefined) return exact;
    for (const rule of this.wildcards) {
      if (model.length >= rule.prefix.length + rule.suffix.length && model.startsWith(rule.prefix) && model.endsWith(rule.suffix)) {
        if (!rule.upstream) return model;
        const matched = model.slice(rule.prefix.length, model.length - rule.suffix.length);
        return rule.upstream.replace('*', matched);
      }
    }
    return null;
  }

  /** Public names without wildcards (for /v1/models). */
  get exactNames(): string[] {
    return [...this.exact.keys()];
  }
}

/** Public and upstream names: letters, digits and `.-_:/@`, at most one `*` in the public name. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*\*?[A-Za-z0-9._:/@-]*$|^\*$/;

/** A concrete upstream model to send a health check to: the first mapping without a wildcard. */
export function probeModelOf(mappings: readonly ModelMapping[]): string | null {
  for (const m of mappings) {
    const upstream = m.upstream || m.public;
    if (!upstream.includes('*')) return upstream;
  }
  return null;
}
