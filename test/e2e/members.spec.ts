import { Client } from 'pg';
import { RunningApp } from '../support/app';
import { auditLog, login, tokenInMail } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TEST_PASSWORD, TestTenant, Tokens } from '../support/identity';
import { MailSink } from '../support/mail';
import { MailStack, startMailStack } from '../support/mail-stack';
import { expectInvalidFields, expectProblem } from '../support/problem';

/**
 * Members of a tenant: listing with filters and pages, invitations (and re-sending them), roles,
 * disabling, removal, the last-owner rule, the audit trail, and other tenants staying invisible.
 */
describe('members (e2e)', () => {
  let system: Client;
  let sink: MailSink;
  let api: RunningApp;
  let worker: RunningApp;
  let stack: MailStack;
  let platform: TestTenant;
  let boss: Tokens;

  beforeAll(async () => {
    system = await connectAs('system');
    stack = await startMailStack();
    ({ sink, api, worker } = stack);
    platform = await platformWithUsers(system, { boss: ['owner'] });
    boss = await signIn(api.baseUrl, platform, 'boss');
  });

  afterAll(async () => {
    await stack?.close();
    await system?.end();
  });

  /** Calls the members API of `tenant` at its own domain as `tokens`. */
  function membersApi(tenant: TestTenant, tokens: Tokens, host = tenant.domain) {
    const base = `/api/v1/tenants/${tenant.id}/members`;
    return {
      list: (query = '') => call(api.baseUrl, 'GET', `${base}${query}`, { host, token: tokens.accessToken }),
      get: (userId: string) => call(api.baseUrl, 'GET', `${base}/${userId}`, { host, token: tokens.accessToken }),
      invite: (json: unknown) => call(api.baseUrl, 'POST', base, { host, token: tokens.accessToken, json }),
      setRoles: (userId: string, roles: unknown) => call(api.baseUrl, 'PUT', `${base}/${userId}/roles`, { host, token: tokens.accessToken, json: { roles } }),
      disable: (userId: string) => call(api.baseUrl, 'POST', `${base}/${userId}/disable`, { host, token: tokens.accessToken }),
      enable: (userId: string) => call(api.baseUrl, 'POST', `${base}/${userId}/enable`, { host, token: tokens.accessToken }),
      remove: (userId: string) => call(api.baseUrl, 'DELETE', `${base}/${userId}`, { host, token: tokens.accessToken }),
    };
  }

  const emails = (res: HttpResult) => (res.body.items as Array<{ email: string }>).map((m) => m.email).sort();

  describe('listing', () => {
    let shop: TestTenant;
    let members: ReturnType<typeof membersApi>;
    let pendingEmail: string;

    beforeAll(async () => {
      shop = await resellerWithUsers(system, { owner: ['owner'], alice: ['sales'], bob: ['finance'], carol: ['user'], dave: ['sales', 'finance'] });
      await system.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [shop.users.carol.id]);
      members = membersApi(shop, await signIn(api.baseUrl, shop, 'owner'));
      pendingEmail = `eve.${uniqueSlug('x')}@${shop.domain}`;
      expect((await members.invite({ email: pendingEmail, roles: ['user'], displayName: 'Eve Pending' })).status).toBe(201);
    });

    it('pages through every member once, with the total', async () => {
      const seen: string[] = [];
      for (let page = 1; page <= 4; page++) {
        const res = await members.list(`?page=${page}&pageSize=2`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ page, pageSize: 2, total: 6 });
        expect(res.body.items).toHaveLength(page <= 3 ? 2 : 0);
        seen.push(...res.body.items.map((m: { id: string }) => m.id));
      }
      expect(new Set(seen).size).toBe(6);
      const all = await members.list();
      expect(all.body).toMatchObject({ page: 1, pageSize: 20, total: 6 });
      expect(all.body.items[0]).toEqual({
        id: shop.users.owner.id,
        tenantId: shop.id,
        email: shop.users.owner.email,
        displayName: null,
        status: 'active',
        roles: ['owner'],
        lastLoginAt: expect.any(String),
        createdAt: expect.any(String),
      });
      expect(JSON.stringify(all.body)).not.toMatch(/password|argon/i);
    });

    it('filters by status, role and text, together', async () => {
      expect(emails(await members.list('?status=disabled'))).toEqual([shop.users.carol.email]);
      expect(emails(await members.list('?status=invited'))).toEqual([pendingEmail]);
      expect((await members.list('?status=active')).body.total).toBe(4);
      expect(emails(await members.list('?role=sales'))).toEqual([shop.users.alice.email, shop.users.dave.email].sort());
      expect(emails(await members.list('?role=finance&status=active'))).toEqual([shop.users.bob.email, shop.users.dave.email].sort());
      expect(emails(await members.list('?q=ALICE'))).toEqual([shop.users.alice.email]);
      expect(emails(await members.list('?q=Eve%20Pend'))).toEqual([pendingEmail]);
      expect(emails(await members.list('?q=alice&role=finance'))).toEqual([]);
      // Staff: members holding a role other than `user` (the console's members page); customers are the rest.
      expect(emails(await members.list('?staff=true'))).toEqual([shop.users.owner.email, shop.users.alice.email, shop.users.bob.email, shop.users.dave.email].sort());
      expect(emails(await members.list('?staff=false'))).toEqual([shop.users.carol.email, pendingEmail].sort());
      expect(emails(await members.list('?staff=true&role=finance'))).toEqual([shop.users.bob.email, shop.users.dave.email].sort());
      // LIKE wildcards are taken literally.
      expect((await members.list(`?q=${encodeURIComponent('%')}`)).body.total).toBe(0);
      expect((await members.list('?q=_')).body.total).toBe(0);
    });

    it('refuses bad filters naming the field', async () => {
      expectInvalidFields(await members.list('?pageSize=0'), ['pageSize']);
      expectInvalidFields(await members.list('?pageSize=101'), ['pageSize']);
      expectInvalidFields(await members.list('?page=abc'), ['page']);
      expectInvalidFields(await members.list('?status=gone'), ['status']);
      expectInvalidFields(await members.list('?role=overlord'), ['role']);
      expectInvalidFields(await members.list('?staff=maybe'), ['staff']);
      expectInvalidFields(await members.list(`?tenantId=${platform.id}`), ['tenantId']);
    });
  });

  describe('invitations', () => {
    let shop: TestTenant;
    let owner: Tokens;
    let members: ReturnType<typeof membersApi>;

    beforeAll(async () => {
      shop = await resellerWithUsers(system, { owner: ['owner'], staff: ['sales'] });
      owner = await signIn(api.baseUrl, shop, 'owner');
      members = membersApi(shop, owner);
    });

    it('refuses roles a reseller does not have, creating nothing', async () => {
      for (const role of ['operator', 'tech']) {
        const email = `${role}.${uniqueSlug('x')}@${shop.domain}`;
        const res = await members.invite({ email, roles: ['sales', role] });
        expectProblem(res, 403, 'role_not_grantable');
        expect(res.body.detail).toContain(role);
        expect((await members.list(`?q=${encodeURIComponent(email)}`)).body.total).toBe(0);
      }
      // Nor can the platform's owner put them into a reseller.
      expectProblem(await membersApi(shop, boss, platform.domain).invite({ email: `x.${uniqueSlug('x')}@${shop.domain}`, roles: ['tech'] }), 403, 'role_not_grantable');
    });

    it('refuses the e-mail of an existing member, whatever its case', async () => {
      expectProblem(await members.invite({ email: shop.users.staff.email, roles: ['user'] }), 409, 'member_exists');
      expectProblem(await members.invite({ email: shop.users.staff.email.toUpperCase(), roles: ['user'] }), 409, 'member_exists');
    });

    it('refuses malformed invitations naming the fields', async () => {
      expectInvalidFields(await members.invite({ email: 'not-an-email', roles: ['user'] }), ['email']);
      expectInvalidFields(await members.invite({ email: `ok@${shop.domain}`, roles: [] }), ['roles']);
      expectInvalidFields(await members.invite({ email: `ok@${shop.domain}`, roles: ['user', 'user'] }), ['roles']);
      expectInvalidFields(await members.invite({ email: `ok@${shop.domain}`, roles: ['king'] }), ['roles']);
      expectInvalidFields(await members.invite({ email: `ok@${shop.domain}`, roles: 'user' }), ['roles']);
    });

    it('re-sends the invitation of a pending member with a fresh link and the new roles', async () => {
      const email = `pending.${uniqueSlug('x')}@${shop.domain}`;
      const first = await members.invite({ email, roles: ['sales'] });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ email, status: 'invited', roles: ['sales'] });
      const firstMail = await sink.waitFor((m) => m.to.includes(email), 15000);

      const again = await members.invite({ email, roles: ['finance'] });
      expect(again.status).toBe(201);
      expect(again.body).toMatchObject({ id: first.body.id, status: 'invited', roles: ['finance'] });
      const secondMail = await sink.waitFor((m) => m.to.includes(email) && m !== firstMail, 15000);
      expect(secondMail.text).toContain('finance');

      const firstToken = tokenInMail(firstMail.text);
      const secondToken = tokenInMail(secondMail.text);
      expect(secondToken).not.toBe(firstToken);
      const accept = (token: string) =>
        call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', { host: shop.domain, json: { token, password: 'Copper-Kettle-Song-31' } });
      expectProblem(await accept(firstToken), 400, 'invalid_one_time_token');
      const accepted = await accept(secondToken);
      expect(accepted.status).toBe(200);
      const joined = await members.get(first.body.id);
      expect(joined.body).toMatchObject({ status: 'active', roles: ['finance'] });

      // Now a member: inviting the address again is a conflict, not a re-send.
      expectProblem(await members.invite({ email, roles: ['finance'] }), 409, 'member_exists');
    });
  });

  describe('the last owner', () => {
    it('cannot be removed, disabled or demoted, until another active owner exists', async () => {
      const shop = await resellerWithUsers(system, { solo: ['owner'], second: ['sales'] });
      const solo = await signIn(api.baseUrl, shop, 'solo');
      const asSolo = membersApi(shop, solo);
      const asBoss = membersApi(shop, boss, platform.domain);
      const soloId = shop.users.solo.id;

      for (const members of [asSolo, asBoss]) {
        expectProblem(await members.remove(soloId), 409, 'last_owner');
        expectProblem(await members.disable(soloId), 409, 'last_owner');
        expectProblem(await members.setRoles(soloId, ['sales']), 409, 'last_owner');
      }
      // Pending or disabled owners don't count.
      expect((await asSolo.invite({ email: `owner2.${uniqueSlug('x')}@${shop.domain}`, roles: ['owner'] })).status).toBe(201);
      const disabledOwner = await asSolo.invite({ email: `owner3.${uniqueSlug('x')}@${shop.domain}`, roles: ['owner'] });
      await system.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [disabledOwner.body.id]);
      expectProblem(await asSolo.setRoles(soloId, ['user']), 409, 'last_owner');
      expect((await asSolo.get(soloId)).body.roles).toEqual(['owner']);

      // With a second active owner, the first may step down.
      expect((await asSolo.setRoles(shop.users.second.id, ['owner', 'sales'])).status).toBe(200);
      const demoted = await asSolo.setRoles(soloId, ['sales']);
      expect(demoted.status).toBe(200);
      expect(demoted.body.roles).toEqual(['sales']);

      // Now `second` is the last owner.
      const second = membersApi(shop, await signIn(api.baseUrl, shop, 'second'));
      expectProblem(await second.remove(shop.users.second.id), 409, 'last_owner');
      expect((await second.setRoles(soloId, ['owner'])).status).toBe(200);
      expect((await second.disable(soloId)).status).toBe(200);
      expectProblem(await second.disable(shop.users.second.id), 409, 'last_owner');
      expect((await second.enable(soloId)).status).toBe(200);
      expect((await second.remove(soloId)).status).toBe(204);
    });
  });

  describe('races', () => {
    it('two owners demoting each other at once leave exactly one owner', async () => {
      const shop = await resellerWithUsers(system, { a: ['owner'], b: ['owner'] });
      const asA = membersApi(shop, await signIn(api.baseUrl, shop, 'a'));
      const asB = membersApi(shop, await signIn(api.baseUrl, shop, 'b'));
      const results = await Promise.all([asA.setRoles(shop.users.b.id, ['user']), asB.setRoles(shop.users.a.id, ['user'])]);
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      // The loser is refused as the last owner, or (if the winner committed before it was even
      // authenticated) as no longer an owner at all.
      const loser = results.find((r) => r.status !== 200)!;
      if (loser.status === 409) expectProblem(loser, 409, 'last_owner');
      else expectProblem(loser, 403, 'forbidden');
      const owners = await system.query(`SELECT user_id FROM user_roles WHERE tenant_id = $1 AND role = 'owner'`, [shop.id]);
      expect(owners.rowCount).toBe(1);
    });

    it('an owner disabled while demoting the other still leaves an active owner', async () => {
      const shop = await resellerWithUsers(system, { a: ['owner'], b: ['owner'] });
      const asA = membersApi(shop, await signIn(api.baseUrl, shop, 'a'));
      const asB = membersApi(shop, await signIn(api.baseUrl, shop, 'b'));
      const results = await Promise.all([asA.disable(shop.users.b.id), asB.setRoles(shop.users.a.id, ['user'])]);
      // The loser is refused as the last owner, or, if the winner committed before it was even
      // authenticated, for having lost its powers (403) or its account (401).
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      const loser = results.find((r) => r.status !== 200)!;
      expect([401, 403, 409]).toContain(loser.status);
      expectProblem(loser, loser.status, loser.body.code);
      const active = await system.query(
        `SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'owner' WHERE u.tenant_id = $1 AND u.status = 'active'`,
        [shop.id],
      );
      expect(active.rowCount).toBe(1);
    });

    it('two invitations of one new address at once create one member', async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'] });
      const members = membersApi(shop, await signIn(api.baseUrl, shop, 'owner'));
      const email = `twin.${uniqueSlug('x')}@${shop.domain}`;
      const results = await Promise.all([members.invite({ email, roles: ['user'] }), members.invite({ email, roles: ['sales'] })]);
      for (const res of results) if (res.status !== 201) expectProblem(res, 409, res.body.code);
      expect(results.some((r) => r.status === 201)).toBe(true);
      expect((await members.list(`?q=${encodeURIComponent(email)}`)).body.total).toBe(1);
    });
  });

  describe('disable, enable and remove', () => {
    it('disables and re-enables a member, who then signs in again', async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'], temp: ['finance'] });
      const members = membersApi(shop, await signIn(api.baseUrl, shop, 'owner'));
      const temp = shop.users.temp;
      const signInTemp = () => login(api.baseUrl, { host: shop.domain, email: temp.email, password: TEST_PASSWORD });

      const disabled = await members.disable(temp.id);
      expect(disabled.status).toBe(200);
      expect(disabled.body).toMatchObject({ id: temp.id, status: 'disabled', roles: ['finance'] });
      expectProblem(await signInTemp(), 401, 'account_disabled');

      const enabled = await members.enable(temp.id);
      expect(enabled.status).toBe(200);
      expect(enabled.body.status).toBe('active');
      expect((await signInTemp()).status).toBe(200);

      const invited = await members.invite({ email: `inv.${uniqueSlug('x')}@${shop.domain}`, roles: ['user'] });
      expectProblem(await members.enable(invited.body.id), 409, 'conflict');
      const disableInvited = await members.disable(invited.body.id);
      expectProblem(disableInvited, 409, 'conflict');
      expect(disableInvited.body.detail).toMatch(/remove/);
    });

    it('removes a member: gone from the list, cannot sign in, a second removal is 404', async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'], leaving: ['sales'] });
      const members = membersApi(shop, await signIn(api.baseUrl, shop, 'owner'));
      const leaving = shop.users.leaving;
      const session = await signIn(api.baseUrl, shop, 'leaving');

      expect((await members.remove(leaving.id)).status).toBe(204);
      expectProblem(await members.get(leaving.id), 404, 'not_found');
      expect(emails(await members.list())).toEqual([shop.users.owner.email]);
      expectProblem(await login(api.baseUrl, { host: shop.domain, email: leaving.email, password: TEST_PASSWORD }), 401, 'invalid_credentials');
      const after = await call(api.baseUrl, 'GET', '/api/v1/me', { host: shop.domain, token: session.accessToken });
      expect(after.status).toBe(401);
      expectProblem(await members.remove(leaving.id), 404, 'not_found');
      expectProblem(await members.get('not-a-uuid'), 404, 'not_found');
    });
  });

  it('records every mutation in the audit log with before/after and no secrets', async () => {
    const shop = await resellerWithUsers(system, { owner: ['owner'], subject: ['sales'] });
    const owner = await signIn(api.baseUrl, shop, 'owner');
    const members = membersApi(shop, owner);
    const subjectId = shop.users.subject.id;
    const email = `audited.${uniqueSlug('x')}@${shop.domain}`;

    const invited = await members.invite({ email, roles: ['user'] });
    await members.invite({ email, roles: ['finance'] });
    const mail = await sink.waitFor((m) => m.to.includes(email), 15000);
    expect((await members.setRoles(subjectId, ['sales', 'finance'])).status).toBe(200);
    expect((await members.disable(subjectId)).status).toBe(200);
    expect((await members.enable(subjectId)).status).toBe(200);
    expect((await members.remove(subjectId)).status).toBe(204);

    const entries = await auditLog(api.baseUrl, shop, owner);
    const find = (action: string, id: string) => {
      const entry = entries.find((e) => e.action === action && e.subjectId === id);
      if (!entry) throw new Error(`no ${action} of ${id} in ${JSON.stringify(entries.map((e) => e.action))}`);
      return entry;
    };
    const common = { tenantId: shop.id, subjectType: 'Member', actorUserId: shop.users.owner.id, actorTenantId: shop.id, requestId: expect.any(String) };
    expect(find('member.invited', invited.body.id)).toMatchObject({ ...common, changes: { email: { to: email }, roles: { to: ['user'] }, status: { to: 'invited' } } });
    expect(find('member.reinvited', invited.body.id)).toMatchObject({ ...common, changes: { roles: { to: ['finance'] } } });
    expect(find('member.roles_changed', subjectId)).toMatchObject({ ...common, changes: { roles: { from: ['sales'], to: ['finance', 'sales'] } } });
    expect(find('member.disabled', subjectId)).toMatchObject({ ...common, changes: { status: { from: 'active', to: 'disabled' } } });
    expect(find('member.enabled', subjectId)).toMatchObject({ ...common, changes: { status: { from: 'disabled', to: 'active' } } });
    expect(find('member.removed', subjectId)).toMatchObject({ ...common, changes: { email: { from: shop.users.subject.email }, roles: { from: ['sales', 'finance'].sort() } } });

    const text = JSON.stringify(entries);
    const inviteToken = tokenInMail(mail.text);
    expect(text).not.toContain(inviteToken);
    expect(text).not.toContain(inviteToken.split('.')[1]);
    expect(text).not.toMatch(/\$argon2|password_hash|"passwordHash":\{"from":"(?!\[redacted\])/);
    expect(text).not.toContain(TEST_PASSWORD);
  });

  describe("another reseller's members", () => {
    it("are not found (404, never 403) by another reseller's owner", async () => {
      const mine = await resellerWithUsers(system, { owner: ['owner'] });
      const theirs = await resellerWithUsers(system, { owner: ['owner'], staff: ['sales'] });
      const owner = await signIn(api.baseUrl, mine, 'owner');
      const staffId = theirs.users.staff.id;

      // Their tenant in the path.
      const theirTenant = membersApi(theirs, owner, mine.domain);
      expectProblem(await theirTenant.list(), 404, 'not_found');
      expectProblem(await theirTenant.get(staffId), 404, 'not_found');
      expectProblem(await theirTenant.invite({ email: `spy@${theirs.domain}`, roles: ['user'] }), 404, 'not_found');
      expectProblem(await theirTenant.setRoles(staffId, ['owner']), 404, 'not_found');
      expectProblem(await theirTenant.disable(staffId), 404, 'not_found');
      expectProblem(await theirTenant.enable(staffId), 404, 'not_found');
      expectProblem(await theirTenant.remove(staffId), 404, 'not_found');
      expectProblem(await call(api.baseUrl, 'GET', `/api/v1/tenants/${theirs.id}`, { host: mine.domain, token: owner.accessToken }), 404, 'not_found');

      // Their member's id under my tenant.
      const myTenant = membersApi(mine, owner);
      expectProblem(await myTenant.get(staffId), 404, 'not_found');
      expectProblem(await myTenant.setRoles(staffId, ['user']), 404, 'not_found');
      expectProblem(await myTenant.disable(staffId), 404, 'not_found');
      expectProblem(await myTenant.remove(staffId), 404, 'not_found');

      // Nothing changed over there.
      const [row] = (await system.query(`SELECT status FROM users WHERE id = $1`, [staffId])).rows;
      expect(row.status).toBe('active');
      const theirOwner = membersApi(theirs, await signIn(api.baseUrl, theirs, 'owner'));
      expect((await theirOwner.get(staffId)).body.roles).toEqual(['sales']);
      expect((await theirOwner.list()).body.total).toBe(2);
    });
  });
});
