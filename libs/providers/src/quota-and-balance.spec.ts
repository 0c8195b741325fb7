import { balanceExhausted, balanceRequest, parseBalance } from './balance';
import { isQuotaExhausted, mapUpstreamHttpError, openAIError, UpstreamError } from './errors';
import { failover } from './failover';
import { Candidate, ChannelRouter, RoutingChannel } from './router';

function channel(id: string, overrides: Partial<RoutingChannel> = {}): RoutingChannel {
  return {
    id,
    name: id,
    provider: 'openai',
    baseUrl: 'https://upstream.example/v1',
    models: [{ public: 'gpt-x', upstream: null }],
    priority: 0,
    weight: 1,
    pool: 'standard',
    connectTimeoutMs: 1000,
    firstByteTimeoutMs: 1000,
    totalTimeoutMs: 5000,
    retryBudget: 2,
    status: 'enabled',
    keys: [{ id: `${id}-k1`, secret: 'sk-1', last4: '1', status: 'active' }],
    version: '1',
    ...overrides,
  };
}

describe('an upstream account out of quota', () => {
  it.each([
    ['OpenAI 429 insufficient_quota', 429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }],
    ['DeepSeek 402', 402, { error: { message: 'Insufficient Balance', type: 'unknown_error' } }],
    ['OpenRouter 402', 402, { error: { message: 'Insufficient credits', code: 402 } }],
    ['Kimi 429 exceeded_current_quota_error', 429, { error: { message: 'Your account is suspended', type: 'exceeded_current_quota_error' } }],
    ['GLM code 1113', 429, { error: { code: '1113', message: '余额不足或无可用资源包,请充值。' } }],
    ['Anthropic credit balance', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } }],
  ])('is recognised: %s', (_, status, body) => {
    expect(isQuotaExhausted(status, JSON.stringify(body))).toBe(true);
    const error = mapUpstreamHttpError(status, JSON.stringify(body));
    // The client never reads "insufficient_quota" for the gateway's own upstream: that would say its wallet is empty.
    expect(error).toMatchObject({ kind: 'quota', status: 503, retryable: true, channelFault: false });
    expect(error.body.error.code).toBe('no_available_channel');
  });

  it.each([
    ['a rate limit', 429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }],
    ['a bad request', 400, { error: { message: 'max_tokens is too large', type: 'invalid_request_error' } }],
    ['a server error', 500, { error: { message: 'insufficient quota on the database shard' } }],
  ])('is not %s', (_, status, body) => {
    expect(isQuotaExhausted(status, JSON.stringify(body))).toBe(false);
    expect(mapUpstreamHttpError(status, JSON.stringify(body)).kind).not.toBe('quota');
  });

  it('takes the channel out of this instance at once, until its row changes', () => {
    const router = new ChannelRouter({ rng: () => 0.5 });
    const a = channel('a', { priority: 1 });
    router.replace([a, channel('b')]);
    router.exhaustLocally(a);
    expect(router.pick('gpt-x').map((c) => c.channel.id)).toEqual(['b']);
    router.replace([a, channel('b')]);
    expect(router.pick('gpt-x').map((c) => c.channel.id)).toEqual(['b']);
    router.replace([{ ...a, version: '2' }, channel('b')]);
    expect(router.pick('gpt-x').map((c) => c.channel.id)).toEqual(['a', 'b']);
  });

  it('a quota-exhausted channel still tells a known model (503) from an unknown one (404)', () => {
    const router = new ChannelRouter();
    router.replace([channel('a', { status: 'quota_exhausted' })]);
    expect(router.serves('gpt-x')).toBe(true);
    expect(router.pick('gpt-x')).toEqual([]);
  });
});

