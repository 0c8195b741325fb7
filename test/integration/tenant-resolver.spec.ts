import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { TenantResolver } from '@app/tenancy';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { CoreModule } from '../../src/core.module';
import { testConfig } from '../support/app';
import { connectAs, SeededTenant, seedTenant, uniqueSlug } from '../support/db';
import { scaled, waitUntil } from '../support/timing';

interface Instance {
  context: INestApplicationContext;
  resolver: TenantResolver;
  /** Counts the lookups this instance sent to PostgreSQL. */
  lookups: () => number;
}

/**
 * Host -> tenant resolution as every api instance runs it: real PostgreSQL behind it, a cache in
 * each process, and invalidation broadcast through Redis.
 */
describe('TenantResolver (two instances)', () => {
  let system: Client;
  let redis: LocalRedis;
  let one: Instance;
  let two: Instance;
  let shortTtl: Instance;

  async function instance(overrides: Record<string, string> = {}): Promise<Instance> {
    const config = testConfig({ REDIS_URL: redis.url, ...overrides });
    const context = await NestFactory.createApplicationContext(CoreModule.forProcess('cli', config), { logger: false });
    const dataSource = context.get<DataSource>(getDataSourceToken());
    const query = jest.spyOn(dataSource, 'query');
    const resolver = context.get(TenantResolver);
    const lookups = () => query.mock.calls.filter(([sql]) => /tenancy\.resolve_(domain|slug)/.test(String(sql))).length;
    // Wait until the invalidation subscriber is listening, as it is long before a real request.
    const subscriber = (resolver as unknown as { subscriber?: { status: string } }).subscriber;
    await waitUntil(() => subscriber?.status === 'ready', { what: 'the invalidation subscriber', timeoutMs: 2500 });
    return { context, resolver, lookups };
  }

  /** Polls until `read` gives `expected`; returns how long that took. `timeoutMs` is scaled (../support/timing). */
  async function within<T>(read: () => Promise<T>, expected: T, quietTimeoutMs: number): Promise<number> {
    const timeoutMs = scaled(quietTimeoutMs);
    const started = Date.now();
    for (;;) {
      const value = await read();
      if (JSON.stringify(value) === JSON.stringify(expected)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`after ${timeoutMs} ms still ${JSON.stringify(value)}, expected ${JSON.stringify(expected)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  beforeAll(async () => {
    system = await connectAs('system');
    // A Redis of its own: invalidations are broadcast (pub/sub ignores database numbers), and
    // another test file's broadcasts would drop these instances' cached entries.
    redis = await startRedis({ port: await freePort() });
    [one, two, shortTtl] = await Promise.all([instance(), instance(), instance({ TENANT_CACHE_TTL_SECONDS: '1' })]);
  });

  afterAll(async () => {
    await Promise.all([one, two, shortTtl].map((i) => i?.context.close()));
    await redis?.stop();
    await system?.end();
  });

  const idOf = async (resolver: TenantResolver, host: string) => (await resolver.resolveHost(host))?.id ?? null;

  describe('resolution', () => {
    let tenant: SeededTenant;

    beforeAll(async () => {
      tenant = await seedTenant(system);
    });

    it('resolves a tenant domain to the public facts of its tenant', async () => {
      expect(await one.resolver.resolveHost(tenant.domain)).toEqual({
        id: tenant.id,
        slug: tenant.slug,
        type: 'reseller',
        status: 'active',
        name: `Tenant ${tenant.slug}`,
      });
    });

    it.each([
      ['upper case', (d: string) => d.toUpperCase()],
      ['a port', (d: string) => `${d}:8443`],
      ['a trailing dot', (d: string) => `${d}.`],
      ['upper case, a port and spaces', (d: string) => ` ${d.toUpperCase()}:3000 `],
    ])('resolves the domain written with %s', async (_label, write) => {
      expect(await idOf(one.resolver, write(tenant.domain))).toBe(tenant.id);
    });

    it('resolves by slug too', async () => {
      expect((await one.resolver.resolveSlug(tenant.slug.toUpperCase()))?.id).toBe(tenant.id);
      expect(await one.resolver.resolveSlug('no such slug!')).toBeNull();
    });

    it('returns null for an unknown host', async () => {
      expect(await one.resolver.resolveHost(`${uniqueSlug('nobody')}.test.localhost`)).toBeNull();
    });

    it.each<[string, string | undefined]>([
      ['no Host', undefined],
      ['an empty Host', ''],
      ['an IPv6 literal', '[::1]:3000'],
      ['a space', 'a b.example.test'],
      ['a quote', "evil.example.test'--"],
      ['a bad port', 'example.test:port'],
      ['300 characters', 'x'.repeat(300)],
    ])(
      'returns null for a Host with %s, without asking the database',
      async (_label, host) => {
        const before = one.lookups();
        expect(await one.resolver.resolveHost(host)).toBeNull();
        expect(one.lookups()).toBe(before);
      },
    );
  });

  describe('cache', () => {
    it('asks the database once, then answers from memory (found or not)', async () => {
      const tenant = await seedTenant(system);
      const unknown = `${uniqueSlug('nobody')}.test.localhost`;
      const before = two.lookups();
      expect(await idOf(two.resolver, tenant.domain)).toBe(tenant.id);
      expect(await idOf(two.resolver, unknown)).toBeNull();
      expect(two.lookups()).toBe(before + 2);
      for (let i = 0; i < 3; i++) {
        expect(await idOf(two.resolver, tenant.domain.toUpperCase())).toBe(tenant.id);
        expect(await idOf(two.resolver, unknown)).toBeNull();
      }
      expect(two.lookups()).toBe(before + 2);
    });

    it('sees a new domain on every instance at once after invalidateTenant', async () => {
      const tenant = await seedTenant(system);
      const added = `${uniqueSlug('new')}.test.localhost`;
      // Both instances have remembered that the new domain belongs to nobody.
      expect(await idOf(one.resolver, added)).toBeNull();
      expect(await idOf(two.resolver, added)).toBeNull();
      await system.query(`INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, $2)`, [tenant.id, added]);
      expect(await idOf(two.resolver, added)).toBeNull(); // still cached: nobody said anything yet

      await one.resolver.invalidateTenant(tenant.id);
      expect(await idOf(one.resolver, added)).toBe(tenant.id); // the local cache is dropped synchronously
      const tookMs = await within(() => idOf(two.resolver, added), tenant.id, 1000);
      expect(tookMs).toBeLessThan(scaled(1000));
    });

    it('forgets a removed domain and a disabled status on every instance at once', async () => {
      const tenant = await seedTenant(system);
      const kept = `${uniqueSlug('kept')}.test.localhost`;
      await system.query(`INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, $2)`, [tenant.id, kept]);
      for (const instance of [one, two]) {
        expect(await idOf(instance.resolver, tenant.domain)).toBe(tenant.id);
        expect((await instance.resolver.resolveHost(kept))?.status).toBe('active');
      }
      await system.query(`DELETE FROM tenant_domains WHERE domain = $1`, [tenant.domain]);
      await system.query(`UPDATE tenants SET status = 'disabled' WHERE id = $1`, [tenant.id]);
      await two.resolver.invalidateTenant(tenant.id);

      await within(() => idOf(one.resolver, tenant.domain), null, 1000);
      await within(async () => (await one.resolver.resolveHost(kept))?.status, 'disabled', 1000);
      expect(await idOf(two.resolver, tenant.domain)).toBeNull();
      expect((await two.resolver.resolveHost(kept))?.status).toBe('disabled');
    });

    it('without an invalidation, serves the cached answer until the TTL, then the new one', async () => {
      const tenant = await seedTenant(system);
      // The entry's TTL counts from the start of the lookup that loaded it.
      const loadedAt = Date.now();
      expect((await shortTtl.resolver.resolveHost(tenant.domain))?.name).toBe(`Tenant ${tenant.slug}`);
      await system.query(`UPDATE tenants SET name = 'Renamed' WHERE id = $1`, [tenant.id]);
      expect((await shortTtl.resolver.resolveHost(tenant.domain))?.name).toBe(`Tenant ${tenant.slug}`);
      await within(async () => (await shortTtl.resolver.resolveHost(tenant.domain))?.name, 'Renamed', 3000);
      // Not before the TTL (1 s) ran out.
      expect(Date.now() - loadedAt).toBeGreaterThanOrEqual(1000);
    });
  });
});
