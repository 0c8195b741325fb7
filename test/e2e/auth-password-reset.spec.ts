import { Client } from 'pg';
import { RunningApp } from '../support/app';
import { login, me, refresh, tokenInMail } from '../support/auth';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { MailSink } from '../support/mail';
import { MailStack, startMailStack } from '../support/mail-stack';
import { expectProblem } from '../support/problem';
import { quietPeriod } from '../support/timing';

const NEW_PASSWORD = 'Granite-Orchard-Lamp-77';

/**
 * Password reset by mail: the request never reveals whether an account exists, the link is single
 * use and expires, a weak password can be corrected, and a new password ends every session.
 */
describe('password reset (e2e)', () => {
  let system: Client;
  let sink: MailSink;
  let api: RunningApp;
  let worker: RunningApp;
  let stack: MailStack;
  let reseller: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    stack = await startMailStack();
    ({ sink, api, worker } = stack);
    reseller = await resellerWithUsers(system, { forgetful: ['sales'], weak: ['user'], twice: ['user'], late: ['user'], sentinel: ['user'], wanderer: ['user'], policy: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
  });

  afterAll(async () => {
    await stack?.close();
    await system?.end();
  });

  const requestReset = (email: string, host = reseller.domain): Promise<HttpResult> =>
    call(api.baseUrl, 'POST', '/api/v1/auth/password-reset', { host, json: { email } });
  const confirm = (token: string, password: string, host = reseller.domain): Promise<HttpResult> =>
    call(api.baseUrl, 'POST', '/api/v1/auth/password-reset/confirm', { host, json: { token, password } });

  /** Asks for a reset of `user` and returns the token from the mail that arrives. */
  async function resetTokenFor(user: string): Promise<string> {
    const email = reseller.users[user].email;
    const earlier = new Set(sink.messages);
    const res = await requestReset(email);
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const mail = await sink.waitFor((m) => m.to.includes(email) && !earlier.has(m), 15000);
    return tokenInMail(mail.text);
  }

  it('mails a reset link to an existing user', async () => {
    const email = reseller.users.forgetful.email;
    const res = await requestReset(email.toUpperCase());
    expect(res.status).toBe(202);
    const mail = await sink.waitFor((m) => m.to.includes(email), 15000);
    expect(mail.subject).toContain('Reset your');
    expect(mail.text).toContain(`http://${reseller.domain}`);
    expect(mail.text).toContain('/reset-password?token=');
    expect(tokenInMail(mail.text).startsWith(`${reseller.id}.`)).toBe(true);
  });

  it('answers an unknown e-mail the same way and sends nothing', async () => {
    const ghost = `ghost-${Date.now()}@${reseller.domain}`;
    const res = await requestReset(ghost);
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    // Mail is sent in order of requests, roughly: once a later mail has arrived, the first would have too.
    await resetTokenFor('sentinel');
    await quietPeriod(300);
    expect(sink.messages.some((m) => m.to.includes(ghost))).toBe(false);
  });

  it('refuses a weak password and keeps the link usable; then resets, ending every session', async () => {
    const sessionA = await signIn(api.baseUrl, reseller, 'weak');
    const sessionB = await signIn(api.baseUrl, reseller, 'weak');
    const token = await resetTokenFor('weak');

    for (const password of ['short', 'alllowercase', 'Password-Strong-1', `${reseller.users.weak.email.split('@')[0]}-X1!`]) {
      expectProblem(await confirm(token, password), 400, 'weak_password');
    }
    // Every broken rule at once, with stable codes (not one rule per attempt).
    const many = await confirm(token, 'adminadmin');
    expectProblem(many, 400, 'weak_password');
    const failed = (many.body.rules as Array<{ code: string; message: string }>).map((r) => r.code);
    expect(failed).toEqual(['min_length', 'character_mix', 'common_word']);
    for (const rule of many.body.rules) expect(rule).toEqual({ code: expect.any(String), message: expect.stringMatching(/^must /) });
    expect(many.body.errors).toEqual([{ field: 'password', messages: many.body.rules.map((r: { message: string }) => r.message) }]);
    const local = reseller.users.weak.email.split('@')[0];
    const mailed = await confirm(token, `${local.toUpperCase()}:aaa`);
    expect(mailed.body.rules.map((r: { code: string }) => r.code)).toContain('contains_email');
    // The codes are the ones the public policy lists.
    const policy = await call(api.baseUrl, 'GET', '/api/v1/auth/password-policy', { host: reseller.domain });
    const known = policy.body.rules.map((r: { code: string }) => r.code);
    expect(known).toEqual(expect.arrayContaining([...failed, 'common_word']));
    expect((await confirm(token, NEW_PASSWORD)).status).toBe(204);

    const email = reseller.users.weak.email;
    expectProblem(await login(api.baseUrl, { host: reseller.domain, email, password: TEST_PASSWORD }), 401, 'invalid_credentials');
    expect((await login(api.baseUrl, { host: reseller.domain, email, password: NEW_PASSWORD })).status).toBe(200);

    for (const session of [sessionA, sessionB]) {
      expectProblem(await me(api.baseUrl, session.accessToken, reseller.domain), 401, 'token_revoked');
      expectProblem(await refresh(api.baseUrl, session.refreshToken, reseller.domain), 401, 'invalid_refresh_token');
    }

    // The link was used up.
    expectProblem(await confirm(token, 'Another-Strong-Pass-99'), 400, 'invalid_one_time_token');
    expect((await login(api.baseUrl, { host: reseller.domain, email, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('voids the previous link when a new one is requested', async () => {
    const first = await resetTokenFor('twice');
    const second = await resetTokenFor('twice');
    expect(second).not.toBe(first);
    expectProblem(await confirm(first, NEW_PASSWORD), 400, 'invalid_one_time_token');
    expect((await confirm(second, NEW_PASSWORD)).status).toBe(204);
  });

  it('refuses an expired link', async () => {
    const token = await resetTokenFor('late');
    await system.query(
      `UPDATE one_time_tokens SET expires_at = now() - interval '1 minute'
        WHERE user_id = $1 AND purpose = 'password_reset' AND used_at IS NULL`,
      [reseller.users.late.id],
    );
    expectProblem(await confirm(token, NEW_PASSWORD), 400, 'invalid_one_time_token');
    expect((await login(api.baseUrl, { host: reseller.domain, email: reseller.users.late.email, password: TEST_PASSWORD })).status).toBe(200);
  });

  it("refuses a link at another tenant's domain, and malformed links", async () => {
    const token = await resetTokenFor('wanderer');
    expectProblem(await confirm(token, NEW_PASSWORD, other.domain), 403, 'tenant_mismatch');
    for (const bad of ['', 'garbage', `${reseller.id}.${'B'.repeat(43)}`]) {
      expectProblem(await confirm(bad, NEW_PASSWORD), 400, 'invalid_one_time_token');
    }
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/password-reset/confirm', { host: reseller.domain, json: { token } }), 400, 'validation_failed');
    // Still usable at its own domain.
    expect((await confirm(token, NEW_PASSWORD)).status).toBe(204);
  });

  it('publishes the password policy as data, without signing in', async () => {
    const res = await call(api.baseUrl, 'GET', '/api/v1/auth/password-policy', { host: reseller.domain });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      minLength: 12,
      maxLength: 128,
      minCharacterClasses: 3,
      characterClasses: ['lower case', 'upper case', 'digits', 'symbols'],
      passphraseLength: 16,
      minDistinctCharacters: 5,
      commonWords: expect.arrayContaining(['password']),
    });
    expect(res.body.rules.map((r: { code: string }) => r.code)).toEqual([
      'min_length',
      'max_length',
      'character_mix',
      'distinct_characters',
      'common_word',
      'contains_email',
    ]);
    // The documented length bounds are the ones applied: one character short is refused by them.
    const token = await resetTokenFor('policy');
    const short = await confirm(token, 'Qz7#Wx4$Kp9'.slice(0, res.body.minLength - 1));
    expect(short.body.rules.map((r: { code: string }) => r.code)).toEqual(['min_length']);
  });

  it('needs a tenant and a valid e-mail to ask for a reset', async () => {
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/password-reset', { json: { email: 'x@example.test' } }), 404, 'unknown_tenant');
    expectProblem(
      await call(api.baseUrl, 'POST', '/api/v1/auth/password-reset', { json: { email: 'x@example.test', tenant: reseller.slug } }),
      404,
      'unknown_tenant',
    );
    expectProblem(await requestReset('not-an-email'), 400, 'validation_failed');
  });
});
