import { createLocalJWKSet, decodeProtectedHeader, importJWK, JWK, jwtVerify, SignJWT } from 'jose';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { ACCESS_TOKEN_AUDIENCE, generateSigningJwk } from '../../src/modules/auth/signing-keys';
import { RunningApp, startTestApi } from '../support/app';
import { me } from '../support/auth';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { expectProblem } from '../support/problem';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/**
 * Access tokens: only ES256 tokens signed by a configured key, for this issuer and audience, not
 * expired, not revoked, of an active user of an active tenant, at that tenant's domain, pass.
 */
describe('access tokens (e2e)', () => {
  let system: Client;
  let key: JWK;
  let api: RunningApp;
  let reseller: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    key = await generateSigningJwk();
    api = await startTestApi({ JWT_SIGNING_KEYS: JSON.stringify([key]) });
    reseller = await resellerWithUsers(system, { owner: ['owner'], staff: ['sales'], leaver: ['finance'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  /** A token for a real user of `reseller`, built here; each option breaks one property. */
  async function craft(
    options: { signWith?: JWK; kid?: string; iat?: number; exp?: number; issuer?: string; audience?: string; claims?: Record<string, unknown> } = {},
  ): Promise<string> {
    const user = reseller.users.owner;
    const signWith = options.signWith ?? key;
    const iat = options.iat ?? now();
    return new SignJWT({ tid: reseller.id, tty: 'reseller', roles: ['owner'], sid: uuidv7(), ...options.claims })
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? signWith.kid!, typ: 'JWT' })
      .setSubject(user.id)
      .setJti(uuidv7())
      .setIssuer(options.issuer ?? api.config.PUBLIC_URL)
      .setAudience(options.audience ?? ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(options.exp ?? iat + 300)
      .sign(await importJWK(signWith, 'ES256'));
  }

  async function expectRefused(token: string, status = 401, code = 'invalid_token'): Promise<void> {
    expectProblem(await me(api.baseUrl, token, reseller.domain), status, code);
  }

  it('accepts a well-formed token signed with the configured key (the control for the cases below)', async () => {
    const res = await me(api.baseUrl, await craft(), reseller.domain);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { id: reseller.users.owner.id }, tenant: { id: reseller.id }, roles: ['owner'] });
  });

  it('refuses an expired token', async () => {
    await expectRefused(await craft({ iat: now() - 3600, exp: now() - 30 }));
  });

  it('refuses a token with a wrong signature (same kid, different key)', async () => {
    const impostor = await generateSigningJwk();
    await expectRefused(await craft({ signWith: { ...impostor, kid: key.kid } }));
  });

  it('refuses an unknown key id', async () => {
    await expectRefused(await craft({ signWith: await generateSigningJwk() }));
    await expectRefused(await craft({ kid: 'no-such-key' }));
  });

  it('refuses an unsigned token (alg: none), with or without a known kid', async () => {
    const payload = {
      sub: reseller.users.owner.id,
      tid: reseller.id,
      tty: 'reseller',
      roles: ['owner'],
      sid: uuidv7(),
      jti: uuidv7(),
      iss: api.config.PUBLIC_URL,
      aud: ACCESS_TOKEN_AUDIENCE,
      iat: now(),
      exp: now() + 300,
    };
    await expectRefused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
    await expectRefused(`${b64({ alg: 'none', kid: key.kid, typ: 'JWT' })}.${b64(payload)}.`);
    // A real signature under a header that claims none.
    const real = (await craft()).split('.');
    await expectRefused(`${b64({ alg: 'none', kid: key.kid })}.${real[1]}.${real[2]}`);
  });

  it('refuses HS256 signed with the public key as the HMAC secret (key confusion)', async () => {
    const publicKey = createPublicKey(createPrivateKey({ key: key as never, format: 'jwk' }));
    const secrets = [
      Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string),
      Buffer.from(JSON.stringify(publicKey.export({ format: 'jwk' }))),
      publicKey.export({ type: 'spki', format: 'der' }),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT({ tid: reseller.id, tty: 'reseller', roles: ['owner'], sid: uuidv7() })
        .setProtectedHeader({ alg: 'HS256', kid: key.kid!, typ: 'JWT' })
        .setSubject(reseller.users.owner.id)
        .setJti(uuidv7())
        .setIssuer(api.config.PUBLIC_URL)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new Uint8Array(secret));
      await expectRefused(token);
    }
  });

  it('refuses another issuer or audience, and claims that name nobody', async () => {
    await expectRefused(await craft({ issuer: 'https://evil.example' }));
    await expectRefused(await craft({ audience: 'aigateway-inference' }));
    await expectRefused(await craft({ claims: { tid: 'not-a-uuid' } }));
    // A user id that exists nowhere: the account check fails, not a 500.
    const ghost = await new SignJWT({ tid: reseller.id, tty: 'reseller', roles: ['owner'], sid: uuidv7() })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid! })
      .setSubject(uuidv7())
      .setJti(uuidv7())
      .setIssuer(api.config.PUBLIC_URL)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK(key, 'ES256'));
    await expectRefused(ghost, 401, 'account_disabled');
  });

  it('refuses requests without a bearer token or with garbage', async () => {
    const members = `/api/v1/tenants/${reseller.id}/members`;
    expectProblem(await call(api.baseUrl, 'GET', members, { host: reseller.domain }), 401, 'invalid_token');
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer garbage', 'Bearer a.b.c', 'Bearer ....', `Basic ${Buffer.from('a:b').toString('base64')}`]) {
      const res = await call(api.baseUrl, 'GET', members, { host: reseller.domain, headers: { authorization } });
      expectProblem(res, 401, 'invalid_token');
    }
    const notJson = `${Buffer.from('{not json').toString('base64url')}.${b64({})}.sig`;
    await expectRefused(notJson);
  });

  it("denies a disabled user's token on the next request", async () => {
    const tokens = await signIn(api.baseUrl, reseller, 'leaver');
    expect((await me(api.baseUrl, tokens.accessToken, reseller.domain)).status).toBe(200);
    await system.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [reseller.users.leaver.id]);
    expectProblem(await me(api.baseUrl, tokens.accessToken, reseller.domain), 401, 'account_disabled');
  });

  it("denies a disabled tenant's tokens on the next request", async () => {
    const doomed = await resellerWithUsers(system, { owner: ['owner'] });
    const tokens = await signIn(api.baseUrl, doomed, 'owner');
    expect((await me(api.baseUrl, tokens.accessToken, doomed.domain)).status).toBe(200);
    await system.query(`UPDATE tenants SET status = 'disabled' WHERE id = $1`, [doomed.id]);
    expectProblem(await me(api.baseUrl, tokens.accessToken, doomed.domain), 403, 'tenant_disabled');
    expectProblem(
      await call(api.baseUrl, 'GET', `/api/v1/tenants/${doomed.id}/members`, { host: doomed.domain, token: tokens.accessToken }),
      403,
      'tenant_disabled',
    );
  });

  it("refuses a token at another tenant's domain", async () => {
    const tokens = await signIn(api.baseUrl, reseller, 'staff');
    expect((await me(api.baseUrl, tokens.accessToken, reseller.domain)).status).toBe(200);
    expectProblem(await me(api.baseUrl, tokens.accessToken, other.domain), 403, 'tenant_mismatch');
    expectProblem(
      await call(api.baseUrl, 'GET', `/api/v1/tenants/${reseller.id}/members`, { host: other.domain, token: tokens.accessToken }),
      403,
      'tenant_mismatch',
    );
  });

  describe('JWKS', () => {
    it('publishes only public keys, at both paths, that verify a real sign-in', async () => {
      const tokens = await signIn(api.baseUrl, reseller, 'owner');
      for (const path of ['/api/v1/auth/jwks', '/.well-known/jwks.json']) {
        const res = await call(api.baseUrl, 'GET', path, { host: reseller.domain });
        expect(res.status).toBe(200);
        const jwks = res.body as { keys: JWK[] };
        expect(jwks.keys.map((k) => k.kid)).toEqual([key.kid]);
        for (const k of jwks.keys) {
          expect(k).not.toHaveProperty('d');
          expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        }
        expect(res.text).not.toContain(key.d!);
        const { payload, protectedHeader } = await jwtVerify(tokens.accessToken, createLocalJWKSet(jwks), {
          issuer: api.config.PUBLIC_URL,
          audience: ACCESS_TOKEN_AUDIENCE,
          algorithms: ['ES256'],
        });
        expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: key.kid });
        expect(payload).toMatchObject({ sub: reseller.users.owner.id, tid: reseller.id, tty: 'reseller', roles: ['owner'] });
      }
    });
  });

  describe('key rotation', () => {
    let rotated: RunningApp;
    let newKey: JWK;

    beforeAll(async () => {
      newKey = await generateSigningJwk();
      rotated = await startTestApi({ JWT_SIGNING_KEYS: JSON.stringify([newKey, key]) });
    });

    afterAll(async () => {
      await rotated?.close();
    });

    it('accepts tokens of the previous key and signs new ones with the new key', async () => {
      const before = await signIn(api.baseUrl, reseller, 'owner');
      expect(decodeProtectedHeader(before.accessToken).kid).toBe(key.kid);
      expect((await me(rotated.baseUrl, before.accessToken, reseller.domain)).status).toBe(200);
      expect((await me(rotated.baseUrl, await craft(), reseller.domain)).status).toBe(200);

      const after = await signIn(rotated.baseUrl, reseller, 'owner');
      expect(decodeProtectedHeader(after.accessToken).kid).toBe(newKey.kid);
      expect((await me(rotated.baseUrl, after.accessToken, reseller.domain)).status).toBe(200);
      // (Whether an instance without the new key refuses its tokens cannot be shown here: passport
      // keeps one 'jwt' strategy per process, so two apis in one test process share the last one's.)

      const jwks = await call(rotated.baseUrl, 'GET', '/.well-known/jwks.json', { host: reseller.domain });
      expect(jwks.body.keys.map((k: JWK) => k.kid)).toEqual([newKey.kid, key.kid]);
      expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/);
    });
  });
});
