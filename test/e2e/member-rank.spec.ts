import { Client } from 'pg';
import { RunningApp } from '../support/app';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { MailSink } from '../support/mail';
import { MailStack, startMailStack } from '../support/mail-stack';
import { expectProblem } from '../support/problem';
import { quietPeriod } from '../support/timing';

/** Nobody acts on a member who holds a role they could not grant; reset mail is rate-limited. */
describe('member rank and reset-mail limits (e2e)', () => {
  let system: Client;
  let sink: MailSink;
  let api: RunningApp;
  let worker: RunningApp;
  let stack: MailStack;
  let platform: TestTenant;
  let reseller: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    stack = await startMailStack();
    ({ sink, api, worker } = stack);
    platform = await platformWithUsers(system, { operator: ['operator'], owner1: ['owner'], owner2: ['owner'], sales: ['sales'] });
    reseller = await resellerWithUsers(system, { owner: ['owner'], second: ['owner'], finance: ['finance'], flooded: ['user'] });
  });

  afterAll(async () => {
    await stack?.close();
    await system?.end();
  });

  it('stops an operator from disabling or removing an owner, but not a sales member', async () => {
    const operator = (await signIn(api.baseUrl, platform, 'operator')).accessToken;
    const at = { host: platform.domain, token: operator };
    const base = `/api/v1/tenants/${platform.id}/members`;
    expectProblem(await call(api.baseUrl, 'POST', `${base}/${platform.users.owner1.id}/disable`, at), 403, 'member_outranks_you');
    expectProblem(await call(api.baseUrl, 'DELETE', `${base}/${platform.users.owner2.id}`, at), 403, 'member_outranks_you');
    expect((await call(api.baseUrl, 'POST', `${base}/${platform.users.sales.id}/disable`, at)).status).toBe(200);
    // The same holds for a platform operator acting on a reseller's owner.
    const resellerOwner = `/api/v1/tenants/${reseller.id}/members/${reseller.users.second.id}/disable`;
    expectProblem(await call(api.baseUrl, 'POST', resellerOwner, at), 403, 'member_outranks_you');
    const { rows } = await system.query(`SELECT status FROM users WHERE id = ANY($1::uuid[]) ORDER BY id`, [
      [platform.users.owner1.id, platform.users.owner2.id, reseller.users.second.id],
    ]);
    expect(rows.map((r) => r.status)).toEqual(['active', 'active', 'active']);
  });

  it('lets an owner disable another owner (while one remains) and a finance member', async () => {
    const owner = (await signIn(api.baseUrl, reseller, 'owner')).accessToken;
    const at = { host: reseller.domain, token: owner };
    const base = `/api/v1/tenants/${reseller.id}/members`;
    expect((await call(api.baseUrl, 'POST', `${base}/${reseller.users.finance.id}/disable`, at)).status).toBe(200);
    expect((await call(api.baseUrl, 'POST', `${base}/${reseller.users.second.id}/disable`, at)).status).toBe(200);
  });

  it('mails at most three reset links an hour to one account, answering 202 every time', async () => {
    const email = reseller.users.flooded.email;
    for (let i = 0; i < 5; i++) {
      const res = await call(api.baseUrl, 'POST', '/api/v1/auth/password-reset', { host: reseller.domain, json: { email } });
      expect(res.status).toBe(202);
    }
    await sink.waitFor((m) => m.to.includes(email) && sink.messages.filter((x) => x.to.includes(email)).length >= 3, 15000);
    // Give the worker time to send anything further it might (wrongly) have been given.
    await quietPeriod(1500);
    expect(sink.messages.filter((m) => m.to.includes(email))).toHaveLength(3);
  });
});
