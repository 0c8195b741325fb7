import { Inject, Injectable, Logger } from '@nestjs/common';
import { hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { BillingEngine, HoldResult, RateStatus, SettleRequest, UsageEvent } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { contextFromTraceparent, failSpan, runWithTraceLogs, TraceScope, Tracing } from '@app/observability';
import { SpanKind } from '@opentelemetry/api';
import { CompiledPrice, compiledCostUnits, compiledForImage, TokenUsage } from '@app/money';
import { ChannelPool, Endpoint, mapUpstreamHttpError, RoutingChannel, SseEvent, UNSTREAMED_ENDPOINTS, UploadedFile, UpstreamError, Usage } from '@app/providers';
import type { ResolvedTenant } from '@app/tenancy';
import { ChannelsRuntime, UpstreamCallResult } from '../channels/runtime/channels-runtime';
import { ChannelReservation } from '../channels/runtime/channel-limits';
import { ContentLogRuntime } from '../content-logs/content-log-runtime';
import { KeysRuntime, ResolvedApiKey } from '../keys/keys-runtime';
import { LimitsRuntime } from '../limits/limits-runtime';
import { EffectivePrice } from '../pricing/price-book';
import { PricingRuntime } from '../pricing/pricing-runtime';
import { RESPONSE_TRACE_ID } from './inference-failure';
import { InferenceMetrics } from './inference.metrics';
import { WALLET_LOADER, WalletLoader } from './inference.ports';
import { anthropicErrorType, InferenceError } from './openai-error';
import { readRequestFields, RequestFields } from './request-fields';
import { SettlementOutbox } from './settlement-outbox';
import { InflightLeases } from './inflight-leases';
import { countTextTokens, estimatePromptTokens, promptText } from './token-estimate';

/** One inference call as the route hands it over: nothing here depends on the web framework. */
export interface InferenceCall {
  endpoint: Endpoint;
  tenant: ResolvedTenant | null;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  bodyBytes: number;
  clientIp: string | null;
  requestId: string;
  /** The client's socket response, written directly (streams are piped as they arrive). */
  res: ServerResponse;
  /** The request's trace (null or absent: tracing is off). */
  trace?: TraceScope | null;
}

/** Who pays, and at which prices: fixed before the upstream is called. */
interface Admitted {
  key: ResolvedApiKey;
  fields: RequestFields;
  pricing: EffectivePrice;
  pool: ChannelPool;
  usageId: string;
  startedAt: number;
  started: number;
  /** The budget counters the hold counted against (its settlement charges the same ones). */
  budgets?: string[];
  /** The prompt's estimated tokens and the output cap (what the channel's own limits take until the usage is known). */
  estimate?: { input: number; output: number };
}

/** How a request ended, for its usage event. */
interface Outcome {
  usage: Usage;
  channel: RoutingChannel | null;
  upstreamModel: string | null;
  status: 'ok' | 'client_cancelled' | 'upstream_error' | 'timeout' | 'error';
  errorCode: string | null;
  ttftMs: number | null;
  /** The answer's text, only when the tenant logs content. */
  completion?: string | null;
  /** What the call took from its channel's own limits, corrected at settlement. */
  reservation?: ChannelReservation | null;
}

const ZERO: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

/** A chunk that ends a choice (`"finish_reason":"stop"`, not `null`): the answer's end, held back until settled. */
const FINISHED = /"finish_reason":\s*"/;

/**
 * The client's side of one answer: when the client goes away before the answer was finished, the
 * upstream call is aborted (and a body being read is stopped). One per proxied request.
 */
class ClientWatch {
  private readonly abort = new AbortController();
  /** The client went away before the answer's end. */
  gone = false;
  private stopUpstream: (() => void) | null = null;
  private readonly onClose = () => {
    if (this.res.writableFinished) return;
    this.gone = true;
    this.abort.abort();
    this.stopUpstream?.();
  };

  constructor(private readonly res: ServerResponse) {
    res.once('close', this.onClose);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Also stop this (the upstream body being read) when the client goes away. */
  stopsUpstream(stop: () => void): void {
    this.stopUpstream = stop;
  }

  dispose(): void {
    this.res.off('close', this.onClose);
  }
}

/** An error met while reading an upstream's answer, as the failure it is recorded as. */
function upstreamFailure(error: unknown): UpstreamError {
  return error instanceof UpstreamError ? error : mapUpstreamHttpError(502, '');
}

/** How a proxied answer ended, for its usage record. */
function outcomeStatus(clientGone: boolean, failure: UpstreamError | null): Outcome['status'] {
  if (clientGone) return 'client_cancelled';
  if (!failure) return 'ok';
  return failure.kind.startsWith('timeout') ? 'timeout' : 'upstream_error';
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The presented API key: `Authorization: Bearer <key>`, or `x-api-key` as some clients send it. */
export function presentedKey(headers: InferenceCall['headers']): string | null {
  const auth = firstHeader(headers.authorization);
  if (auth) {
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(auth);
    return match ? match[1] : null;
  }
  const alt = firstHeader(headers['x-api-key']);
  return alt && alt.length <= 512 ? alt.trim() || null : null;
}

export function secretHash(secret: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per request.
  return hash('sha256', secret, 'hex');
}

/**
 * The inference hot path (DESIGN.md "Inference hot path"): key from memory, one Redis call for
 * limits and the hold, route, proxy (streams piped as they arrive), then one Redis call that
 * settles the real cost and records the usage event. No PostgreSQL, no CASL on this path; the
 * response never waits for the ledger.
 */
@Injectable()
export class InferenceService {
  private readonly logger = new Logger(InferenceService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRuntime,
    private readonly prices: PricingRuntime,
    private readonly channels: ChannelsRuntime,
    @Inject(WALLET_LOADER) private readonly wallets: WalletLoader,
    private readonly billing: BillingEngine,
    private readonly outbox: SettlementOutbox,
    private readonly metrics: InferenceMetrics,
    private readonly limits: LimitsRuntime,
    private readonly contentLog: ContentLogRuntime,
    private readonly tracing: Tracing,
    private readonly leases: InflightLeases,
  ) {}

  /**
   * Resolves and checks the caller's key at the Host's tenant (also used by /v1/models). A key of
   * another reseller is simply not found there: the same 401 as a wrong key.
   */
  async authenticate(tenant: ResolvedTenant | null, headers: InferenceCall['headers'], clientIp: string | null): Promise<ResolvedApiKey> {
    const secret = presentedKey(headers);
    if (!secret || !tenant) throw InferenceError.invalidKey();
    const key = await this.keys.resolveHash(secretHash(secret), tenant.id).catch((error: unknown) => {
      this.logger.warn({ err: (error as Error).message }, 'key lookup failed');
      throw InferenceError.unavailable('The gateway cannot check API keys right now; retry shortly.');
    });
    if (!key || key.tenantId !== tenant.id) throw InferenceError.invalidKey();
    switch (this.keys.check(key, { clientIp })) {
      case null:
        return key;
      case 'ip_not_allowed':
        throw InferenceError.forbidden('This API key may not be used from this address.', 'ip_not_allowed');
      case 'tenant_disabled':
      case 'customer_disabled':
        throw InferenceError.forbidden('This account is disabled.', 'account_disabled');
      case 'customer_not_active':
        throw InferenceError.forbidden('This account is not active yet: accept the invitation first.', 'account_not_active');
      case 'suspended':
        throw InferenceError.forbidden('This API key is suspended pending a risk review; contact your provider.', 'api_key_suspended');
      default: // revoked, disabled, expired, a rotated secret past its grace period
        throw InferenceError.invalidKey();
    }
  }

  async handle(call: InferenceCall): Promise<void> {
    // Tracing off (the default): one property read, no span, no context.
    if (!this.tracing.enabled) return this.run(call);
    const scope = this.tracing.start(`POST /v1 ${call.endpoint}`, contextFromTraceparent(call.headers.traceparent), { 'aigateway.endpoint': call.endpoint, 'aigateway.request_id': call.requestId }, SpanKind.SERVER)!;
    call.trace = scope;
    (call.res as unknown as Record<symbol, string>)[RESPONSE_TRACE_ID] = scope.traceId;
    try {
      // Log lines written while handling it carry the trace and span ids.
      await runWithTraceLogs(scope, () => this.run(call));
    } catch (error) {
      failSpan(scope.span, error);
      throw error;
    } finally {
      scope.span.end();
    }
  }

  private async run(call: InferenceCall): Promise<void> {
    const started = performance.now();
    const startedAt = Date.now();
    const key = call.trace
      ? await call.trace.around('key_check', () => this.authenticate(call.tenant, call.headers, call.clientIp))
      : await this.authenticate(call.tenant, call.headers, call.clientIp);
    call.trace?.span.setAttributes({ 'aigateway.tenant_id': key.tenantId, 'aigateway.customer_id': key.customerId });
    const fields = readRequestFields(call.endpoint, call.body);
    if (key.allowedModels && !key.allowedModels.has(fields.model)) throw InferenceError.modelNotFound(fields.model);
    const pool: ChannelPool = firstHeader(call.headers['x-priority']) === 'spot' ? 'spot' : 'standard';
    // A spot request is held and charged at the spot price (the router serves it from the spot pool
    // only, never falling back to standard); with no spot factor it is the standard price object.
    const pricing = await this.prices.effectivePrice(key.tenantId, fields.model, startedAt, key.customerId, pool);
    if (!pricing || pricing.hidden || !this.channels.serves(fields.model)) throw InferenceError.modelNotFound(fields.model);

    const admitted: Admitted = { key, fields, pricing, pool, usageId: uuidv7(), startedAt, started };
    // Audio is not billed in tokens: a transcription holds its estimated seconds, speech its characters.
    const audio = call.endpoint === 'transcriptions' || call.endpoint === 'speech';
    const promptEstimate = audio ? 0 : estimatePromptTokens(call.bodyBytes);
    const outputCap = UNSTREAMED_ENDPOINTS.has(call.endpoint) ? 0 : (fields.maxOutputTokens ?? this.config.INFERENCE_DEFAULT_MAX_OUTPUT_TOKENS) * fields.n;
    // Rerank holds its search units' per-request price, images n times the price of their size
    // and quality, transcriptions their estimated seconds, the others one request's.
    const holdUnits = compiledCostUnits({ input: promptEstimate + (fields.characters ?? 0), output: outputCap, requests: fields.requests }, this.priceFor(fields, pricing.compiledRetail));
    if (call.trace) await call.trace.around('hold', () => this.hold(admitted, holdUnits, promptEstimate + outputCap, call.res, call.clientIp), { 'aigateway.hold_units': holdUnits.toString() });
    else await this.hold(admitted, holdUnits, promptEstimate + outputCap, call.res, call.clientIp);
    admitted.estimate = { input: promptEstimate, output: outputCap };
    // Until it settles, its hold and concurrency slots are renewed however long it runs.
    this.leases.track(admitted.usageId, key.tenantId, key.id, key.customerId, startedAt);

    // The proxies settle before the answer's last byte leaves (see proxyOnce and proxyStream);
    // once that was tried, a later error must not settle the request a second time.
    let settled = false;
    const settle = (o: Outcome): Promise<void> => {
      settled = true;
      return this.settle(call, admitted, o);
    };
    try {
      if (call.endpoint === 'speech') await this.proxyBytes(call, admitted, settle);
      else await (fields.stream ? this.proxyStream(call, admitted, settle) : this.proxyOnce(call, admitted, settle));
    } catch (error) {
      if (settled) throw error;
      // Nothing reached the client: no charge; the hold is released and the failure recorded.
      const failure = error instanceof UpstreamError ? error : null;
      await this.settle(call, admitted, {
        usage: ZERO,
        channel: null,
        upstreamModel: null,
        // 'aborted' is the client going away (its socket closed): not an upstream failure.
        status: failure?.kind === 'aborted' ? 'client_cancelled' : failure?.kind.startsWith('timeout') ? 'timeout' : failure ? 'upstream_error' : 'error',
        errorCode: failure?.body.error.code ?? 'internal_error',
        ttftMs: null,
      });
      throw error;
    }
  }

  /**
   * POST /v1/messages/count_tokens: the prompt's tokens as Anthropic's endpoint answers them
   * (`{"input_tokens": n}`), for a model the key may call: Anthropic's own count when an Anthropic
   * channel serves the model, else counted by the gateway (o200k: close to, not equal to, another
   * tokenizer's count). Free, as Anthropic's is.
   */
  async countTokens(call: Omit<InferenceCall, 'endpoint' | 'bodyBytes'>): Promise<void> {
    const key = await this.authenticate(call.tenant, call.headers, call.clientIp);
    const body = call.body as Record<string, unknown>;
    if (typeof body?.model !== 'string' || !body.model) throw InferenceError.invalidRequest('model: Field required.', 'model');
    if (!Array.isArray(body.messages)) throw InferenceError.invalidRequest('messages: Field required (an array).', 'messages');
    const model = body.model;
    if (key.allowedModels && !key.allowedModels.has(model)) throw InferenceError.modelNotFound(model);
    const now = Date.now();
    const pricing = await this.prices.effectivePrice(key.tenantId, model, now);
    if (!pricing || pricing.hidden || !this.channels.serves(model)) throw InferenceError.modelNotFound(model);
    // Free, but not unlimited: the per-address limit counts it as any /v1 request (no hold, no charge).
    const stored = await this.storedLimits(key, now);
    await this.admitClientIp(key.tenantId, call.clientIp, stored.ipRpm, now);
    const upstream = await this.channels.countTokens(model, body, anthropicHeaders(call.headers) ?? {});
    if (upstream !== null) {
      const payload = JSON.stringify({ input_tokens: upstream });
      call.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-request-id': call.requestId });
      call.res.end(payload);
      return;
    }
    const system = typeof body.system === 'string' ? body.system : promptText({ messages: Array.isArray(body.system) ? [{ content: body.system }] : [] });
    const tools = Array.isArray(body.tools) ? JSON.stringify(body.tools) : '';
    const payload = JSON.stringify({ input_tokens: countTextTokens([system, promptText(body), tools].filter(Boolean).join('\n')) });
    call.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-request-id': call.requestId });
    call.res.end(payload);
  }

  /**
   * Limits and the hold, with the wallet loaded from the ledger on a miss; 503 if Redis is away.
   * The limits left after this request go on the answer (x-ratelimit-* headers), whatever it is.
   */
  private async hold(a: Admitted, holdUnits: bigint, tokenEstimate: number, res: ServerResponse, clientIp: string | null): Promise<void> {
    const stored = await this.storedLimits(a.key, a.startedAt);
    // Per client address first: a refused request holds, counts and charges nothing else.
    await this.admitClientIp(a.key.tenantId, clientIp, stored.ipRpm, a.startedAt);
    const request = {
      requestId: a.usageId,
      tenantId: a.key.tenantId,
      customerId: a.key.customerId,
      keyId: a.key.id,
      holdUnits,
      tokenEstimate,
      limits: {
        keyRpm: a.key.rpmLimit ?? 0,
        keyTpm: a.key.tpmLimit ?? 0,
        customerRpm: stored.customerRpm,
        customerTpm: stored.customerTpm,
        tenantRpm: stored.tenantRpm,
        tenantTpm: stored.tenantTpm,
      },
      keySpendLimitUnits: a.key.spendLimitUnits,
      concurrency: { key: a.key.concurrencyLimit ?? this.config.INFERENCE_KEY_CONCURRENCY, customer: stored.customerConcurrency },
      budgets: stored.budgets,
      windows: stored.windows,
      nowMs: a.startedAt,
    };
    let result: HoldResult;
    try {
      result = await this.billing.hold(request);
      if (!result.ok && result.reason === 'no_balance_loaded') {
        await this.wallets.ensureLoaded(a.key.tenantId, a.key.customerId);
        result = await this.billing.hold(request);
      }
    } catch (error) {
      if (error instanceof InferenceError) throw error;
      this.logger.warn({ err: (error as Error).message }, 'hold failed');
      throw InferenceError.unavailable('The gateway cannot check your balance right now; retry shortly.');
    }
    if (result.ok) {
      setRateHeaders(res, result.rate);
      if (stored.budgets.length > 0) a.budgets = stored.budgets.map((b) => b.name);
      return;
    }
    this.metrics.refused(a.key.tenantId, result.reason);
    switch (result.reason) {
      case 'rate_limited':
        throw InferenceError.rateLimited(
          `Rate limit reached: ${result.limit} ${result.kind} per ${result.window ?? 'minute'} for this ${result.scope === 'key' ? 'API key' : result.scope === 'customer' ? 'account' : 'organization'}.`,
          result.retryAfterSeconds,
          {
            [`x-ratelimit-limit-${result.kind}`]: String(result.limit),
            [`x-ratelimit-remaining-${result.kind}`]: '0',
            [`x-ratelimit-reset-${result.kind}`]: `${result.retryAfterSeconds}s`,
          },
        );
      case 'concurrency_limited':
        throw InferenceError.rateLimited(
          `Too many requests in flight: at most ${result.limit} at once for this ${result.scope === 'key' ? 'API key' : 'account'}.`,
          1,
          {},
        );
      case 'budget_exhausted':
        throw InferenceError.insufficientQuota(`The ${{ day: 'daily', week: 'weekly', month: 'monthly' }[result.period]} budget of this ${result.scope === 'key' ? 'API key' : 'account'} is reached; it resets with the next ${result.period}.`);
      case 'spend_limit_reached':
        throw InferenceError.insufficientQuota('This API key has reached its spend limit.');
      case 'insufficient_balance':
      case 'no_balance_loaded':
        throw InferenceError.insufficientQuota('You exceeded your current quota: the balance does not cover this request. Top up to continue.');
      case 'duplicate_request':
        throw InferenceError.unavailable('Request id collision; retry.');
    }
  }

  /** The limits stored for the key's tenant, customer and key (cached); 503 when they cannot be read. */
  private storedLimits(key: ResolvedApiKey, atMs: number) {
    return this.limits.forRequest(key.tenantId, key.customerId, key.id, atMs, key.windowLimits ?? undefined).catch((error: unknown) => {
      this.logger.warn({ err: (error as Error).message }, 'limits lookup failed');
      throw InferenceError.unavailable('The gateway cannot check your limits right now; retry shortly.');
    });
  }

  /** The tenant's requests per minute from one client address (ipRpm, 0: none): a 429 over it. */
  private async admitClientIp(tenantId: string, clientIp: string | null, ipRpm: number, atMs: number): Promise<void> {
    const retry = await this.limits.admitIp(tenantId, clientIp ?? 'unknown', ipRpm, atMs).catch((error: unknown) => {
      this.logger.warn({ err: (error as Error).message }, 'client address limit check failed');
      throw InferenceError.unavailable('The gateway cannot check your limits right now; retry shortly.');
    });
    if (retry === null) return;
    this.metrics.refused(tenantId, 'ip_rate_limited');
    throw InferenceError.rateLimited(`Rate limit reached: ${ipRpm} requests per minute from this client address.`, retry, {
      'x-ratelimit-limit-requests': String(ipRpm),
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': `${retry}s`,
    });
  }

  /** Routing and failover (ChannelsRuntime): settles while nothing reached the client yet. */
  private async send(call: InferenceCall, a: Admitted, signal: AbortSignal): Promise<UpstreamCallResult> {
    const sent = await this.channels.send({
      clientHeaders: call.endpoint === 'messages' ? anthropicHeaders(call.headers) : undefined,
      endpoint: call.endpoint,
      body: call.body as Record<string, unknown>,
      model: a.fields.model,
      pool: a.pool,
      stickyKey: a.key.customerId,
      stream: a.fields.stream,
      // Usage is always asked for; the chunk is dropped when the client did not ask for it.
      includeUsage: true,
      signal,
      requestId: call.requestId,
      deadlineMs: this.config.INFERENCE_FAILOVER_DEADLINE_MS,
      estimate: a.estimate,
      trace: call.trace,
      traceparent: call.trace ? undefined : call.headers.traceparent,
    });
    if (sent.attempts > 1) this.metrics.failedOver(a.fields.model);
    return sent;
  }

  /**
   * A non-streamed answer is settled first and sent after: an api that dies in between has sent
   * nothing (the client retries), never a whole answer nobody pays for (issue 19). The wait is
   * the settle round trip that happens anyway.
   */
  private async proxyOnce(call: InferenceCall, a: Admitted, settle: (o: Outcome) => Promise<void>): Promise<void> {
    const client = new ClientWatch(call.res);
    try {
      const sent = await this.send(call, a, client.signal);
      if (sent.exchange.kind !== 'json') throw new Error('expected a JSON answer');
      const parsed = sent.exchange.parsed;
      const usage = parsed.usage ?? this.countedUsage(call, completionText(parsed.body));
      const payload = parsed.raw?.text ?? JSON.stringify(parsed.body);
      const completion = this.contentLog.retentionFor(a.key.tenantId) === null ? undefined : call.endpoint === 'transcriptions' ? String(parsed.body.text ?? '') : completionText(parsed.body);
      await settle({ usage, channel: sent.channel, upstreamModel: sent.upstreamModel, status: 'ok', errorCode: null, ttftMs: null, completion, reservation: sent.reservation });
      if (!call.res.destroyed) {
        call.res.writeHead(200, {
          'content-type': parsed.raw?.contentType ?? 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-request-id': call.requestId,
        });
        call.res.end(payload);
      }
    } finally {
      client.dispose();
    }
  }

  /**
   * Speech: the upstream's audio bytes go to the client as they arrive (never buffered whole).
   * Billed per input character, known before the call: nothing before the first byte reached the
   * client (failover is still possible then), the whole input once it has, even if the client
   * goes away or the upstream is cut mid-way, as a cut chat stream is charged its whole prompt:
   * the upstream has consumed (and charges for) all of it. The charge is settled once the audio
   * ended (completely, or cut); it is also kept on the hold at the first byte, so an api that dies
   * mid-audio leaves it for the expired-holds sweeper to charge.
   */
  private async proxyBytes(call: InferenceCall, a: Admitted, settle: (o: Outcome) => Promise<void>): Promise<void> {
    const client = new ClientWatch(call.res);
    try {
      const sent = await this.send(call, a, client.signal);
      const audio = sent.exchange;
      if (audio.kind !== 'bytes') throw new Error('expected audio bytes');
      client.stopsUpstream(audio.abort);
      let failure: UpstreamError | null = null;
      let ttftMs: number | null = null;
      call.res.writeHead(200, { 'content-type': audio.contentType, 'x-request-id': call.requestId, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      try {
        for await (const chunk of audio.body) {
          if (client.gone) break;
          if (ttftMs === null) {
            ttftMs = Math.round(performance.now() - a.started);
            // From the first byte on the whole input is owed: kept on the hold at once, so an api
            // that dies mid-audio leaves that charge to the expired-holds sweeper (as a stream's
            // checkpoint does), never a free answer.
            if (this.config.INFERENCE_STREAM_CHECKPOINT_MS > 0) {
              const owed: Outcome = { usage: { input: a.fields.characters ?? 0, output: 0, cacheRead: 0, cacheWrite: 0 }, channel: sent.channel, upstreamModel: sent.upstreamModel, status: 'error', errorCode: 'gateway_interrupted', ttftMs };
              void this.outbox.checkpoint(this.settlement(call, a, owed));
            }
          }
          // Backpressure: a slow client slows the upstream read, never a buffer in memory.
          if (!call.res.write(chunk) && !client.gone) await new Promise<void>((resolve) => { call.res.once('drain', resolve); call.res.once('close', resolve); });
        }
      } catch (error) {
        if (!client.gone) failure = upstreamFailure(error);
      }
      sent.finish(client.gone ? null : failure);
      const delivered = ttftMs !== null;
      const status = outcomeStatus(client.gone, failure);
      const usage: Usage = delivered ? { input: a.fields.characters ?? 0, output: 0, cacheRead: 0, cacheWrite: 0 } : ZERO;
      await settle({ usage, channel: sent.channel, upstreamModel: sent.upstreamModel, status, errorCode: failure?.body.error.code ?? null, ttftMs });
      // An audio stream cut mid-way cannot carry an error event: the connection is cut, so the
      // client sees a failed download rather than a shorter file taken for a whole one.
      if (failure) call.res.destroy();
      else if (!client.gone) call.res.end();
    } finally {
      client.dispose();
    }
  }

  /**
   * Streams SSE to the client as it arrives. Failover is possible until the upstream's first
   * event; after that, a failure ends the stream with an error event and the customer pays for
   * what was delivered. A client that goes away aborts the upstream request.
   *
   * The end of the answer (the first chunk with a finish_reason, the usage chunk and `[DONE]`) is
   * held back until the settlement is durable: an api that dies before has sent a stream without
   * its end, which clients treat as failed, never a complete answer nobody pays for (issue 19).
   */
  private async proxyStream(call: InferenceCall, a: Admitted, settle: (o: Outcome) => Promise<void>): Promise<void> {
    const client = new ClientWatch(call.res);
    try {
      const sent = await this.send(call, a, client.signal);
      const stream = sent.exchange;
      if (stream.kind !== 'stream') throw new Error('expected a stream');
      client.stopsUpstream(stream.abort);
      const delivered: string[] = [];
      let ttftMs: number | null = null;
      let failure: UpstreamError | null = null;
      let heldBack = '';
      // What was delivered so far is kept on the hold now and then (checkpointEvery ms at most),
      // so an api that dies mid-stream still leaves the charge for it (see checkpoint()).
      const checkpointEvery = this.config.INFERENCE_STREAM_CHECKPOINT_MS;
      let lastCheckpoint = performance.now();
      let checkpointing = false;
      const checkpoint = () => {
        if (checkpointEvery === 0 || checkpointing || performance.now() - lastCheckpoint < checkpointEvery) return;
        checkpointing = true;
        lastCheckpoint = performance.now();
        const usage = this.cutUsage(call, stream.translator.usage, delivered);
        if (usage.output === 0) return void (checkpointing = false); // nothing generated yet costs nothing
        const outcome: Outcome = { usage, channel: sent.channel, upstreamModel: sent.upstreamModel, status: 'error', errorCode: 'gateway_interrupted', ttftMs };
        void this.outbox.checkpoint(this.settlement(call, a, outcome)).finally(() => (checkpointing = false));
      };
      call.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-request-id': call.requestId,
        'x-accel-buffering': 'no',
      });
      // The events of one upstream read go out in one write (one syscall, as a plain pipe would).
      const forward = (events: SseEvent[]) => {
        let out = '';
        for (const event of events) {
          if (event.usageOnly && !a.fields.includeUsage) continue;
          if (!event.done && !event.usageOnly) {
            if (ttftMs === null) ttftMs = Math.round(performance.now() - a.started);
            delivered.push(event.raw);
          }
          if (heldBack || event.done || event.usageOnly || event.final || FINISHED.test(event.raw)) heldBack += event.raw;
          else out += event.raw;
        }
        if (out && !client.gone) call.res.write(out);
        checkpoint();
      };
      forward(stream.first);
      try {
        for await (const events of stream.rest) {
          if (client.gone) break;
          forward(events);
        }
      } catch (error) {
        if (!client.gone) failure = upstreamFailure(error);
      }
      sent.finish(client.gone ? null : failure);
      // The upstream's own usage when the stream completed; otherwise what reached the client.
      const complete = !failure && !client.gone && stream.translator.usage !== null;
      let usage = complete ? stream.translator.usage! : this.cutUsage(call, stream.translator.usage, delivered);
      // An upstream that failed (or timed out) before generating any token is not charged at all,
      // prompt included (issue 11 policy: never pay for a request that failed before the first
      // token). Only the empty role chunk may have reached the client; it carries no token.
      if (failure && !client.gone && usage.output === 0) usage = ZERO;
      const status = outcomeStatus(client.gone, failure);
      const completion = this.contentLog.retentionFor(a.key.tenantId) === null ? undefined : deliveredText(delivered);
      await settle({ usage, channel: sent.channel, upstreamModel: sent.upstreamModel, status, errorCode: failure?.body.error.code ?? null, ttftMs, completion, reservation: sent.reservation });
      if (client.gone) return;
      call.res.end(failure ? heldBack + streamErrorEvent(call.endpoint, failure) : heldBack);
    } finally {
      client.dispose();
    }
  }

  /**
   * A stream cut before its end is charged for the prompt and the text delivered. The prompt as
   * the upstream already reported it (Anthropic's message_start, Gemini's usageMetadata on each
   * chunk; OpenAI reports usage only at the end) keeps its cache-read and cache-write buckets,
   * priced as the upstream prices them; without one the gateway counts the prompt as plain input.
   */
  private cutUsage(call: InferenceCall, reported: Usage | null, delivered: string[]): Usage {
    const counted = this.countedUsage(call, deliveredText(delivered));
    if (!reported || reported.input + reported.cacheRead + reported.cacheWrite === 0) return counted;
    const usage: Usage = { input: reported.input, cacheRead: reported.cacheRead, cacheWrite: reported.cacheWrite, output: counted.output };
    if (reported.cacheWrite1h) usage.cacheWrite1h = reported.cacheWrite1h;
    return usage;
  }

  /** Usage counted by the gateway when the upstream reported none. */
  private countedUsage(call: InferenceCall, completion: string): Usage {
    const body = call.body as Record<string, unknown>;
    return { input: countTextTokens(promptText(body)), output: countTextTokens(completion), cacheRead: 0, cacheWrite: 0 };
  }

  /** The compiled price a request is charged at: an image's is its size and quality's per-image price. */
  private priceFor(fields: RequestFields, price: CompiledPrice): CompiledPrice {
    return fields.image ? compiledForImage(price, fields.image.size, fields.image.quality) : price;
  }

  /** Charges the real cost and records the event in one Redis step, or spools it if Redis is away. */
  private async settle(call: InferenceCall, a: Admitted, o: Outcome): Promise<void> {
    this.leases.untrack(a.usageId);
    const request = this.settlement(call, a, o);
    // The channel's own token and spend counters take what the call really used (never waited for).
    if (o.reservation) void this.channels.reconcile(o.reservation, request.actualTokens, BigInt(request.event.upstreamUnits));
    if (call.trace) {
      await call.trace.around('settle', () => this.outbox.settle(request), {
        'aigateway.status': o.status,
        'aigateway.channel_id': o.channel?.id ?? '',
        'aigateway.retail_units': request.event.retailUnits,
      });
    } else await this.outbox.settle(request);
    this.metrics.completed(request.event, o.channel?.name ?? 'none');
    // Optional content logging (off unless the tenant's owner turned it on): stored after the answer, never waited for.
    const retentionDays = this.contentLog.retentionFor(a.key.tenantId);
    if (retentionDays !== null) {
      this.contentLog.capture({ requestId: a.usageId, tenantId: a.key.tenantId, customerId: a.key.customerId, createdAt: new Date(a.startedAt), retentionDays, prompt: loggedPrompt(call), completion: o.completion ?? null });
    }
  }

  /** The settlement of an outcome: its cost at the request's prices, and its usage event. */
  private settlement(call: InferenceCall, a: Admitted, o: Outcome): SettleRequest {
    const usage: TokenUsage = o.usage;
    // A request that failed before its first token costs nothing, per-request price included
    // (README "What is charged"): compiledCostUnits would add the per-request amount to zero tokens.
    const free = o.status !== 'ok' && usage.input + usage.output + (usage.cacheRead ?? 0) + (usage.cacheWrite ?? 0) === 0;
    const cost = (price: CompiledPrice) => (free ? 0n : compiledCostUnits(usage, this.priceFor(a.fields, price)));
    const retail = cost(a.pricing.compiledRetail);
    const wholesale = cost(a.pricing.compiledWholesale);
    const characters = a.fields.unit === 'character';
    const upstreamPrice: CompiledPrice | null = o.channel ? this.channels.upstreamCost(o.channel, a.fields.model, o.upstreamModel ?? a.fields.model) : null;
    const upstream = upstreamPrice ? cost(upstreamPrice) : 0n;
    const latencyMs = Math.round(performance.now() - a.started);
    const event: UsageEvent = {
      v: 1,
      requestId: a.usageId,
      tenantId: a.key.tenantId,
      customerId: a.key.customerId,
      apiKeyId: a.key.id,
      channelId: o.channel?.id ?? null,
      model: a.fields.model,
      upstreamModel: o.upstreamModel,
      pool: a.pool,
      // Speech's input is characters, not tokens: its quantity, with no tokens.
      inputTokens: characters ? 0 : usage.input,
      outputTokens: usage.output,
      cacheReadTokens: usage.cacheRead ?? 0,
      cacheWriteTokens: usage.cacheWrite ?? 0,
      unit: a.fields.unit,
      quantity: free ? 0 : quantityOf(a.fields.unit, usage),
      retailUnits: retail.toString(),
      wholesaleUnits: wholesale.toString(),
      upstreamUnits: upstream.toString(),
      status: o.status,
      errorCode: o.errorCode,
      latencyMs,
      ttftMs: o.ttftMs,
      stream: a.fields.stream,
      clientIp: call.clientIp,
      httpRequestId: call.requestId,
      createdAt: a.startedAt,
    };
    // A sub-reseller's request: what each ancestor reseller pays its own parent (compiled with the book).
    if (a.pricing.levels.length > 0) event.levels = a.pricing.levels.map((l) => ({ tenantId: l.tenantId, costUnits: cost(l.compiledWholesale).toString() }));
    const request: SettleRequest = { event, actualTokens: (characters ? 0 : usage.input) + usage.output + (usage.cacheRead ?? 0) + (usage.cacheWrite ?? 0) };
    if (a.budgets) request.budgets = a.budgets;
    return request;
  }
}

/** The request as content logging keeps it: an uploaded file by its name, type and size, never its bytes. */
function loggedPrompt(call: InferenceCall): unknown {
  const body = call.body as Record<string, unknown>;
  const file = body?.file as UploadedFile | undefined;
  if (!file || !Buffer.isBuffer(file.data)) return body;
  return { ...body, file: { filename: file.filename, contentType: file.contentType, bytes: file.data.length } };
}

/** How many of its unit a request was billed: tokens (all buckets), characters (speech input), or the per-unit count. */
function quantityOf(unit: RequestFields['unit'], usage: TokenUsage): number {
  if (unit === 'token') return usage.input + usage.output + (usage.cacheRead ?? 0) + (usage.cacheWrite ?? 0);
  if (unit === 'character') return usage.input;
  return usage.requests ?? 1;
}

/**
 * OpenAI's rate-limit headers, for the tightest limit of each kind (none for a kind without one).
 * Set on the response object, so whatever answer follows (the completion, a stream, an upstream
 * error) carries them.
 */
function setRateHeaders(res: ServerResponse, rate: RateStatus): void {
  if (res.headersSent) return;
  for (const [kind, status] of [['requests', rate.requests], ['tokens', rate.tokens]] as const) {
    if (!status) continue;
    res.setHeader(`x-ratelimit-limit-${kind}`, String(status.limit));
    res.setHeader(`x-ratelimit-remaining-${kind}`, String(status.remaining));
    res.setHeader(`x-ratelimit-reset-${kind}`, `${rate.resetSeconds}s`);
  }
}

/** Client protocol headers an upstream speaking the same protocol receives (Anthropic's version and betas). */
function anthropicHeaders(headers: InferenceCall['headers']): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const name of ['anthropic-version', 'anthropic-beta']) {
    const value = headers[name];
    const text = Array.isArray(value) ? value.join(',') : value;
    if (text && text.length <= 1000) out[name] = text;
  }
  return out;
}

/** The error that ends a stream cut after its first event, in the stream's own protocol. */
function streamErrorEvent(endpoint: InferenceCall['endpoint'], failure: UpstreamError): string {
  const e = failure.body.error;
  if (endpoint === 'messages') return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: anthropicErrorType(failure.status), message: e.message } })}\n\n`;
  if (endpoint === 'responses') return `event: error\ndata: ${JSON.stringify({ type: 'error', code: e.code, message: e.message, param: e.param, sequence_number: 0 })}\n\n`;
  return `data: ${JSON.stringify(failure.body)}\n\n`;
}

/**
 * The generated text of a non-streamed answer (choices' message content or text, and tool calls;
 * an Anthropic message's content blocks; a response's output items).
 */
function completionText(body: Record<string, unknown>): string {
  if (Array.isArray(body.content) || Array.isArray(body.output)) return JSON.stringify(body.content ?? body.output);
  const choices = Array.isArray(body.choices) ? body.choices : [];
  return choices
    .map((c: { message?: { content?: unknown; tool_calls?: Array<{ function?: { name?: unknown; arguments?: unknown } }> }; text?: unknown }) => {
      let text = typeof c.message?.content === 'string' ? c.message.content : typeof c.text === 'string' ? c.text : '';
      // Tool calls are generated tokens too (an upstream without usage is counted by us).
      for (const call of Array.isArray(c.message?.tool_calls) ? c.message.tool_calls : []) {
        if (typeof call?.function?.name === 'string') text += call.function.name;
        if (typeof call?.function?.arguments === 'string') text += call.function.arguments;
      }
      return text;
    })
    .join('');
}

/**
 * The text of delivered events, for counting: chat.completion.chunk deltas, Anthropic's
 * content_block_delta (text, thinking, tool input) and Responses' `*.delta` events.
 */
function deliveredText(events: string[]): string {
  let text = '';
  for (const raw of events) {
    for (const line of raw.split('\n')) {
      if (!line.startsWith('data:')) continue;
      try {
        const chunk = JSON.parse(line.slice(5)) as {
          choices?: Array<{ delta?: { content?: unknown; refusal?: unknown; tool_calls?: Array<{ function?: { name?: unknown; arguments?: unknown } }> }; text?: unknown }>;
          delta?: unknown;
          content_block?: { name?: unknown };
        };
        if (!chunk.choices) {
          const delta = chunk.delta as { text?: unknown; partial_json?: unknown; thinking?: unknown } | string | undefined;
          if (typeof delta === 'string') text += delta; // Responses: output_text, function_call_arguments, reasoning deltas
          else if (delta) for (const v of [delta.text, delta.partial_json, delta.thinking]) if (typeof v === 'string') text += v;
          if (typeof chunk.content_block?.name === 'string') text += chunk.content_block.name;
          continue;
        }
        for (const c of chunk.choices ?? []) {
          if (typeof c.delta?.content === 'string') text += c.delta.content;
          else if (typeof c.text === 'string') text += c.text;
          if (typeof c.delta?.refusal === 'string') text += c.delta.refusal;
          // Tool calls are generated tokens too: a cut tool-call stream is charged for them.
          for (const call of Array.isArray(c.delta?.tool_calls) ? c.delta.tool_calls : []) {
            if (typeof call?.function?.name === 'string') text += call.function.name;
            if (typeof call?.function?.arguments === 'string') text += call.function.arguments;
          }
        }
      } catch {
        // not a JSON chunk
      }
    }
  }
  return text;
}
