import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, register } from 'prom-client';
import { fromUnits } from '@app/money';
import type { UsageEvent } from '@app/billing';

function once<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * Metrics of the inference API, served on the metrics port only (per-tenant money is
 * confidential). Labels are bounded: tenant ids and model names come from the platform's own
 * tables (a request reaches this point only for a priced model), the status from a fixed list.
 */
const requests = once('aigateway_inference_requests_total', () => new Counter({ name: 'aigateway_inference_requests_total', help: 'Inference requests by tenant, model, channel and outcome', labelNames: ['tenant', 'model', 'channel', 'status'] as const }));
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
const tokens = once('aigateway_inference_tokens_total', () => new Counter({ name: 'aigateway_inference_tokens_total', help: 'Tokens by tenant, model and bucket', labelNames: ['tenant', 'model', 'bucket'] as const }));
const charged = once('aigateway_inference_charged_total', () => new Counter({ name: 'aigateway_inference_charged_total', help: 'Money charged to customers at retail (currency units)', labelNames: ['tenant', 'model'] as const }));
const refusals = once('aigateway_inference_refused_total', () => new Counter({ name: 'aigateway_inference_refused_total', help: 'Requests refused before the upstream (rate limits, balance, spend limit)', labelNames: ['tenant', 'reason'] as const }));
const spool = once('aigateway_inference_spooled_settlements', () => new Gauge({ name: 'aigateway_inference_spooled_settlements', help: 'Settlements waiting in the local spool for Redis' }));

@Injectable()
export class InferenceMetrics {
  completed(e: UsageEvent, channel: string): void {
    requests.inc({ tenant: e.tenantId, model: e.model, channel, status: e.status });
    duration.observe({ model: e.model, stream: String(e.stream) }, e.latencyMs / 1000);
    if (e.ttftMs !== null) ttft.observe({ model: e.model }, e.ttftMs / 1000);
    if (e.inputTokens) tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'input' }, e.inputTokens);
    if (e.outputTokens) tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'output' }, e.outputTokens);
    if (e.cacheReadTokens) tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'cache_read' }, e.cacheReadTokens);
    if (e.cacheWriteTokens) tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'cache_write' }, e.cacheWriteTokens);
    const units = BigInt(e.retailUnits);
    // A metric is a float anyway; the ledger holds the exact figure.
    if (units > 0n) charged.inc({ tenant: e.tenantId, model: e.model }, Number(fromUnits(units)));
  }

  refused(tenant: string, reason: string): void {
    refusals.inc({ tenant, reason });
  }

  spooled(size: number): void {
    spool.set(size);
  }
}
