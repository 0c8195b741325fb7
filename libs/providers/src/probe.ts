import { Dispatcher } from 'undici';
import { adapterFor } from './adapters';
import { UpstreamError } from './errors';
import { exchange } from './exchange';
import { createUpstreamAgent } from './http';
import { UpstreamSettings, ProviderType } from './types';

export interface ProbeTarget {
  provider: ProviderType;
  baseUrl: string;
  apiKey: string;
  /** An upstream model name to ask (the channel's first concrete one). */
  upstreamModel: string;
  settings?: UpstreamSettings;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  totalTimeoutMs: number;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  upstreamStatus: number | null;
  errorKind: string | null;
  error: string | null;
}

/**
 * One tiny real request (a one-token chat completion) to see whether a channel answers. Used by
 * the worker's scheduled checks and by `POST /api/v1/channels/:id/test`. The result never
 * carries the key, host or address (errors come from UpstreamError's client-safe message).
 */
export async function probeChannel(target: ProbeTarget, options: { allowPrivateNetworks: boolean; dispatcher?: Dispatcher; timeoutMs?: number }): Promise<ProbeResult> {
  const dispatcher = options.dispatcher ?? createUpstreamAgent({ connectTimeoutMs: target.connectTimeoutMs, allowPrivateNetworks: options.allowPrivateNetworks, connections: 1 });
  const started = performance.now();
  const totalMs = Math.min(target.totalTimeoutMs, options.timeoutMs ?? 15_000);
  try {
    await exchange({
      adapter: adapterFor(target.provider),
      dispatcher,
      endpoint: 'chat',
      body: { model: target.upstreamModel, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 },
      target: { baseUrl: target.baseUrl, apiKey: target.apiKey, upstreamModel: target.upstreamModel, settings: target.settings },
      publicModel: target.upstreamModel,
      stream: false,
      firstByteMs: Math.min(target.firstByteTimeoutMs, totalMs),
      totalMs,
      allowPrivateNetworks: options.allowPrivateNetworks,
    });
    return { ok: true, latencyMs: Math.round(performance.now() - started), upstreamStatus: 200, errorKind: null, error: null };
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started);
    if (error instanceof UpstreamError) return { ok: false, latencyMs, upstreamStatus: error.upstreamStatus, errorKind: error.kind, error: error.body.error.message };
    return { ok: false, latencyMs, upstreamStatus: null, errorKind: 'internal', error: 'The check failed unexpectedly.' };
  } finally {
    if (!options.dispatcher) await (dispatcher as { close?: () => Promise<void> }).close?.();
  }
}
