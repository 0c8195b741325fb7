import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, register } from 'prom-client';
import type { UsageEvent } from '@app/billing';

function once<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

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

/** A counter fed through a Tally; the tally is kept with the metric (tests start several apps). */
function tallied<L extends string>(name: string, help: string, labelNames: readonly L[]): Tally<L> {
  const existing = register.getSingleMetric(name) as (Counter<L> & { tally?: Tally<L> }) | undefined;
  if (existing?.tally) return existing.tally;
  const tally = new Tally<L>();
  const counter = new Counter<L>({
    name,
    help,
    labelNames,
    collect() {
      tally.flushInto(this);
    },
  }) as Counter<L> & { tally?: Tally<L> };
  counter.tally = tally;
  return tally;
}

/**
 * Metrics of the inference API, served on the metrics port only (per-tenant money is
 * confidential). Labels are bounded: tenant ids and model names come from the platform's own
 * tables (a request reaches this point only for a priced model), the status from a fixed list.
 */
const requests = tallied('aigateway_inference_requests_total', 'Inference requests by tenant, model, channel and outcome', ['tenant', 'model', 'channel', 'status'] as const);
const duration = once(
  'aigateway_inference_duration_seconds',
  () =>
    new Histogram({
      name: 'aigateway_inference_duration_seconds',
      help: 'Inference request duration, from arrival to the last byte',
      labelNames: ['model', 'stream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
);
const ttft = once(
  'aigateway_inference_ttft_seconds',
  () => new Histogram({ name: 'aigateway_inference_ttft_seconds', help: 'Time to the first streamed token', labelNames: ['model'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
);
const tokens = tallied('aigateway_inference_tokens_total', 'Tokens by tenant, model and bucket', ['tenant', 'model', 'bucket'] as const);
const charged = tallied('aigateway_inference_charged_total', 'Money charged to customers at retail (currency units)', ['tenant', 'model'] as const);
const refusals = once('aigateway_inference_refused_total', () => new Counter({ name: 'aigateway_inference_refused_total', help: 'Requests refused before the upstream (rate limits, balance, spend limit)', labelNames: ['tenant', 'reason'] as const }));
const spool = once('aigateway_inference_spooled_settlements', () => new Gauge({ name: 'aigateway_inference_spooled_settlements', help: 'Settlements waiting in the local spool for Redis' }));

@Injectable()
export class InferenceMetrics {
  completed(e: UsageEvent, channel: string): void {
    const tm = `${e.tenantId}\u0000${e.model}`;
    requests.add(`${tm}\u0000${channel}\u0000${e.status}`, () => ({ tenant: e.tenantId, model: e.model, channel, status: e.status }));
    duration.observe({ model: e.model, stream: e.stream ? 'true' : 'false' }, e.latencyMs / 1000);
    if (e.ttftMs !== null) ttft.observe({ model: e.model }, e.ttftMs / 1000);
    if (e.inputTokens) tokens.add(`${tm}\u0000input`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'input' }), e.inputTokens);
    if (e.outputTokens) tokens.add(`${tm}\u0000output`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'output' }), e.outputTokens);
    if (e.cacheReadTokens) tokens.add(`${tm}\u0000cache_read`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'cache_read' }), e.cacheReadTokens);
    if (e.cacheWriteTokens) tokens.add(`${tm}\u0000cache_write`, () => ({ tenant: e.tenantId, model: e.model, bucket: 'cache_write' }), e.cacheWriteTokens);
    // A metric is a float anyway; the ledger holds the exact figure.
    const units = Number(e.retailUnits);
    if (units > 0) charged.add(tm, () => ({ tenant: e.tenantId, model: e.model }), units / 1e9);
  }

  refused(tenant: string, reason: string): void {
    refusals.inc({ tenant, reason });
  }

  spooled(size: number): void {
    spool.set(size);
  }
}
