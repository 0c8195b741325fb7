import { ConfigError, loadConfig, requireSettings } from './load-config';

describe('loadConfig', () => {
  it('runs locally with no environment at all', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toMatch(/^postgres:\/\/aigateway_app:/);
    expect(config.REDIS_URL).toMatch(/^redis:\/\//);
  });

  it('names every bad variable and does not echo the values', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://secret-host:1', DATABASE_URL: 'mysql://u:hunter2@x/db' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PORT');
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('secret-host');
  });

  it('bounds the top-up settings: order lifetime within what Stripe Checkout accepts, an http(s) Stripe API, positive attempt limits', () => {
    expect(loadConfig({}).TOPUP_ORDER_TTL_MINUTES).toBe(60);
    expect(loadConfig({}).STRIPE_API_URL).toBe('https://api.stripe.com');
    for (const env of [{ TOPUP_ORDER_TTL_MINUTES: '30' }, { TOPUP_ORDER_TTL_MINUTES: '1441' }, { STRIPE_API_URL: 'ftp://stripe.local' }, { REDEEM_MAX_ATTEMPTS_PER_USER: '0' }]) {
      expect(() => loadConfig(env)).toThrow(new RegExp(Object.keys(env)[0]));
    }
  });

  it('requires the connection URLs in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL is required[\s\S]*REDIS_URL is required/);
  });

  it('leaves the owner and system URLs to the processes that need them', () => {
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://app:x@db/aigateway',
      REDIS_URL: 'redis://cache:6379',
      JWT_SIGNING_KEYS: JSON.stringify([{ kty: 'EC', crv: 'P-256', kid: 'k1', d: 'd', x: 'x', y: 'y' }]),
      CHANNEL_ENCRYPTION_KEYS: JSON.stringify([{ kid: 'c1', k: Buffer.alloc(32, 7).toString('base64url') }]),
    };
    const config = loadConfig(env);
    expect(config.DATABASE_ADMIN_URL).toBeUndefined();
    expect(() => requireSettings(config, ['DATABASE_SYSTEM_URL'], 'the worker')).toThrow(/DATABASE_SYSTEM_URL is required by the worker/);
    expect(requireSettings(loadConfig({ ...env, DATABASE_SYSTEM_URL: 'postgres://sys:y@db/aigateway' }), ['DATABASE_SYSTEM_URL'], 'the worker').DATABASE_SYSTEM_URL).toMatch(/^postgres/);
  });

  it('requires CHANNEL_ENCRYPTION_KEYS in production, valid and without echoing it', () => {
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://app:x@db/aigateway',
      REDIS_URL: 'redis://cache:6379',
      JWT_SIGNING_KEYS: JSON.stringify([{ kty: 'EC', crv: 'P-256', kid: 'k1', d: 'd', x: 'x', y: 'y' }]),
    };
    expect(() => loadConfig(env)).toThrow(/CHANNEL_ENCRYPTION_KEYS is required/);
    const shortKey = JSON.stringify([{ kid: 'c1', k: 'c2VjcmV0LXRvby1zaG9ydA' }]);
    expect(() => loadConfig({ ...env, CHANNEL_ENCRYPTION_KEYS: shortKey })).toThrow(/CHANNEL_ENCRYPTION_KEYS/);
    try {
      loadConfig({ ...env, CHANNEL_ENCRYPTION_KEYS: shortKey });
    } catch (error) {
      expect(String(error)).not.toContain('c2VjcmV0LXRvby1zaG9ydA');
    }
    const duplicate = JSON.stringify([1, 2].map(() => ({ kid: 'same', k: Buffer.alloc(32).toString('base64url') })));
    expect(() => loadConfig({ ...env, CHANNEL_ENCRYPTION_KEYS: duplicate })).toThrow(/unique kid/);
    // Outside production a fixed local key is used, so api, worker and cli agree.
    expect(loadConfig({}).CHANNEL_ENCRYPTION_KEYS[0].kid).toBe('local-insecure');
  });

  it('takes Redis as a Cluster or behind Sentinels, never both, and a Cluster only with database 0', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).REDIS_CLUSTER_NODES).toBe('a:7000, b:7001');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a' })).toThrow(/REDIS_CLUSTER_NODES must be host:port/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 's:26379' })).toThrow(/REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://a:7000/2' })).toThrow(/database other than 0/);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://a:7000/0' }).REDIS_URL).toBe('redis://a:7000/0');
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });
});
