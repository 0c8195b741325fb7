import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge, Histogram } from 'prom-client';
import { fromUnits } from '@app/money';
import type { UsageEvent } from '@app/billing';

/**
 * Metrics of the inference API, served on the metrics port only (per-tenant money is
 * confidential). Labels are bounded: tenant ids and model names come from the platform's own
 * tables (a key can only reach priced models), the status from a fixed list.
 */
export const inferenceMetricProviders = [
  makeCounterProvider({ name: 'aigateway_inference_requests_total', help: 'Inference requests by tenant, model, channel and outcome.', labelNames: ['tenant', 'model', 'channel', 'status'] }),
  makeHistogramProvider({
    name: 'aigateway_inference_duration_seconds',
    help: 'Inference request duration, from arrival to the last byte.',
    labelNames: ['model', 'stream'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  }),
  makeHistogramProvider({
    name: 'aigateway_inference_ttft_seconds',
    help: 'Time to the first streamed token.',
    labelNames: ['model'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  makeCounterProvider({ name: 'aigateway_inference_tokens_total', help: 'Tokens by tenant, model and bucket.', labelNames: ['tenant', 'model', 'bucket'] }),
  makeCounterProvider({ name: 'aigateway_inference_charged_total', help: 'Money charged to customers at retail (currency units).', labelNames: ['tenant', 'model'] }),
  makeCounterProvider({ name: 'aigateway_inference_refused_total', help: 'Requests refused before the upstream (limits, balance).', labelNames: ['tenant', 'reason'] }),
  makeGaugeProvider({ name: 'aigateway_inference_spooled_settlements', help: 'Settlements waiting in the local spool for Redis.' }),
];

@Injectable()
export class InferenceMetrics {
  constructor(
    @InjectMetric('aigateway_inference_requests_total') private readonly requests: Counter<string>,
    @InjectMetric('aigateway_inference_duration_seconds') private readonly duration: Histogram<string>,
    @InjectMetric('aigateway_inference_ttft_seconds') private readonly ttft: Histogram<string>,
    @InjectMetric('aigateway_inference_tokens_total') private readonly tokens: Counter<string>,
    @InjectMetric('aigateway_inference_charged_total') private readonly charged: Counter<string>,
    @InjectMetric('aigateway_inference_refused_total') private readonly refusals: Counter<string>,
    @InjectMetric('aigateway_inference_spooled_settlements') private readonly spool: Gauge<string>,
  ) {}

  completed(e: UsageEvent, channel: string): void {
    this.requests.inc({ tenant: e.tenantId, model: e.model, channel, status: e.status });
    this.duration.observe({ model: e.model, stream: String(e.stream) }, e.latencyMs / 1000);
    if (e.ttftMs !== null) this.ttft.observe({ model: e.model }, e.ttftMs / 1000);
    if (e.inputTokens) this.tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'input' }, e.inputTokens);
    if (e.outputTokens) this.tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'output' }, e.outputTokens);
    if (e.cacheReadTokens) this.tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'cache_read' }, e.cacheReadTokens);
    if (e.cacheWriteTokens) this.tokens.inc({ tenant: e.tenantId, model: e.model, bucket: 'cache_write' }, e.cacheWriteTokens);
    const units = BigInt(e.retailUnits);
    // A metric is a float anyway; the ledger holds the exact figure.
    if (units > 0n) this.charged.inc({ tenant: e.tenantId, model: e.model }, Number(fromUnits(units)));
  }

  refused(tenant: string, reason: string): void {
    this.refusals.inc({ tenant, reason });
  }

  spooled(size: number): void {
    this.spool.set(size);
  }
}
