import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, signIn, TestTenant } from '../support/identity';
import { MailSink, startMailSink } from '../support/mail';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { uniqueSlug } from '../support/db';
import { waitUntil } from '../support/timing';

/**
 * The "done when", through the REST API only: the platform owner creates a reseller and
 * invites its owner (the mail arrives in the sink), the invitation is accepted, members are
 * invited with roles, and the audit log shows each step.
 */
describe('onboarding a reseller (e2e)', () => {
  let system: Client;
  let sink: MailSink;
  let api: RunningApp;
  let worker: RunningApp;
  let platform: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    sink = await startMailSink();
    api = await startTestApi({ SMTP_URL: sink.url });
    worker = await startTestWorker({ SMTP_URL: sink.url });
    platform = await platformWithUsers(system, { boss: ['owner'] });
  });

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await sink?.close();
    await system?.end();
  });

  const tokenIn = (mailText: string) => /token=([^\s&]+)/.exec(mailText)?.[1];

  it('goes from a new reseller to members with roles, all audited', async () => {
    const boss = await signIn(api.baseUrl, platform, 'boss');
    const slug = uniqueSlug('acme');
    const domain = `${slug}.example.test`;

    const created = await call(api.baseUrl, 'POST', '/api/v1/tenants', {
      host: platform.domain,
      token: boss.accessToken,
      json: { slug, name: 'Acme AI', domains: [domain], branding: { themeColor: '#112233' } },
    });
    expect(created.status).toBe(201);
    const resellerId = created.body.id;
    expect(created.body).toMatchObject({ slug, type: 'reseller', status: 'active', domains: [{ domain, isPrimary: true }] });

    const ownerEmail = `owner@${domain}`;
    const invited = await call(api.baseUrl, 'POST', `/api/v1/tenants/${resellerId}/members`, {
      host: platform.domain,
      token: boss.accessToken,
      json: { email: ownerEmail, roles: ['owner'] },
    });
    expect(invited.status).toBe(201);
    expect(invited.body).toMatchObject({ email: ownerEmail, status: 'invited', roles: ['owner'] });

    const invitation = await sink.waitFor((m) => m.to.includes(ownerEmail), 15000);
    expect(invitation.subject).toContain('Acme AI');
    expect(invitation.text).toContain(`http://${domain}`);
    const token = decodeURIComponent(tokenIn(invitation.text)!);

    // Sent mail (it carries the one-time link) does not linger in Redis.
    const mailQueue = api.app.get<Queue>(getQueueToken('mail'));
    const lingering = async () =>
      (await mailQueue.getJobs(['completed', 'waiting', 'active', 'delayed'])).filter((job) => job?.data?.to === ownerEmail).length;
    // The sink may have the mail a moment before the worker records the job as done.
    await waitUntil(async () => (await lingering()) === 0, { what: 'the sent mail to leave Redis', timeoutMs: 5000, intervalMs: 100 });

    const weak = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', { host: domain, json: { token, password: 'short' } });
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe('weak_password');

    const accepted = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', {
      host: domain,
      json: { token, password: 'Lighthouse-Keeper-93', displayName: 'Ada Owner' },
    });
    expect(accepted.status).toBe(200);
    const owner = accepted.body as { accessToken: string };

    const again = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', {
      host: domain,
      json: { token, password: 'Lighthouse-Keeper-93' },
    });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_one_time_token');

    const me = await call(api.baseUrl, 'GET', '/api/v1/me', { host: domain, token: owner.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ tenant: { id: resellerId, type: 'reseller' }, roles: ['owner'], user: { displayName: 'Ada Owner' } });
    expect(Array.isArray(me.body.rules)).toBe(true);

    const salesEmail = `sales@${domain}`;
    const sales = await call(api.baseUrl, 'POST', `/api/v1/tenants/${resellerId}/members`, {
      host: domain,
      token: owner.accessToken,
      json: { email: salesEmail, roles: ['sales', 'finance'] },
    });
    expect(sales.status).toBe(201);
    const salesMail = await sink.waitFor((m) => m.to.includes(salesEmail), 15000);
    const salesAccepted = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', {
      host: domain,
      json: { token: decodeURIComponent(tokenIn(salesMail.text)!), password: 'Quiet-River-Stone-58' },
    });
    expect(salesAccepted.status).toBe(200);

    // A normal sign-in at the tenant's domain, naming its slug too (they must agree).
    const login = await call(api.baseUrl, 'POST', '/api/v1/auth/login', {
      host: domain,
      json: { email: salesEmail, password: 'Quiet-River-Stone-58', tenant: slug },
    });
    expect(login.status).toBe(200);

    const list = await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerId}/members?status=active`, { host: domain, token: owner.accessToken });
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(2);
    expect(list.body.items.map((m: { email: string }) => m.email).sort()).toEqual([ownerEmail, salesEmail].sort());

    const ownerLog = await call(api.baseUrl, 'GET', '/api/v1/audit-log', { host: domain, token: owner.accessToken });
    expect(ownerLog.status).toBe(200);
    const actions = ownerLog.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['tenant.created', 'member.invited', 'member.invitation_accepted', 'auth.login']),
    );
    expect(ownerLog.body.items.every((e: { tenantId: string }) => e.tenantId === resellerId)).toBe(true);
    const created_ = ownerLog.body.items.find((e: { action: string }) => e.action === 'tenant.created');
    // The reseller sees who created it as platform staff, without their id (issue 7); the platform sees the person.
    expect(created_).toMatchObject({ actorKind: 'platform_staff', actorUserId: null, actorTenantId: null, subjectId: resellerId });
    expect(JSON.stringify(ownerLog.body)).not.toMatch(/password_hash|passwordHash":\{"from":"\$argon/);

    const platformLog = await call(api.baseUrl, 'GET', `/api/v1/audit-log?tenantId=${resellerId}`, { host: platform.domain, token: boss.accessToken });
    expect(platformLog.status).toBe(200);
    expect(platformLog.body.items.length).toBeGreaterThanOrEqual(ownerLog.body.items.length);
    expect(platformLog.body.items.find((e: { action: string }) => e.action === 'tenant.created')).toMatchObject({
      actorKind: 'platform_staff',
      actorUserId: platform.users.boss.id,
      actorTenantId: platform.id,
    });
  });
});
