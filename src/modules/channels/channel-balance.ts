import { balanceRequest, createUpstreamAgent, mapUpstreamHttpError, parseBalance, sendUpstream, UpstreamBalance, UpstreamError, UpstreamSettings } from '@app/providers';

export interface BalanceReading {
  balance: UpstreamBalance | null;
  /** Why there is no reading (the upstream's error, scrubbed), or null. */
  error: string | null;
  /** The upstream said (by its status) that the account is out of quota. */
  exhausted: boolean;
}

/**
 * Reads a channel's account balance with one of its keys, for presets whose service reports one
 * (null for the others). Never throws for the upstream's failures: they become the reading's error.
 */
export async function readChannelBalance(
  channel: { baseUrl: string; settings: UpstreamSettings; connectTimeoutMs: number },
  apiKey: string,
  options: { allowPrivateNetworks: boolean; timeoutMs?: number },
): Promise<BalanceReading | null> {
  const request = balanceRequest({ baseUrl: channel.baseUrl, apiKey, settings: channel.settings });
  if (!request) return null;
  const agent = createUpstreamAgent({ connectTimeoutMs: channel.connectTimeoutMs, allowPrivateNetworks: options.allowPrivateNetworks, connections: 1 });
  const timeoutMs = options.timeoutMs ?? 10_000;
  try {
    const response = await sendUpstream(agent, request, { firstByteMs: timeoutMs, totalMs: timeoutMs, allowPrivateNetworks: options.allowPrivateNetworks });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 64 * 1024) return { balance: null, error: 'the balance answer is too large', exhausted: false };
      chunks.push(chunk);
    }
    response.done();
    const text = Buffer.concat(chunks).toString('utf8');
    if (response.status < 200 || response.status >= 300) {
      const error = mapUpstreamHttpError(response.status, text, [apiKey]);
      return { balance: null, error: `the upstream answered ${response.status}: ${error.body.error.message}`, exhausted: error.kind === 'quota' };
    }
    const balance = parseBalance(channel.settings.preset, text, channel.baseUrl);
    return balance ? { balance, error: null, exhausted: false } : { balance: null, error: 'the balance answer is not in the shape the service documents', exhausted: false };
  } catch (error) {
    return { balance: null, error: error instanceof UpstreamError ? error.body.error.message : 'the balance could not be read', exhausted: false };
  } finally {
    await agent.close();
  }
}
