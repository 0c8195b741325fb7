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

  it('requires the connection URLs in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL is required[\s\S]*REDIS_URL is required/);
  });

  it('leaves the owner and system URLs to the processes that need them', () => {
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://app:x@db/aigateway',
      REDIS_URL: 'redis://cache:6379',
      JWT_SIGNING_KEYS: JSON.stringify([{ kty: 'EC', crv: 'P-256', kid: 'k1', d: 'd', x: 'x', y: 'y' }]),
    };
    const config = loadConfig(env);
    expect(config.DATABASE_ADMIN_URL).toBeUndefined();
    expect(() => requireSettings(config, ['DATABASE_SYSTEM_URL'], 'the worker')).toThrow(/DATABASE_SYSTEM_URL is required by the worker/);
    expect(requireSettings(loadConfig({ ...env, DATABASE_SYSTEM_URL: 'postgres://sys:y@db/aigateway' }), ['DATABASE_SYSTEM_URL'], 'the worker').DATABASE_SYSTEM_URL).toMatch(/^postgres/);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });
});
