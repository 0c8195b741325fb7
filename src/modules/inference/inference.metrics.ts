import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { UsageEvent } from '@app/billing';

type Labels<L extends string> = Partial<Record<L, string>>;

/**
 * Counts of the hot path, summed per label set in a plain Map and handed to prom-client when the
 * metrics are scraped (the counter's `collect`). prom-client hashes the labels of every `inc`
 * (sorting and joining them); with several counters per request that was a measurable share of the
 * api's CPU. The label sets are the counters' own (bounded, see below).
 */
class Tally<L extends string> {
  private readonly pending = new Map<string, { labels: Labels<L>; value: number }>();

  add(key: string, labels: () => Labels<L>, value = 1): void {
    const entry = this.pending.get(key);
    if (entry) entry.value += value;
    else this.pending.set(key, { labels: labels(), value });
  }

  flushInto(counter: Counter<L>): void {
    for (const { labels, value } of this.pending.values()) counter.inc(labels, value);
    this.pending.clear();
  }
}

/** One tally per counter name for the process (tests start several apps; the counter is shared too). */
const TALLIES = new Map<string, Tally<string>>();
function tallyOf<L extends string>(name: string): Tally<L> {
  let tally = TALLIES.get(name);
  if (!tally) TALLIES.set(name, (tally = new Tally<string>()));
  return tally as unknown as Tally<L>;
}

/** A counter provider whose counts are tallied in a Map on the hot path and handed over at each scrape. */
function talliedCounterProvider<L extends string>({ name, help, labelNames }: { name: string; help: string; labelNames: readonly L[] }) {
  return makeCounterProvider({
    name,
    help,
    labelNames,
    collect(this: Counter<L>) {
      tallyOf<L>(name).flushInto(this);
    },
  });
}

/**
 * Metrics of the inference API, served on the metrics port only (per-tenant money is
 * confidential). Labels are bounded: tenant ids and model names come from the platform's own
 * tables (a request reaches this point only for a priced model), the status from a fixed list.
 */
const NAME = {
  requests: 'aigateway_inference_requests_total',
  duration: 'aigateway_inference_duration_seconds',
  ttft: 'aigateway_inference_ttft_seconds',
  tokens: 'aigateway_inference_tokens_total',
  charged: 'aigateway_inference_charged_total',
  refused: 'aigateway_inference_refused_total',
  spooled: 'aigateway_inference_spooled_settlements',
  responses: 'aigateway_inference_responses_total',
  failovers: 'aigateway_inference_failovers_total',
} as const;

/** The status classes of `aigateway_inference_responses_total` (`closed`: the client left before any answer). */
export type ResponseCode = '2xx' | '3xx' | '4xx' | '5xx' | 'closed';

/** Registered through @willsoto/nestjs-prometheus by the inference module. */
export const inferenceMetricProviders = [
  talliedCounterProvider({ name: NAME.requests, help: 'Inference requests by tenant, model, channel and outcome', labelNames: ['tenant', 'model', 'channel', 'status'] as const }),
  makeHistogramProvider({
    name: NAME.duration,
    help: 'Inference request duration, from arrival to the last byte',
    labelNames: ['model', 'stream'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  }),
  makeHistogramProvider({ name: NAME.ttft, help: 'Time to the first streamed token', labelNames: ['model'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
  talliedCounterProvider({ name: NAME.tokens, help: 'Tokens by tenant, model and bucket', labelNames: ['tenant', 'model', 'bucket'] as const }),
  talliedCounterProvider({ name: NAME.charged, help: 'Money charged to customers at retail (currency units)', labelNames: ['tenant', 'model'] as const }),
  makeCounterProvider({ name: NAME.refused, help: 'Requests refused before the upstream (rate limits, balance, spend limit)', labelNames: ['tenant', 'reason'] as const }),
  makeGaugeProvider({ name: NAME.spooled, help: 'Settlements waiting in the local spool for Redis' }),
  // The answers of the inference front door by status class: the HTTP metrics never see /v1 (it is
  // answered before Fastify), so the availability alerts and SLOs read this one.
  talliedCounterProvider({ name: NAME.responses, help: 'Inference answers by endpoint and status class (2xx, 4xx, 5xx, closed)', labelNames: ['endpoint', 'code'] as const }),
  talliedCounterProvider({ name: NAME.failovers, help: 'Inference requests answered by another channel than the first one tried, by model', labelNames: ['model'] as const }),
];

const requests = tallyOf<'tenant' | 'model' | 'channel' | 'status'>(NAME.requests);
const tokens = tallyOf<'tenant' | 'model' | 'bucket'>(NAME.tokens);
const charged = tallyOf<'tenant' | 'model'>(NAME.charged);
const responses = tallyOf<'endpoint' | 'code'>(NAME.responses);
const failovers = tallyOf<'model'>(NAME.failovers);

@Injectable()
export class InferenceMetrics {
  constructor(
    @InjectMetric(NAME.duration) private readonly duration: Histogram<'model' | 'stream'>,
    @InjectMetric(NAME.ttft) private readonly ttft: Histogram<'model'>,
    @InjectMetric(NAME.refused) private readonly refusals: Counter<'tenant' | 'reason'>,
    @InjectMetric(NAME.spooled) private readonly spool: Gauge,
  ) {}

  completed(e: UsageEvent, channel: string): void {
    const tm = `${e.tenantId}\u0000${e.model}`;
    requests.add(`${tm}\u0000${channel}\u0000${e.status}`, () => ({ tenant: e.tenantId, model: e.model, channel, status: e.status }));
    this.duration.observe({ model: e.model, stream: e.stream ? 'true' : 'false' }, e.latencyMs / 1000);
    if (e.ttftMs !== null) this.ttft.observe({ model: e.model }, e.ttftMs / 1000);
    if (e.inputTokens) tokens.add(`${tm}\u0000input`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'input' }), e.inputTokens);
    if (e.outputTokens) tokens.add(`${tm}\u0000output`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'output' }), e.outputTokens);
    if (e.cacheReadTokens) tokens.add(`${tm}\u0000cache_read`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'cache_read' }), e.cacheReadTokens);
    if (e.cacheWriteTokens) tokens.add(`${tm}\u0000cache_write`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'cache_write' }), e.cacheWriteTokens);
    // A metric is a float anyway; the ledger holds the exact figure.
    const units = Number(e.retailUnits);
    if (units > 0) charged.add(tm, () => ({ tenant: e.tenantId, model: e.model }), units / 1e9);
  }

  /** One answer of the front door (called once the handler is done with the response). */
  responded(endpoint: string, code: ResponseCode): void {
    responses.add(`${endpoint}\u0000${code}`, () => ({ endpoint, code }));
  }

  /** The request was answered by a later channel than the first one tried. */
  failedOver(model: string): void {
    failovers.add(model, () => ({ model }));
  }

  refused(tenant: string, reason: string): void {
    this.refusals.inc({ tenant, reason });
  }

  spooled(size: number): void {
    this.spool.set(size);
  }
}
