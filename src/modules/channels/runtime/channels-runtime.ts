import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { AppConfig, APP_CONFIG } from '@app/config';
import { CompiledPrice, compiledCostUnits, compilePrice } from '@app/money';
import {
  adapterFor,
  joinUrl,
  sendUpstream,
  BREAKER_STATE_VALUE,
  Candidate,
  CHANNEL_METRIC,
  ChannelLabels,
  ChannelPool,
  ChannelRouter,
  createUpstreamAgent,
  Endpoint,
  exchange,
  failover,
  noChannelError,
  openAIError,
  Rng,
  RoutingChannel,
  RoutingKey,
  SecretBoxError,
  UpstreamError,
  UpstreamExchange,
} from '@app/providers';
import { ChannelKeyRejectedJob, ChannelQuotaExhaustedJob, ChannelsJob, QueueName } from '@app/queue';
import { REDIS, RedisConnections } from '@app/redis';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { Agent } from 'undici';
import { CHANNELS_CHANGED_TOPIC } from '../channel-events';
import { ChannelSecrets } from '../channel-secrets';
import { ChannelsRepository, RoutingRow } from '../channels.repository';
import { ChannelLimiter, ChannelReservation, hasLimits } from './channel-limits';
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { failSpan, TraceScope, traceparentOf } from '@app/observability';

/** Injection token of the router's random source (tests put a seeded one there). */
export const CHANNEL_ROUTER_RNG = Symbol('CHANNEL_ROUTER_RNG');

export interface UpstreamCall {
  endpoint: Endpoint;
  /** The client's OpenAI-shaped body, as validated by the proxy (model = the public name). */
  body: Record<string, unknown>;
  /** The public model name. */
  model: string;
  pool?: ChannelPool;
  /** Keeps one user on one upstream (its prompt cache) while that upstream is healthy. */
  stickyKey?: string;
  stream: boolean;
  /** Ask the upstream for usage in streams (default true; the proxy drops the usage-only chunk when the client did not ask). */
  includeUsage?: boolean;
  /** The client went away: aborts the upstream request. */
  signal?: AbortSignal;
  /** Sent upstream as x-request-id. */
  requestId?: string;
  /** Client protocol headers for an upstream that speaks the client's protocol (anthropic-version, anthropic-beta). */
  clientHeaders?: Record<string, string>;
  /**
   * After this long (ms from now) no new attempt starts (failover stops); an attempt already
   * started runs under its channel's own first-byte and total timeouts. Default: the first
   * channel's total timeout.
   */
  deadlineMs?: number;
  /**
   * What the call may use at most (the prompt's estimated tokens and the output cap): taken from
   * the channel's tokens-per-minute and, priced at the channel's cost, from its daily spend cap
   * when the channel is picked; corrected by `reconcile` once the usage is known.
   */
  estimate?: { input: number; output: number };
  /** The request's trace: each attempt is a child span, whose traceparent the upstream receives. */
  trace?: TraceScope | null;
  /** Tracing off: the client's own traceparent, passed to the upstream unchanged. */
  traceparent?: string | string[];
}

export interface UpstreamCallResult {
  exchange: UpstreamExchange;
  channel: RoutingChannel;
  upstreamModel: string;
  /** Attempts made (1 = the first channel answered). */
  attempts: number;
  /**
   * For streams: call once the stream ended, with the error if it failed mid-way (null if it
   * completed, or if the client went away). Feeds the breaker and metrics. For JSON results it
   * does nothing (already recorded).
   */
  finish(error?: UpstreamError | null): void;
  /** What the call took from the channel's own limits (null: the channel has none); see ChannelsRuntime.reconcile. */
  reservation: ChannelReservation | null;
}

function breakerOpen(): UpstreamError {
  return new UpstreamError('connect', 503, openAIError('No upstream is available for this model right now; retry shortly.', 'api_error', 'no_available_channel'));
}

/**
 * The hot path's view of channels, in memory on each api instance: the routing table (loaded from
 * PostgreSQL at start through `tenancy.channel_routing_table()`, reloaded when Redis announces a
 * change and on a timer), the pooled upstream connections per channel, key round-robin, circuit
 * breakers, failover and per-channel metrics. Nothing here touches PostgreSQL per request.
 */
