import { PinoLogger } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import type { TraceScope } from './tracing';

/**
 * Runs a traced unit of work with its trace and span ids on every JSON log line written inside it
 * (through Nest's Logger, which nestjs-pino backs). nestjs-pino already keeps a request's logger in
 * its own AsyncLocalStorage for Nest routes; the /v1 front door has none. Here the current logger
 * (or the root one) gets a child with `traceId` and `spanId`, for this work only. Called only when
 * a span exists: with tracing off nothing of this runs (no child logger, no store).
 */
export function runWithTraceLogs<T>(scope: TraceScope, work: () => Promise<T>): Promise<T> {
  const store = storage.getStore();
  const base = store?.logger ?? PinoLogger.root;
  if (!base) return work();
  const { traceId, spanId } = scope.span.spanContext();
  return storage.run(new Store(base.child({ traceId, spanId }), store?.responseLogger), work);
}
