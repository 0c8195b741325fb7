import { AppConfig, buildConfigSchema } from './config.schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The one place that reads process.env. Every problem is reported at once, each naming its
 * variable, and the values themselves are never echoed (they may hold secrets).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const configSchema = buildConfigSchema(env.NODE_ENV === 'production');
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    input[key] = value === '' ? undefined : value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
      return `${name} ${message}`;
    });
    throw new ConfigError(problems);
  }
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(parsed.data);
}

/**
 * Settings only some processes need (the owner URL for migrations, the system URL for the worker
 * and the cli): each process asks for its own, so the api never has to hold the others' secrets.
 */
export function requireSettings<K extends keyof AppConfig>(
  config: AppConfig,
  names: readonly K[],
  who: string,
): AppConfig & { [P in K]-?: NonNullable<AppConfig[P]> } {
  const missing = names.filter((name) => config[name] === undefined || config[name] === '');
  if (missing.length > 0) throw new ConfigError(missing.map((name) => `${String(name)} is required by ${who}`));
  return config as AppConfig & { [P in K]-?: NonNullable<AppConfig[P]> };
}

/** Settings that are each valid but not together. */
function crossChecks(config: AppConfig): string[] {
  const problems: string[] = [];
  if (config.REDIS_CLUSTER_NODES.trim() && config.REDIS_SENTINELS.trim()) {
    problems.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: a Redis is either a Cluster or a master watched by Sentinels; set one of them');
  }
  if (config.REDIS_CLUSTER_NODES.trim()) {
    const path = new URL(config.REDIS_URL).pathname;
    if (path && path !== '/' && path !== '/0') problems.push('REDIS_URL names a database other than 0, which a Redis Cluster does not have (REDIS_CLUSTER_NODES is set)');
  }
  return problems;
}