@Injectable()
export class ChannelsRuntime implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChannelsRuntime.name);
  readonly router: ChannelRouter;
  private readonly agents = new Map<string, { signature: string; agent: Agent }>();
  private subscriber: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private loadedAt = 0;
  private readonly limiter: ChannelLimiter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ChannelsRepository,
    private readonly secrets: ChannelSecrets,
    private readonly connections: RedisConnections,
    @InjectQueue(QueueName.Channels) private readonly queue: Queue<ChannelKeyRejectedJob | ChannelQuotaExhaustedJob>,
    @Inject(CHANNEL_ROUTER_RNG) rng: Rng,
    @Inject(REDIS) redis: Redis,
    @InjectMetric(CHANNEL_METRIC.requestsTotal) private readonly channelRequestsTotal: Counter<ChannelLabels | 'outcome'>,
    @InjectMetric(CHANNEL_METRIC.errorsTotal) private readonly channelErrorsTotal: Counter<ChannelLabels | 'kind'>,
    @InjectMetric(CHANNEL_METRIC.latency) private readonly channelLatency: Histogram<ChannelLabels>,
    @InjectMetric(CHANNEL_METRIC.breakerState) channelBreakerState: Gauge<ChannelLabels>,
  ) {
    this.limiter = new ChannelLimiter(redis);
    this.router = new ChannelRouter({
      rng,
      breaker: {
        consecutiveFailures: config.CHANNEL_BREAKER_FAILURES,
        failureRate: 0.5,
        minRequests: 20,
        windowMs: 60_000,
        cooldownMs: config.CHANNEL_BREAKER_COOLDOWN_SECONDS * 1000,
      },
      onBreakerChange: (channel, state) => {
        channelBreakerState.set({ channel_id: channel.id, channel: channel.name }, BREAKER_STATE_VALUE[state as keyof typeof BREAKER_STATE_VALUE]);
        this.logger.warn({ channelId: channel.id, channel: channel.name, state }, 'channel circuit breaker changed');
      },
    });
  }

  async onModuleInit(): Promise<void> {
    this.subscriber = this.connections.open('channels-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (topic: string) => {
      if (topic === CHANNELS_CHANGED_TOPIC) void this.refresh();
    });
    // ioredis subscribes again after a reconnect; a change missed meanwhile is caught by the timer.
    this.subscriber.subscribe(CHANNELS_CHANGED_TOPIC).catch((error: unknown) => this.logger.warn({ err: String(error) }, 'channel change subscription failed; relying on the refresh timer'));
    this.timer = setInterval(() => void this.refresh(), this.config.CHANNEL_REFRESH_SECONDS * 1000);
    this.timer.unref();
    await this.refresh();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.agents.values()].map(({ agent }) => agent.close().catch(() => undefined)));
    this.agents.clear();
  }

  /** Reloads the routing table now (coalesces concurrent calls; never throws). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const rows = await this.repository.routingTable(this.dataSource.manager);
          this.router.replace(rows.map((row) => this.toRouting(row)));
          this.retireAgents();
          this.loadedAt = Date.now();
        } catch (error) {
          this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'could not load the channel routing table; keeping the previous one');
        }
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** When the table was last loaded (ms since epoch; 0: never). */
  get lastLoadedAt(): number {
    return this.loadedAt;
  }

  /**
   * The protocols a model can be called with, by the channels that serve it: chat completions on
   * every channel, Messages and Responses too (passed through or translated), completions and
   * embeddings where the upstream has them (Anthropic has neither, Gemini no completions).
   */
  protocolsOf(model: string): string[] {
    const types = [...this.router.providersOf(model)];
    const all: Array<[string, Endpoint]> = [
      ['chat.completions', 'chat'],
      ['completions', 'completions'],
      ['embeddings', 'embeddings'],
      ['messages', 'messages'],
      ['responses', 'responses'],
      ['moderations', 'moderations'],
      ['rerank', 'rerank'],
      ['images.generations', 'images'],
      ['audio.transcriptions', 'transcriptions'],
      ['audio.speech', 'speech'],
    ];
    return all.filter(([, endpoint]) => types.some((t) => adapterFor(t, endpoint).supports(endpoint))).map(([name]) => name);
  }

  /** Whether any enabled channel serves the model (tells 404 model_not_found from 503). */
  serves(model: string): boolean {
    return this.router.serves(model);
  }

  /** Public model names with an enabled channel (exact names; wildcards are not listed). */
  models(pool?: ChannelPool): string[] {
    return this.router.models(pool);
  }

  /**
   * Routes one call: picks the channels for the model and pool, and tries them in order until one
   * answers (JSON: the whole parsed answer; stream: its first events), failing over on a connect
   * error, a timeout, a 5xx, a 429 or a refused key, within the retry budget and the deadline.
   * Throws UpstreamError (its `status` and `body` are what the client may see); 503
   * `no_available_channel` when no channel is available.
   */
  async send(call: UpstreamCall): Promise<UpstreamCallResult> {
    const routed = this.router.pick(call.model, call.pool ?? 'standard', call.stickyKey);
    if (!routed.length) throw noChannelError();
    // Anthropic has no embeddings or legacy completions, Gemini no legacy completions.
    const candidates = routed.filter((c) => adapterFor(c.channel.provider, call.endpoint).supports(call.endpoint));
    if (!candidates.length) {
      throw new UpstreamError('http_4xx', 400, openAIError(`The model ${call.model} does not support this endpoint.`, 'invalid_request_error', 'unsupported_endpoint', 'model'));
    }
    const deadline = Date.now() + (call.deadlineMs ?? candidates[0].channel.totalTimeoutMs);
    const result = await failover(
      candidates,
      async (candidate) => {
        const { channel } = candidate;
        const breaker = this.router.breaker(channel.id);
        if (!breaker.tryAcquire()) throw breakerOpen();
        const key = this.router.nextKey(channel);
        if (!key) {
          breaker.release();
          throw breakerOpen();
        }
        let reservation: ChannelReservation | null = null;
        if (hasLimits(channel.limits)) {
          const estimate = call.estimate ?? { input: 0, output: 0 };
          const price = this.upstreamCost(channel, call.model, candidate.upstreamModel);
          const cost = price ? compiledCostUnits({ input: estimate.input, output: estimate.output }, price) : 0n;
          try {
            reservation = await this.limiter.acquire(channel.id, channel.limits, `${call.requestId ?? ''}:${randomUUID()}`, estimate.input + estimate.output, cost);
          } catch (error) {
            breaker.release();
            throw error;
          }
        }
        const span = call.trace?.child('upstream', { 'aigateway.channel_id': channel.id, 'aigateway.channel': channel.name, 'aigateway.model': call.model, 'aigateway.upstream_model': candidate.upstreamModel, 'aigateway.provider': channel.provider }, SpanKind.CLIENT);
        const passed = Array.isArray(call.traceparent) ? call.traceparent[0] : call.traceparent;
        const traceparent = span ? traceparentOf(span) : passed && passed.length <= 100 ? passed : undefined;
        try {
          const result = await exchange({
            adapter: adapterFor(channel.provider, call.endpoint),
            dispatcher: this.agentFor(channel),
            endpoint: call.endpoint,
            body: call.body,
            target: { baseUrl: channel.baseUrl, apiKey: key.secret, upstreamModel: candidate.upstreamModel, settings: channel.settings },
            publicModel: call.model,
            stream: call.stream,
            includeUsage: call.includeUsage ?? true,
            firstByteMs: channel.firstByteTimeoutMs,
            // Each attempt has its channel's own timeouts; the failover deadline only bounds when
            // a new attempt may start (a 10-minute reasoning stream must not be cut at 30 s).
            totalMs: channel.totalTimeoutMs,
            signal: call.signal,
            allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS,
            headers: call.requestId || traceparent ? { ...(call.requestId ? { 'x-request-id': call.requestId } : {}), ...(traceparent ? { traceparent } : {}) } : undefined,
            clientHeaders: call.clientHeaders,
          });
          this.channelLatency.observe({ channel_id: channel.id, channel: channel.name }, result.firstByteMs / 1000);
          if (result.kind === 'json') this.recordSuccess(channel);
          else breaker.success(); // the stream started: the channel answers; a later cut is counted by finish()
          if (span) {
            span.setAttribute('http.response.status_code', 200);
            span.setAttribute('aigateway.first_byte_ms', result.firstByteMs);
            span.end();
          }
          return { result, key, reservation };
        } catch (error) {
          if (span) {
            if (error instanceof UpstreamError) span.setAttributes({ 'http.response.status_code': error.status, 'aigateway.failure': error.kind });
            failSpan(span, error);
            span.end();
          }
          if (error instanceof UpstreamError) this.recordFailure(candidate, key, error);
          else breaker.release();
          // The request reached the channel (it counts in its requests per minute) but used nothing.
          if (reservation) void this.limiter.reconcile(reservation, 0, 0n);
          throw error;
        }
      },
      { retryBudget: candidates[0].channel.retryBudget, deadline, signal: call.signal },
    );
    const { channel, upstreamModel } = result.candidate;
    let finished = result.value.result.kind === 'json';
    return {
      exchange: result.value.result,
      channel,
      upstreamModel,
      attempts: result.attempts,
      reservation: result.value.reservation,
      finish: (error) => {
        if (finished) return;
        finished = true;
        if (error && error.channelFault) this.recordFailure(result.candidate, result.value.key, error);
        else this.channelRequestsTotal.inc({ channel_id: channel.id, channel: channel.name, outcome: 'ok' });
      },
    };
  }

  /** Corrects a call's share of its channel's limits by the tokens and upstream cost it really used. */
  async reconcile(reservation: ChannelReservation | null, tokens: number, upstreamCostUnits: bigint): Promise<void> {
    if (reservation) await this.limiter.reconcile(reservation, tokens, upstreamCostUnits);
  }

  /** A channel's circuit breaker as this instance sees it (null: the channel is not in this instance's table). */
  breakerState(channelId: string): string | null {
    return this.router.channel(channelId) ? this.router.breaker(channelId).state : null;
  }

  /** What channels used of their limits now (shared by every instance: it lives in Redis). */
  limitsUsage(channelId: string) {
    return this.limiter.usage(channelId);
  }

  /**
   * Anthropic's count of a Messages request's tokens (`/v1/messages/count_tokens` of the first
   * healthy Anthropic channel serving the model, the model renamed), or null when no Anthropic
   * channel serves it or its answer is not a count: the caller counts itself then.
   */
  async countTokens(model: string, body: Record<string, unknown>, clientHeaders: Record<string, string>): Promise<number | null> {
    const candidate = this.router.pick(model, 'standard').find((c) => c.channel.provider === 'anthropic');
    const key = candidate ? this.router.nextKey(candidate.channel) : null;
    if (!candidate || !key) return null;
    const { channel } = candidate;
    try {
      const response = await sendUpstream(
        this.agentFor(channel),
        {
          url: joinUrl(channel.baseUrl, '/v1/messages/count_tokens'),
          headers: { 'content-type': 'application/json', 'x-api-key': key.secret, 'anthropic-version': '2023-06-01', ...clientHeaders },
          body: JSON.stringify({ ...body, model: candidate.upstreamModel }),
        },
        { firstByteMs: channel.firstByteTimeoutMs, totalMs: channel.firstByteTimeoutMs, allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS },
      );
      let text = '';
      for await (const chunk of response.body) text += String(chunk);
      response.done();
      const counted = response.status === 200 ? (JSON.parse(text) as { input_tokens?: unknown }).input_tokens : null;
      return typeof counted === 'number' && Number.isInteger(counted) && counted >= 0 ? counted : null;
    } catch (error) {
      this.logger.warn({ channel: channel.name, err: (error as Error).message }, 'count_tokens upstream failed; counted by the gateway');
      return null;
    }
  }

  /** The upstream's price of a model on a channel (by public, then upstream name), or null if none is set. */
  upstreamCost(channel: RoutingChannel, publicModel: string, upstreamModel: string): CompiledPrice | null {
    return channel.costs?.get(publicModel) ?? channel.costs?.get(upstreamModel) ?? null;
  }

  /** The pooled keep-alive client of a channel (one per channel; replaced when its connect settings change). */
  agentFor(channel: RoutingChannel): Agent {
    const signature = `${channel.connectTimeoutMs}|${this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS}`;
    const held = this.agents.get(channel.id);
    if (held && held.signature === signature) return held.agent;
    if (held) void held.agent.close().catch(() => undefined);
    const agent = createUpstreamAgent({ connectTimeoutMs: channel.connectTimeoutMs, allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS });
    this.agents.set(channel.id, { signature, agent });
    return agent;
  }

  private recordSuccess(channel: RoutingChannel): void {
    this.router.breaker(channel.id).success();
    this.channelRequestsTotal.inc({ channel_id: channel.id, channel: channel.name, outcome: 'ok' });
  }

  private recordFailure(candidate: Candidate, key: RoutingKey, error: UpstreamError): void {
    const { channel } = candidate;
    const breaker = this.router.breaker(channel.id);
    if (error.channelFault) breaker.failure();
    else breaker.release();
    if (error.kind === 'aborted') return;
    this.channelRequestsTotal.inc({ channel_id: channel.id, channel: channel.name, outcome: 'error' });
    this.channelErrorsTotal.inc({ channel_id: channel.id, channel: channel.name, kind: error.kind });
    if (error.kind === 'auth') this.keyRejected(channel, key, error.upstreamStatus ?? 401);
    if (error.kind === 'quota') this.quotaExhausted(channel, error);
  }

  /**
   * The upstream said its account ran out: this instance stops routing to the channel at once; the
   * worker marks it quota-exhausted with the reason and publishes `provider.quota_exhausted` to the
   * platform. One job per channel while it is queued (its id), and the worker changes (and tells)
   * only a channel still enabled: one event per exhaustion, however many requests hit it.
   */
  private quotaExhausted(channel: RoutingChannel, error: UpstreamError): void {
    this.router.exhaustLocally(channel);
    const reason = `the upstream answered ${error.upstreamStatus ?? 'an error'}: its account is out of quota or balance`;
    this.logger.warn({ channelId: channel.id, channel: channel.name, upstreamStatus: error.upstreamStatus }, 'upstream account out of quota; skipping the channel');
    const job: ChannelQuotaExhaustedJob = { channelId: channel.id, upstreamStatus: error.upstreamStatus, reason };
    this.queue
      .add(ChannelsJob.QuotaExhausted, job, { jobId: `quota-exhausted-${channel.id}`, removeOnComplete: true, removeOnFail: 100 })
      .catch((err: unknown) => this.logger.warn({ channelId: channel.id, err: String(err) }, 'could not queue the quota exhaustion; the channel stays skipped on this instance'));
  }

  /**
   * A key the upstream refused: this instance stops using it at once, and the worker (which holds
   * the system role) disables it in PostgreSQL with the reason and tells every instance. One job
   * per key (its id is the job id), however many requests hit the refusal.
   */
  private keyRejected(channel: RoutingChannel, key: RoutingKey, upstreamStatus: number): void {
    this.router.disableKeyLocally(key.id);
    this.logger.warn({ channelId: channel.id, channel: channel.name, keyLast4: key.last4, upstreamStatus }, 'upstream refused a channel key; disabling it');
    this.queue
      .add(ChannelsJob.KeyRejected, { channelId: channel.id, keyId: key.id, upstreamStatus }, { jobId: `key-rejected-${key.id}`, removeOnComplete: true, removeOnFail: 100 })
      .catch((error: unknown) => this.logger.warn({ channelId: channel.id, err: String(error) }, 'could not queue the key rejection; it stays disabled on this instance'));
  }

  private toRouting(row: RoutingRow): RoutingChannel {
    const keys: RoutingKey[] = [];
    for (const key of row.keys) {
      try {
        keys.push({ id: key.id, secret: this.secrets.open(row.id, key.ciphertext), last4: key.last4, status: key.status });
      } catch (error) {
        if (!(error instanceof SecretBoxError)) throw error;
        this.logger.error({ channelId: row.id, keyLast4: key.last4 }, 'a channel key cannot be decrypted with CHANNEL_ENCRYPTION_KEYS; skipping it');
      }
    }
    return {
      id: row.id,
      name: row.name,
      provider: row.provider,
      baseUrl: row.base_url,
      models: row.models,
      priority: row.priority,
      weight: row.weight,
      pool: row.pool,
      connectTimeoutMs: row.connect_timeout_ms,
      firstByteTimeoutMs: row.first_byte_timeout_ms,
      totalTimeoutMs: row.total_timeout_ms,
      retryBudget: row.retry_budget,
      settings: row.settings ?? {},
      status: row.status,
      keys,
      costs: new Map(
        Object.entries(row.costs ?? {}).map(([model, c]) => [model, compilePrice({ inputPerMillion: c.input, outputPerMillion: c.output, cacheReadPerMillion: c.cachedInput })]),
      ),
      version: new Date(row.updated_at).toISOString(),
      limits: { rpm: row.rpm_limit ?? null, tpm: row.tpm_limit ?? null, dailySpendCapUnits: row.daily_spend_cap_units === null || row.daily_spend_cap_units === undefined ? null : BigInt(row.daily_spend_cap_units) },
    };
  }

  private retireAgents(): void {
    const live = new Set(this.router.channels.map((c) => c.id));
    for (const [id, held] of this.agents) {
      if (!live.has(id)) {
        this.agents.delete(id);
        void held.agent.close().catch(() => undefined);
      }
    }
  }
}