describe('failover past channels at their limits', () => {
  const candidates: Candidate[] = ['a', 'b', 'c', 'd'].map((id) => ({ channel: channel(id), upstreamModel: 'm' }));
  const capacity = () => new UpstreamError('capacity', 429, openAIError('at its limit', 'rate_limit_error', 'rate_limit_exceeded'));
  const down = () => new UpstreamError('connect', 502, openAIError('down', 'api_error', null));

  it('skips them without spending the retry budget', async () => {
    const tried: string[] = [];
    const result = await failover(
      candidates,
      async (c) => {
        tried.push(c.channel.id);
        if (c.channel.id === 'a' || c.channel.id === 'b') throw capacity();
        if (c.channel.id === 'c') throw down();
        return 'ok';
      },
      { retryBudget: 1, deadline: Date.now() + 10_000 },
    );
    expect(tried).toEqual(['a', 'b', 'c', 'd']);
    expect(result.value).toBe('ok');
  });

  it('answers with the limit when every channel was at its limit, and with a real failure before a skip', async () => {
    await expect(failover(candidates, async () => Promise.reject(capacity()), { retryBudget: 0, deadline: Date.now() + 10_000 })).rejects.toMatchObject({ kind: 'capacity', status: 429 });
    await expect(
      failover(candidates, async (c) => Promise.reject(c.channel.id === 'a' ? down() : capacity()), { retryBudget: 5, deadline: Date.now() + 10_000 }),
    ).rejects.toMatchObject({ kind: 'connect' });
  });
});

describe('channel balance', () => {
  const target = (preset: string, baseUrl: string) => ({ baseUrl, apiKey: 'sk-test-0000', settings: { preset } });

  it('asks where each service answers', () => {
    expect(balanceRequest(target('deepseek', 'https://api.deepseek.com/v1'))?.url).toBe('https://api.deepseek.com/user/balance');
    expect(balanceRequest(target('kimi', 'https://api.moonshot.cn/v1'))?.url).toBe('https://api.moonshot.cn/v1/users/me/balance');
    expect(balanceRequest(target('openrouter', 'https://openrouter.ai/api/v1'))?.url).toBe('https://openrouter.ai/api/v1/credits');
    expect(balanceRequest(target('qwen', 'https://dashscope.aliyuncs.com/compatible-mode/v1'))).toBeNull();
    expect(balanceRequest({ baseUrl: 'https://api.openai.com/v1', apiKey: 'k', settings: {} })).toBeNull();
    expect(balanceRequest(target('deepseek', 'https://api.deepseek.com/v1'))?.headers.authorization).toBe('Bearer sk-test-0000');
  });

  it('reads each answer exactly, in its currency', () => {
    expect(parseBalance('deepseek', JSON.stringify({ is_available: true, balance_infos: [{ currency: 'CNY', total_balance: '110.00', granted_balance: '10.00', topped_up_balance: '100.00' }] }))).toEqual({
      amount: '110.00',
      currency: 'CNY',
    });
    expect(parseBalance('kimi', JSON.stringify({ code: 0, data: { available_balance: 49.58894, voucher_balance: 46.58893, cash_balance: 3.00001 }, status: true }), 'https://api.moonshot.cn/v1')).toEqual({
      amount: '49.58894',
      currency: 'CNY',
    });
    expect(parseBalance('kimi', JSON.stringify({ data: { available_balance: 0 } }), 'https://api.moonshot.ai/v1')).toEqual({ amount: '0', currency: 'USD' });
    expect(parseBalance('openrouter', JSON.stringify({ data: { total_credits: 50, total_usage: 42.123456789 } }))).toEqual({ amount: '7.876543211', currency: 'USD' });
    expect(parseBalance('deepseek', 'not json')).toBeNull();
    expect(parseBalance('deepseek', JSON.stringify({ balance_infos: [{ currency: 'CNY', total_balance: 'lots' }] }))).toBeNull();
  });

  it('an empty or negative balance is exhausted, anything above zero is not', () => {
    expect(balanceExhausted({ amount: '0.00', currency: 'CNY' })).toBe(true);
    expect(balanceExhausted({ amount: '-0.5', currency: 'USD' })).toBe(true);
    expect(balanceExhausted({ amount: '0.01', currency: 'USD' })).toBe(false);
  });
});
