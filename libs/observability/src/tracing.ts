import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Attributes, Context, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace, TraceFlags, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, SpanExporter, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { AppConfig, APP_CONFIG } from '@app/config';

/** Injection token of the process's name ('api', 'worker'), used as the traces' service name suffix. */
export const TRACING_PROCESS = Symbol('TRACING_PROCESS');

/** Tests put an in-memory exporter here before a process starts (spans are exported synchronously then). */
let exporterForTests: SpanExporter | null = null;
export function useSpanExporterForTests(exporter: SpanExporter | null): void {
  exporterForTests = exporter;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parent context of a W3C `traceparent` header (version 00), or ROOT_CONTEXT when absent or malformed. */
export function contextFromTraceparent(header: string | string[] | undefined): Context {
  const text = Array.isArray(header) ? header[0] : header;
  const match = text ? TRACEPARENT.exec(text.trim().toLowerCase()) : null;
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16) & 1, isRemote: true });
}

/** The W3C `traceparent` header naming a span as the parent. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/**
 * One traced unit of work (an inference request, a metering batch): its root span and the
 * context children start in. Contexts are passed explicitly, never through AsyncLocalStorage.
 */
export class TraceScope {
  readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  /** A child span of the root (the caller ends it, see `endSpan`). */
  child(name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span {
    return this.tracer.startSpan(name, { attributes, kind }, this.context);
  }

  /** Runs `work` in a child span, ended (with the error recorded) when it settles. */
  async around<T>(name: string, work: () => Promise<T>, attributes?: Attributes): Promise<T> {
    const span = this.child(name, attributes);
    try {
      return await work();
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}

/** Marks a span failed with the error's message. */
export function failSpan(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * OpenTelemetry tracing, off unless configured (TRACING_ENABLED, or OTEL_EXPORTER_OTLP_ENDPOINT
 * set). Off, `enabled` is false and nothing is created: callers check it (or get null from
 * `start`) before any tracing work, so the hot path pays one property read. On, spans go through
 * a batch processor to the OTLP/HTTP exporter. The provider is this process's own (never
 * registered globally), so an api and a worker in one test process trace independently.
 */
@Injectable()
export class Tracing implements OnApplicationShutdown {
  readonly enabled: boolean;
  private readonly provider: TracerProvider | null = null;
  private readonly tracer: Tracer | null = null;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(TRACING_PROCESS) processName: string) {
    this.enabled = config.TRACING_ENABLED ?? Boolean(config.OTEL_EXPORTER_OTLP_ENDPOINT);
    if (!this.enabled) return;
    const processor = exporterForTests
      ? new SimpleSpanProcessor({ exporter: exporterForTests })
      : new BatchSpanProcessor({ exporter: new OTLPTraceExporter(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { url: tracesUrl(config.OTEL_EXPORTER_OTLP_ENDPOINT) } : {}) });
    const ratio = config.TRACING_SAMPLE_RATIO;
    this.provider = new TracerProvider({
      // A client's sampled traceparent is followed; new traces are sampled at TRACING_SAMPLE_RATIO.
      sampler: new ParentBasedSampler({ root: ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio) }),
      resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME ?? `aigateway-${processName}` }),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('aigateway');
  }

  /** A root span (a child of `parent` when given), or null when tracing is off. */
  start(name: string, parent: Context = ROOT_CONTEXT, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): TraceScope | null {
    if (!this.tracer) return null;
    return new TraceScope(this.tracer, this.tracer.startSpan(name, { attributes, kind }, parent));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.provider?.shutdown().catch(() => undefined);
  }
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL (as the spec defines it): traces go to /v1/traces under it. */
function tracesUrl(endpoint: string): string {
  return endpoint.endsWith('/v1/traces') ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
