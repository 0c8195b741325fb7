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

const channelEncryptionKeys = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a JSON array of {"kid","k"} keys' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z.object({
          kid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'kid: letters, digits, - and _'),
          k: z.string().refine((k) => Buffer.from(k, 'base64url').length === 32, 'k must be 32 bytes, base64url'),
        }),
        { message: 'must be a JSON array of {"kid","k"} keys' },
      )
      .min(1, 'must hold at least one key')
      .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, 'every key needs a unique kid'),
  );

/**
 * Outside production, when CHANNEL_ENCRYPTION_KEYS is unset: one fixed, public key, so the api,
 * the worker and the cli of one machine agree. `npm run dev` replaces it with a generated one.
 */
export const LOCAL_CHANNEL_ENCRYPTION_KEYS = '[{"kid":"local-insecure","k":"bG9jYWwtZGV2ZWxvcG1lbnQtb25seS1ub3Qtc2VjcmU"}]';

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
  /** OpenTelemetry tracing: on when true, or (unset) when OTEL_EXPORTER_OTLP_ENDPOINT is set; off by default. */
  TRACING_ENABLED: booleanFlag.optional(),
  /** The OTLP/HTTP collector's base URL (spans go to <url>/v1/traces). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** The traces' service name (default aigateway-api / aigateway-worker). */
  OTEL_SERVICE_NAME: z.string().min(1).max(100).optional(),
  /** Share of new traces sampled (0 to 1); a request continuing a client's sampled `traceparent` follows the client's decision. */
  TRACING_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(1),
  /**
   * Optional PostgreSQL URL of a read replica (application role). Reports read there: statements,
   * usage summaries, usage records and their CSV export, top customers; everything else on DATABASE_URL.
   */
  DATABASE_REPLICA_URL: postgresUrl.optional(),
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
  /**
   * Sent as the `statement_timeout` startup parameter of each connection. 0 sends none (the role's
   * own `statement_timeout` applies): PgBouncer refuses connections with startup parameters it
   * does not know, unless told to ignore them (see the chart's README, "PostgreSQL behind PgBouncer").
   */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .refine((ms) => ms === 0 || ms >= 100, 'must be 0 (no timeout sent; the role setting applies) or at least 100')
    .default(15000),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(5000),
  REDIS_URL: localDefault(redisUrl, `redis://127.0.0.1:${LOCAL_REDIS_PORT}`),
  /** Redis Sentinels (`host:port,host:port`): the master is asked of them; REDIS_URL keeps credentials, database and TLS. */
  REDIS_SENTINELS: z
    .string()
    .default('')
    .refine((v) => v.trim() === '' || v.split(',').every((e) => /^\s*\[?[^\]\s]+?\]?:\d{1,5}\s*$/.test(e)), 'must be host:port[,host:port...]'),
  /** The master set the Sentinels watch. */
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  /**
   * Redis Cluster: `host:port` of some of its nodes (the others are discovered). Every client is then
   * a cluster client and every BullMQ queue a hash-tagged prefix; REDIS_URL keeps credentials and TLS
   * (database 0 only). Not together with REDIS_SENTINELS.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .default('')
    .refine((v) => v.trim() === '' || v.split(',').every((e) => /^\s*\[?[^\]\s]+?\]?:\d{1,5}\s*$/.test(e)), 'must be host:port[,host:port...]'),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(1000).max(600000).default(25000),
  TRUST_PROXY: booleanFlag.default('false'),
  PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  /** The built browser console (`npm run build` puts it here), served at /console/ on every tenant domain; relative to the working directory. */
  CONSOLE_DIR: z.string().min(1).default('dist/web'),
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
  /** Self sign-up: attempts per client IP and per e-mail address an hour (429 beyond). */
  SIGN_UP_MAX_PER_IP_HOUR: z.coerce.number().int().min(1).max(100000).default(10),
  SIGN_UP_MAX_PER_ADDRESS_HOUR: z.coerce.number().int().min(1).max(1000).default(3),
  EMAIL_VERIFICATION_TTL_HOURS: z.coerce.number().int().min(1).max(30 * 24).default(48),
  /** OpenID Connect sign-in: how long a started sign-in (state, nonce, PKCE verifier) waits for the provider's answer. */
  OIDC_FLOW_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(600),
  /** Single sign-ons a client IP may start a minute (each keeps a flow in Redis until it ends or expires). */
  OIDC_START_MAX_PER_IP_MINUTE: z.coerce.number().int().min(1).max(100000).default(30),
  /** Each request to a tenant's identity provider (discovery, keys, token, userinfo) must end within this. */
  OIDC_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** Let identity providers be reached at private, loopback and link-local addresses (an in-house provider, tests). */
  OIDC_ALLOW_PRIVATE_NETWORKS: booleanFlag.default('false'),
  TENANT_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /**
   * Domain ownership verification: the DNS servers asked for the TXT record (and, for the HTTP
   * token file, the domain's address), as ip or ip:port, comma-separated; empty: the system's.
   */
  DOMAIN_VERIFY_DNS_SERVERS: z
    .string()
    .default('')
    .refine((v) => v.trim() === '' || v.split(',').every((e) => /^\s*(\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:.]+)\s*$/.test(e)), 'must be ip[:port][,ip[:port]...]'),
  /** Each DNS query and the HTTP token-file fetch must end within this. */
  DOMAIN_VERIFY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** Let the HTTP token file be fetched from private, loopback and link-local addresses (development, tests). */
  DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS: booleanFlag.default('false'),
  /** The port the HTTP token file is fetched from (80 in production; tests serve it elsewhere). */
  DOMAIN_VERIFY_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(80),
  /** The worker re-checks pending domains this often (0: never; the verify route still checks). */
  DOMAIN_VERIFY_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** A domain still pending this many days after it was added is removed. */
  DOMAIN_VERIFY_PENDING_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** Inference API (/v1): largest request body accepted, in bytes. */
  INFERENCE_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(10 * 1024 * 1024),
  /**
   * POST /v1/audio/transcriptions: largest upload accepted, in bytes (OpenAI's own limit is 25 MB).
   * A body declared or streamed beyond it is refused with 413 before it is read in full.
   */
  INFERENCE_AUDIO_UPLOAD_LIMIT_BYTES: z.coerce.number().int().min(1024).max(200 * 1024 * 1024).default(25 * 1024 * 1024),
  /** Output tokens held for when a request sets no max_tokens (times n). */
  INFERENCE_DEFAULT_MAX_OUTPUT_TOKENS: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /** Requests and tokens per minute per customer and per tenant, across their keys (0: no limit). */
  INFERENCE_CUSTOMER_RPM: z.coerce.number().int().min(0).default(0),
  INFERENCE_CUSTOMER_TPM: z.coerce.number().int().min(0).default(0),
  INFERENCE_TENANT_RPM: z.coerce.number().int().min(0).default(0),
  INFERENCE_TENANT_TPM: z.coerce.number().int().min(0).default(0),
  /** Requests per minute to /v1 from one client address within a tenant (0: no limit); a tenant's stored value wins. */
  INFERENCE_IP_RPM: z.coerce.number().int().min(0).default(0),
  /**
   * Requests in flight at once per API key and per customer (0: no cap): the defaults where the
   * database sets none (a customer's or tenant's own limits, a key's own cap win).
   */
  INFERENCE_KEY_CONCURRENCY: z.coerce.number().int().min(0).default(0),
  INFERENCE_CUSTOMER_CONCURRENCY: z.coerce.number().int().min(0).default(0),
  /** A concurrency slot of a request that never settled (its process died) is free again after this. */
  INFERENCE_CONCURRENCY_LEASE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** No new upstream attempt starts later than this after a request arrived. */
  INFERENCE_FAILOVER_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Unreleased holds of a crashed instance expire after this; the worker releases them. */
  INFERENCE_HOLD_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  /** Where settlements wait (fsynced) while Redis is unreachable; must survive a restart of the process. */
  INFERENCE_SPOOL_DIR: z.string().min(1).default('.data/spool'),
  /**
   * A settle call Redis has not answered within this goes to the spool instead (the answer waits
   * for its settlement, so a Redis that hangs must not hold it for long; a late settle is a
   * duplicate the replay skips).
   */
  INFERENCE_SETTLE_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  /**
   * While a stream runs, what it has delivered is kept on its hold this often (at most): an api
   * that dies mid-stream leaves that charge to the expired-holds sweeper (0: never).
   */
  INFERENCE_STREAM_CHECKPOINT_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
  /** Port of /metrics (api and worker), never the traffic port; 0 picks a free one (tests). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Largest request body of the admin API (/api/...); its routes need little. */
  API_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
  /** Backstop TTL of the in-process API-key and price caches (changes arrive by Redis pub/sub first). */
  KEY_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  PRICE_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * AES-256-GCM keys for upstream API keys at rest, JSON `[{"kid","k"}]` (k: 32 bytes base64url):
   * the first encrypts, all decrypt. Required in production; `npm run cli -- generate-channel-key`.
   */
  CHANNEL_ENCRYPTION_KEYS: production ? channelEncryptionKeys : localDefault(channelEncryptionKeys, LOCAL_CHANNEL_ENCRYPTION_KEYS),
  /** Let channels reach private, loopback and link-local addresses (vLLM on a private network, local fakes). */
  CHANNEL_ALLOW_PRIVATE_NETWORKS: booleanFlag.default('false'),
  /** How often the worker checks every channel with a tiny real request. */
  CHANNEL_HEALTH_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(3600).default(30),
  /** Failed checks in a row before the worker auto-disables a channel (one success re-enables it). */
  CHANNEL_AUTO_DISABLE_AFTER: z.coerce.number().int().min(1).max(100).default(3),
  /** Backstop reload of each api instance's routing table (changes arrive at once through Redis). */
  CHANNEL_REFRESH_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** Circuit breaker: failures in a row that open it, and the cool-down before one probe. */
  CHANNEL_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  CHANNEL_BREAKER_COOLDOWN_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** Metering (worker): events per PostgreSQL transaction, and how long a pending event may idle before another worker reclaims it. */
  /** Metering processor in the worker (BullMQ drain jobs reading the tenants' usage streams with a consumer group). */
  METERING_ENABLED: booleanFlag.default('true'),
  /** Drain jobs one worker runs at once (the BullMQ concurrency of the metering queue). */
  METERING_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
  /** Shards of the usage streams: one drain job (job scheduler) per shard; a tenant's stream is in shard sha1(tenant) mod shards. */
  METERING_SHARDS: z.coerce.number().int().min(1).max(256).default(4),
  /** How often the worker re-reads the tenants (one usage stream each). */
  METERING_TENANT_REFRESH_MS: z.coerce.number().int().min(100).max(600000).default(10000),
  /**
   * Usage events per PostgreSQL transaction (a read takes what the stream holds, up to this many).
   * 1000 since issue 29: half the per-batch work (statements, ledger posting, stream reads) per event.
   */
  METERING_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(1000),
  METERING_CLAIM_IDLE_MS: z.coerce.number().int().min(1000).max(3600000).default(60000),
  /** Deliveries after which a usage event that still fails on its own (other writes succeed) goes to the dead-letter stream; database outages never count. */
  METERING_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100).default(5),
  /** Interval of each shard's drain job scheduler: after a job found less than a full batch, events gather this long for the next one (minimum 20). */
  METERING_LINGER_MS: z.coerce.number().int().min(0).max(5000).default(200),
  /** How long raw usage records are kept (daily rollups are kept for good). */
  USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /**
   * Top-ups (issue 21). Stripe's API base URL: the real one by default; a local Stripe-compatible
   * server (stripe-mock, the tests' fake) otherwise. Keys and webhook secrets are per tenant
   * (payment settings), not process-wide.
   */
  STRIPE_API_URL: z
    .string()
    .url()
    .refine((v) => /^https?:\/\//.test(v), 'must be an http or https URL')
    .default('https://api.stripe.com'),
  /**
   * A top-up order not paid within this many minutes expires; its Checkout Session expires with
   * it. Stripe wants 30 minutes to 24 hours from its own clock when the session is created, hence
   * at least 31 (the order is written a moment before the session is asked for).
   */
  TOPUP_ORDER_TTL_MINUTES: z.coerce.number().int().min(31).max(1440).default(60),
  /** Calls to a tenant's Epay gateway must end within this. */
  PAYMENT_GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Let a tenant's Epay gateway URL point to private, loopback and link-local addresses (tests, private gateways). */
  PAYMENT_GATEWAY_ALLOW_PRIVATE_NETWORKS: booleanFlag.default('false'),
  /** Redemption attempts (right or wrong) one customer may make per hour. */
  REDEEM_MAX_ATTEMPTS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10),
  /** Redemption attempts (right or wrong) one client IP may make per hour. */
  REDEEM_MAX_ATTEMPTS_PER_IP: z.coerce.number().int().min(1).max(100_000).default(30),
  /** Largest amount one withdrawal request may ask for (currency units); the settled margin limits it too. */
  WITHDRAWAL_MAX_AMOUNT: z
    .string()
    .regex(/^(0|[1-9]\d{0,17})(\.\d{1,9})?$/, 'must be a decimal amount with at most 9 decimals')
    .refine((v) => /[1-9]/.test(v), 'must be more than zero')
    .default('1000000'),
  /**
   * Platform-wide low-balance threshold (a decimal string, e.g. "1.00"): a wallet whose balance drops
   * to it or below publishes `billing.low_balance`, unless its customer or tenant sets its own. "0": off.
   */
  LOW_BALANCE_DEFAULT_THRESHOLD: z
    .string()
    .trim()
    .regex(/^\d{1,12}(\.\d{1,9})?$/, 'must be a non-negative decimal string with at most 9 decimals, e.g. "1.00" (0: off)')
    .default('1.00'),
  /** Settlement statements (worker): the period closed (UTC; weeks start on Monday). */
  SETTLEMENT_PERIOD: z.enum(['day', 'week', 'month']).default('day'),
  /** A period closes only once its end is this far in the past (late usage still arriving). */
  SETTLEMENT_GRACE_SECONDS: z.coerce.number().int().min(0).max(7 * 86400).default(600),
  /** How often the worker looks for periods to close (and catches up missed ones). */
  SETTLEMENT_CLOSE_INTERVAL_SECONDS: z.coerce.number().int().min(10).max(86400).default(300),
  /** At most this many periods per tenant are closed in one run (catch-up is bounded). */
  SETTLEMENT_MAX_PERIODS_PER_RUN: z.coerce.number().int().min(1).max(1000).default(62),
  /** Schedule the close in the worker (off: statements are closed only when called explicitly). */
  SETTLEMENT_ENABLED: booleanFlag.default('true'),
  /** Outgoing webhooks (docs/webhooks.md). How often the worker's relay fans new events out to endpoints. */
  WEBHOOK_RELAY_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  /** Events per relay transaction. */
  WEBHOOK_RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  /** A pending delivery without progress for this long gets its job enqueued again (lost after a Redis failure). */
  WEBHOOK_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /** One attempt (connect, request, response body) must end within this. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** First retry delay; each next one doubles (30 s x 2^n over 12 attempts: about 17 hours). */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(12),
  /** Bytes of a receiver's response read at most (a 1 KiB snippet is kept). */
  WEBHOOK_RESPONSE_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
  /** Deliveries sent at once by one worker. */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** Let endpoints reach private, loopback and link-local addresses (receivers on a private network, tests). */
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: booleanFlag.default('false'),
  /** Webhook events older than this, dispatched and with no pending delivery, are deleted with their deliveries and attempts. */
  WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** An endpoint whose last this-many deliveries all failed for good is disabled (0: never). */
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(0).max(10000).default(20),
  /** `key.expiring` is published once when an active key expires within this many days (0: never). */
  KEY_EXPIRY_NOTICE_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  });
}

export type AppConfig = z.infer<ReturnType<typeof buildConfigSchema>>;
