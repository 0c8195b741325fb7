import { JWK } from 'jose';
import { Client } from 'pg';
import { FakeUpstream, startFakeOpenAI } from '../../scripts/fake-upstream';
import { runCli } from '../../src/cli';
import { SecretBox } from '@app/providers';
import { DEMO_CHANNEL_NAME } from '../../src/cli/demo-upstream.service';
import { generateSigningJwk } from '../../src/modules/auth/signing-keys';
import { RunningApp, startTestApi, testConfig } from '../support/app';
import { login } from '../support/auth';
import { isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { isolatedRedisUrl } from '../support/redis';
import { waitUntil } from '../support/timing';

const LOGIN_LINE = /^\s+(\S+)\s+(\S+)\s+(\S+@\S+)$/; // as test/e2e/hardening.spec.ts parses them
const KEY_LINE = /^(sk-[0-9A-Za-z]{43})$/;
const DEMO_HOST = 'demo.localhost';
const CUSTOMER = `user@${DEMO_HOST}`;

/**
 * Issue 11, "A working default": `cli seed-demo` with FAKE_UPSTREAM_URL (what `npm run dev` sets)
 * makes the first `POST /v1/chat/completions` work with the key it prints, at the demo reseller's
 * domain; a run revokes the previous demo key unless it is handed back (issue 19: `npm run dev` keeps
 * it across restarts). Its own database and Redis db: the demo tenant,
 * channel and prices of other files must not mix in.
 */
describe('seed-demo: a working default for the inference API (issue 11)', () => {
  let fake: FakeUpstream;
  let urls: Awaited<ReturnType<typeof isolatedDatabase>>;
  let env: Record<string, string>;
  let system: Client;
  let api: RunningApp;
  let jwk: JWK;

  const seed = async (keepKey?: string) => {
    const lines: string[] = [];
    if (keepKey) process.env.DEMO_API_KEY = keepKey;
    try {
      expect(await runCli(['seed-demo'], testConfig(env), (line) => lines.push(line))).toBe(0);
    } finally {
      delete process.env.DEMO_API_KEY;
    }
    const keys = lines.map((line) => KEY_LINE.exec(line)?.[1]).filter((k): k is string => !!k);
    expect(keys).toHaveLength(1);
    return { lines, key: keys[0] };
  };
  const chat = (key: string) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', {
      host: DEMO_HOST,
      token: key,
      json: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] },
    });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    urls = await isolatedDatabase();
    jwk = await generateSigningJwk();
    env = { ...urls, REDIS_URL: await isolatedRedisUrl(), JWT_SIGNING_KEYS: JSON.stringify([jwk]) };
    process.env.FAKE_UPSTREAM_URL = `${fake.url}/v1`;
    system = new Client({ connectionString: urls.DATABASE_SYSTEM_URL });
    await system.connect();
  });

  afterAll(async () => {
    delete process.env.FAKE_UPSTREAM_URL;
    await api?.close();
    await system?.end();
    await fake?.close();
  });

  it('prints a key that makes the first call; a second run revokes it and changes nothing else', async () => {
    const first = await seed();
    // The login lines stay exactly the ten that scripts and tests parse; the key line is not one.
    expect(first.lines.filter((line) => LOGIN_LINE.test(line))).toHaveLength(10);
    expect(first.lines.join('\n')).toMatch(/demo upstream: channel "demo-upstream" -> http:\/\/127\.0\.0\.1:\d+\/v1 \(created\)/);
    expect(first.lines.join('\n')).toMatch(/demo wallet: user@demo\.localhost credited 10\.00; ledger balance 10\.000000000/);

    api = await startTestApi({ ...env, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true' });
    const res = await chat(first.key);
    expect({ status: res.status, text: res.status === 200 ? '' : res.text }).toEqual({ status: 200, text: '' });
    expect(res.body).toMatchObject({ object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ message: { role: 'assistant' } }] });
    expect(res.body.choices[0].message.content).toEqual(expect.any(String));
    // It went to the demo channel with the upstream key seed-demo stored (encrypted) on it.
    const upstreamCall = fake.requests.find((r) => r.path === '/v1/chat/completions');
    expect(upstreamCall?.headers.authorization).toBe('Bearer sk-demo-upstream-0000');

    // The balance goes down at once where the proxy holds it (spendable, Redis), as the README says.
    const signIn = await login(api.baseUrl, { host: DEMO_HOST, email: CUSTOMER, password: 'Demo-Gateway-2026!' });
    expect(signIn.status).toBe(200);
    const balance = await call(api.baseUrl, 'GET', '/api/v1/me/balance', { host: DEMO_HOST, token: signIn.body.accessToken });
    expect(balance.status).toBe(200);
    expect(balance.body.balance).toBe('10.000000000');
    expect(balance.body.spendable).toMatch(/^9\.\d+$/);
    // The fake's usage at the reseller's retail (twice the platform list: 0.30 / 1.20 / cached 0.15
    // per million): 7 uncached prompt tokens, 2 cached and 7 completion tokens = 0.0000108.
    expect(balance.body.spendable).toBe('9.999989200');
    // The customer sees the key (by its prefix, never the secret) among their own.
    const listed = await call(api.baseUrl, 'GET', '/api/v1/keys', { host: DEMO_HOST, token: signIn.body.accessToken });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([expect.objectContaining({ prefix: first.key.slice(0, 9), status: 'active', createdBy: null })]);
    expect(listed.text).not.toContain(first.key);

    const second = await seed();
    expect(second.key).not.toBe(first.key);
    expect(second.lines.join('\n')).toMatch(/\(kept\)/);
    expect(second.lines.join('\n')).toMatch(/was funded with 10\.00 by an earlier run/);
    expect(second.lines.join('\n')).toMatch(/revoked now: 1\)/);

    // The running api heard the revocation (cache broadcast): the first key is now an invalid key.
    const revoked = await chat(first.key);
    expect(revoked.status).toBe(401);
    expect(revoked.body).toEqual({ error: expect.objectContaining({ code: 'invalid_api_key', type: 'invalid_request_error' }) });
    expect((await chat(second.key)).status).toBe(200);

    // Idempotent: one channel, one price version each, one credit (balanced), one live demo key.
    const count = async (sql: string, params: unknown[] = []) => (await system.query(sql, params)).rows[0].n;
    expect(await count(`SELECT count(*)::int AS n FROM channels WHERE lower(name) = $1`, [DEMO_CHANNEL_NAME])).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM platform_prices WHERE model IN ('gpt-4o-mini', 'text-embedding-3-small')`)).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM tenant_prices WHERE model = 'gpt-4o-mini'`)).toBe(1);
    const credits = await system.query(
      `SELECT t.amount::text, (SELECT sum(e.amount)::text FROM ledger_entries e WHERE e.transaction_id = t.id) AS entries_sum
         FROM ledger_transactions t WHERE t.idempotency_key = 'credit:demo-seed-initial-funds'`,
    );
    expect(credits.rows).toEqual([{ amount: '10.000000000', entries_sum: '0.000000000' }]);
    const keys = await system.query(`SELECT status FROM api_keys ORDER BY created_at`);
    expect(keys.rows.map((r) => r.status)).toEqual(['revoked', 'active']);
    // Every change the seed made is in the audit log, by the system (no actor).
    const audited = await system.query(`SELECT action FROM audit_log WHERE actor_user_id IS NULL ORDER BY action`);
    expect(audited.rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['api_key.created', 'api_key.revoked', 'channel.created', 'price.platform_set', 'price.set', 'wallet.credited']),
    );
  });

  it('points the demo channel at a new upstream URL (another FAKE_UPSTREAM_PORT) and refuses a non-URL', async () => {
    const other = await startFakeOpenAI();
    try {
      process.env.FAKE_UPSTREAM_URL = `${other.url}/v1`;
      const run = await seed();
      expect(run.lines.join('\n')).toMatch(/\(repointed\)/);
      const { rows } = await system.query(`SELECT base_url FROM channels WHERE name = $1`, [DEMO_CHANNEL_NAME]);
      expect(rows).toEqual([{ base_url: `${other.url}/v1` }]);
      // The running api reloaded its routing table on the broadcast: the call reaches the new fake.
      let status = 0;
      await waitUntil(
        async () => {
          status = (await chat(run.key)).status;
          return other.requests.some((r) => r.path === '/v1/chat/completions');
        },
        { what: 'a call to reach the new fake', timeoutMs: 5000, intervalMs: 100 },
      ).catch(() => undefined); // the expectations below say what went wrong
      expect(status).toBe(200);
      expect(other.requests.some((r) => r.path === '/v1/chat/completions')).toBe(true);
    } finally {
      process.env.FAKE_UPSTREAM_URL = `${fake.url}/v1`;
      await other.close();
    }
    await expect(runCli(['seed-demo', '--upstream-url', 'ftp://example.com'], testConfig(env), () => undefined)).rejects.toThrow(/must be http/);
    // Run by hand against a config that keeps channels off private networks, it says what the api needs.
    const lines: string[] = [];
    const strict = testConfig({ ...env, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'false' });
    expect(await runCli(['seed-demo', '--upstream-url', `${fake.url}/v1`], strict, (line) => lines.push(line))).toBe(0);
    expect(lines.join('\n')).toContain('only with CHANNEL_ALLOW_PRIVATE_NETWORKS=true');
    expect(lines.filter((line) => LOGIN_LINE.test(line))).toHaveLength(10);
  });
  it('keeps the demo key handed back while it is active, so a saved key survives a restart (issue 19)', async () => {
    const before = await seed();
    const kept = await seed(before.key);
    expect(kept.key).toBe(before.key);
    expect(kept.lines.join('\n')).toContain('(kept: the key given is still their active demo key)');
    expect((await chat(kept.key)).status).toBe(200);
    const active = await system.query(`SELECT prefix FROM api_keys WHERE status = 'active' AND name = 'demo key (cli seed-demo)'`);
    expect(active.rows).toEqual([{ prefix: before.key.slice(0, 9) }]);

    // A key that is not (or no longer) the active demo key is never printed back: a new one is made.
    const unknown = await seed(`sk-${'0'.repeat(43)}`);
    expect(unknown.key).not.toBe(before.key);
    expect(unknown.lines.join('\n')).toMatch(/\(new: the earlier demo keys are revoked; revoked now: 1\)/);
    // The revoked key handed back is not revived either.
    const afterRevocation = await seed(before.key);
    expect(afterRevocation.key).not.toBe(before.key);
    expect(afterRevocation.lines.join('\n')).toContain('(new: the earlier demo keys are revoked');
    expect((await chat(before.key)).status).toBe(401);
  });

  it('check-channel-keys: exit 1 when the keys cannot open the stored upstream key (a new key over old data)', async () => {
    const lines: string[] = [];
    expect(await runCli(['check-channel-keys'], testConfig(env), (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^CHANNEL_ENCRYPTION_KEYS open all [1-9]\d* stored secrets$/)]);

    const otherKey = JSON.stringify([SecretBox.generateKey()]);
    const refused: string[] = [];
    expect(await runCli(['check-channel-keys'], testConfig({ ...env, CHANNEL_ENCRYPTION_KEYS: otherKey }), (line) => refused.push(line))).toBe(1);
    expect(refused.join('\n')).toMatch(/cannot open 1 of 1 stored secrets/);
  });
});
