import { z } from 'zod';


const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL');

const port = z.coerce.number().int().min(1).max(65535);

const jwkSet = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a JSON array of private JWKs' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z
          .object({ kty: z.literal('EC'), crv: z.literal('P-256'), kid: z.string().min(1), d: z.string().min(1), x: z.string(), y: z.string() })
          .passthrough(),
        { message: 'must be a JSON array of private JWKs' },
      )
      .min(1, 'must hold at least one key')
      .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, 'every key needs a unique kid'),
  );

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Local defaults match what `npm run dev` starts (scripts/local-infra.ts). */
export const LOCAL_POSTGRES_PORT = 5433;
export const LOCAL_REDIS_PORT = 6380;

/**
 * Outside production every value has a default that runs locally; production must say what it
 * connects to, so the connection URLs have no default there.
 */
export function buildConfigSchema(production: boolean) {
  const localDefault = <T extends z.ZodTypeAny>(schema: T, value: z.input<T>) =>
    production ? schema : schema.default(value);
  // Needed by some processes only: optional in production, checked by the process that needs it.
  const localDefaultOrOptional = <T extends z.ZodTypeAny>(schema: T, value: z.input<T>) =>
    production ? schema.optional() : schema.default(value);
  return z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  WORKER_PORT: port.default(3001),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: localDefault(
    postgresUrl,
    `postgres://aigateway_app:aigateway_app@127.0.0.1:${LOCAL_POSTGRES_PORT}/aigateway`,
  ),
  /** Owner role: only `cli migrate` uses it (see requireSettings). */
  DATABASE_ADMIN_URL: localDefaultOrOptional(
    postgresUrl,
    `postgres://aigateway_owner:aigateway_owner@127.0.0.1:${LOCAL_POSTGRES_PORT}/aigateway`,
  ),
  /** System role: only the worker and the cli use it; the api never holds it. */
  DATABASE_SYSTEM_URL: localDefaultOrOptional(
    postgresUrl,
    `postgres://aigateway_system:aigateway_system@127.0.0.1:${LOCAL_POSTGRES_PORT}/aigateway`,
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(15000),
  REDIS_URL: localDefault(redisUrl, `redis://127.0.0.1:${LOCAL_REDIS_PORT}`),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(1000).max(600000).default(25000),
  TRUST_PROXY: booleanFlag.default('false'),
  PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  SMTP_URL: z
    .string()
    .url()
    .refine((v) => /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL')
    .default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().min(3).default('AIGateway <no-reply@aigateway.localhost>'),
  /**
   * Private JWKs (JSON array, ES256, each with a unique `kid`) for access tokens: the first signs,
   * all verify, so a key can be rotated in before the old one is removed. Generate one with
   * `npm run cli -- generate-jwt-key`. Outside production a key is generated at start when unset.
   */
  JWT_SIGNING_KEYS: production ? jwkSet : jwkSet.optional(),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(3600).max(90 * 24 * 3600).default(30 * 24 * 3600),
  INVITATION_TTL_HOURS: z.coerce.number().int().min(1).max(30 * 24).default(7 * 24),
  PASSWORD_RESET_TTL_MINUTES: z.coerce.number().int().min(5).max(24 * 60).default(60),
  /** Failed sign-ins per account before it is locked; the same window counts per IP (x4). */
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(2).max(100).default(8),
  LOGIN_LOCK_SECONDS: z.coerce.number().int().min(10).max(86400).default(900),
  /** First delay added after repeated failures; doubles with each further failure (max 4 s). */
  LOGIN_SLOWDOWN_MS: z.coerce.number().int().min(0).max(2000).default(250),
  TENANT_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Metering (worker): events per PostgreSQL transaction, and how long a pending event may idle before another worker reclaims it. */
  /** Metering processor in the worker (consumer group on the tenants' usage streams). */
  METERING_ENABLED: booleanFlag.default('true'),
  /** Batches written at once by one worker (each loop is its own consumer in the group). */
  METERING_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
  /** How often the worker re-reads the tenants (one usage stream each). */
  METERING_TENANT_REFRESH_MS: z.coerce.number().int().min(100).max(600000).default(10000),
  METERING_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  METERING_CLAIM_IDLE_MS: z.coerce.number().int().min(1000).max(3600000).default(60000),
  /** Deliveries after which a usage event that still fails goes to the dead-letter stream. */
  METERING_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100).default(5),
  /** How long raw usage records are kept (daily rollups are kept for good). */
  USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /** Stripe webhook signing secret (`whsec_...`); without it the webhook answers 503. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  });
}

export type AppConfig = z.infer<ReturnType<typeof buildConfigSchema>>;
