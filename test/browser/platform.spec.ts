import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { BrowserContext, Browser, Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { FakeUpstream, FAKE_TEXT, startFakeOpenAI } from '../support/fakes/openai';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, TEST_PASSWORD } from '../support/identity';
import { eventually } from '../support/inference';
import { gatewayClient } from '../support/openai-client';
import { fundSettledMargin } from '../support/settled-margin';
import { toUnits } from '../../libs/money/src';
import { ARTIFACTS, ConsoleStack, DESKTOP, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * The platform operators' pages in a real browser (Debian's chromium via playwright-core) against
 * the api and worker from dist/ (`npm run build` first), one stack for every journey:
 * - tech adds a channel to the fake upstream, tests it, sees it serve a /v1 call (the fake saw the
 *   key typed in the page; the customer was charged), and enables an auto-disabled channel again;
 * - the platform owner creates a reseller with its domain and first owner in one step (a taken
 *   domain leaves nothing behind), and sets a wholesale price;
 * - tech finds the served request in the request logs across tenants (whose, which channel, no money);
 * - platform finance approves a reseller's withdrawal and marks it paid;
 * - every platform role sees exactly the entries its rules allow, no button it may not use, and the
 *   API refuses each refused page's action when called directly; a reseller's owner sees none.
 * Every page is checked with axe and photographed in both languages (test-artifacts/console/).
 */
// A browser run of several pages is slow on a shared machine: these bound a hang, nothing waits on them.
jest.setTimeout(300_000);

const PAGES = {
  channels: { path: '/platform/channels', en: 'Channels', zh: '上游渠道' },
  resellers: { path: '/platform/resellers', en: 'Resellers', zh: '分销商' },
  priceBook: { path: '/platform/price-book', en: 'Wholesale prices', zh: '批发价目' },
  rollup: { path: '/platform/rollup', en: 'Business rollup', zh: '经营汇总' },
  statements: { path: '/platform/statements', en: 'Statements', zh: '结算单' },
  withdrawals: { path: '/platform/withdrawals', en: 'Withdrawals', zh: '提现审批' },
  requests: { path: '/platform/requests', en: 'Request logs of every tenant', zh: '全部租户的请求日志' },
  audit: { path: '/platform/audit', en: 'Audit log', zh: '审计日志' },
} as const;
type PageName = keyof typeof PAGES;

describe('platform operators in a browser', () => {
  let system: Client;
  let stack: ConsoleStack;
  let fake: FakeUpstream;
  let browser: Browser;
  let platform: TestTenant;
  let shop: TestTenant;
  const contexts: BrowserContext[] = [];
  const model = `${uniqueSlug('pm')}-chat`;
  const upstreamKey = `sk-typed-in-the-console-${uniqueSlug('k')}`;

  const as = (tenant: TestTenant, token: string) => ({ host: tenant.domain, token });
  const url = (tenant: TestTenant, path: string) => `${stack.origin(tenant.domain)}/console${path}`;
  const tokenOf = async (tenant: TestTenant, user: string) => (await signIn(stack.baseUrl, tenant, user)).accessToken;

  async function shoot(page: Page, name: string) {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, `platform-${name}.png`), fullPage: true });
  }

  async function expectAccessible(page: Page, what: string) {
    expect({ page: what, violations: await seriousViolations(page) }).toEqual({ page: what, violations: [] });
  }

  /** A browser of its own for `user`, signed in through the sign-in page. */
  async function signedIn(tenant: TestTenant, user: string, viewport = DESKTOP): Promise<Page> {
    const context = await newContext(browser, viewport);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url(tenant, '/sign-in'));
    await page.getByLabel('Email').fill(tenant.users[user].email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/sign-in'));
    await page.getByRole('heading', { level: 1 }).waitFor();
    return page;
  }

  const open = async (page: Page, name: PageName, language: 'en' | 'zh' = 'en') => {
    await page.goto(url(platform, PAGES[name].path));
    await page.getByRole('heading', { level: 1, name: PAGES[name][language] }).waitFor();
  };

  const navEntries = async (page: Page) => {
    // Everyone has some entry (Models, Account): wait for the menu to be drawn.
    await page.getByRole('navigation').getByRole('menuitem').first().waitFor();
    // By the entry's path (antd's data-menu-id ends with the item's key, the path): a reseller's
    // own pages may carry the same labels (Statements, Withdrawals, Audit log).
    const items = await page.getByRole('navigation').getByRole('menuitem').all();
    const ids = await Promise.all(items.map(async (item) => (await item.getAttribute('data-menu-id')) ?? ''));
    return (Object.keys(PAGES) as PageName[]).filter((name) => ids.some((id) => id.endsWith(`-${PAGES[name].path}`)));
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    // The fake upstream listens on loopback, which channels refuse unless allowed.
    stack = await startConsoleStack({ CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true' });
    fake = await startFakeOpenAI();
    browser = await launchChromium();
    platform = await platformWithUsers(system, {
      owner: ['owner'], operator: ['operator'], finance: ['finance'], tech: ['tech'], sales: ['sales'], user: ['user'],
    });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'] });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
    await fake?.close();
    await system?.end();
  });

  it('tech adds a channel to the fake upstream, tests it, and a /v1 call is answered through it', async () => {
    const page = await signedIn(platform, 'tech');
    // The start page of tech is the channels page.
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor();
    const name = `console-${uniqueSlug('ch')}`;
    await page.getByTestId('create-channel').click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Base URL', { exact: true }).fill(`${fake.url}/v1`);
    await page.getByLabel('Upstream API keys', { exact: true }).fill(upstreamKey);
    await page.getByLabel('Public model 1').fill(model);
    await page.getByLabel('Upstream model (optional) 1').fill('fake-model');
    await page.getByLabel(/^Priority/).fill('5');
    await page.getByLabel(/^Weight/).fill('3');
    await expectAccessible(page, 'channel drawer');
    await shoot(page, 'channel-create-en');
    await page.getByTestId('save-channel').click();
    const row = page.getByTestId('channels').getByRole('row').filter({ hasText: name });
    await row.waitFor();

    const listed = await call(stack.baseUrl, 'GET', '/api/v1/channels?pageSize=100', as(platform, await tokenOf(platform, 'tech')));
    const channel = (listed.body.items as Array<Record<string, any>>).find((c) => c.name === name)!;
    expect(channel).toMatchObject({ provider: 'openai', baseUrl: `${fake.url}/v1`, priority: 5, weight: 3, pool: 'standard', status: 'enabled', models: [{ public: model, upstream: 'fake-model' }] });
    expect(channel.keys).toEqual([expect.objectContaining({ last4: upstreamKey.slice(-4), status: 'active' })]);

    // The fake accepts only the key typed in the page from now on.
    fake.keys.add(upstreamKey);
    await row.getByTestId('test-channel').click();
    await page.getByTestId('run-test').click();
    await expect(page.getByTestId('test-outcome').textContent()).resolves.toBe('Answered');
    await expectAccessible(page, 'channel test');
    await shoot(page, 'channel-test-en');
    await page.getByRole('button', { name: 'Close' }).last().click();

    // A customer of the platform calls /v1 for the model: only this channel serves it.
    const owner = await tokenOf(platform, 'owner');
    const price = await call(stack.baseUrl, 'PUT', `/api/v1/pricing/${model}`, { ...as(platform, owner), json: { inputPerMillion: '1', outputPerMillion: '2' } });
    expect([price.status, price.text]).toEqual([200, expect.any(String)]);
    const credit = await call(stack.baseUrl, 'POST', `/api/v1/customers/${platform.users.user.id}/credits`, { ...as(platform, owner), json: { amount: '5', note: 'browser test' } });
    expect([200, 201]).toContain(credit.status);
    const user = await tokenOf(platform, 'user');
    const key = await call(stack.baseUrl, 'POST', '/api/v1/keys', { ...as(platform, user), json: { name: 'browser' } });
    expect(key.status).toBe(201);
    const before = fake.requests.length;
    const { client, close } = gatewayClient(stack.baseUrl, platform.domain, key.body.secret, { maxRetries: 0 });
    let answer: string | null = null;
    try {
      await eventually(async () => {
        answer = await client.chat.completions
          .create({ model, messages: [{ role: 'user', content: 'Hello' }] })
          .then((r) => r.choices[0].message.content)
          .catch(() => null);
        return answer !== null;
      }, 'the new channel to serve /v1', 30_000);
    } finally {
      await close();
    }
    expect(answer).toBe(FAKE_TEXT);
    const served = fake.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions'));
    expect(served.at(-1)).toMatchObject({ headers: expect.objectContaining({ authorization: `Bearer ${upstreamKey}` }), body: expect.objectContaining({ model: 'fake-model' }) });
    // Checked through the API: the call was metered and charged to the customer.
    await eventually(async () => {
      const tx = await call(stack.baseUrl, 'GET', '/api/v1/me/transactions', as(platform, user));
      return (tx.body?.items as Array<{ kind: string }> | undefined)?.some((t) => t.kind === 'usage') === true;
    }, 'the worker to meter the call', 60_000);
    // Tech sees the request in the request logs: whose it was, which channel served it, no money.
    await open(page, 'requests');
    const request = page.getByTestId('requests-table').locator('tbody tr.ant-table-row').filter({ hasText: model }).first();
    await request.getByText(platform.users.user.email).waitFor();
    await request.getByTestId('request-open').click();
    await page.getByTestId('request-detail').getByText(name, { exact: true }).waitFor();
    expect(await page.getByTestId('request-detail').getByText(platform.users.user.email).count()).toBe(1);
    expect(await page.getByTestId('request-spend').count()).toBe(0);
    await expectAccessible(page, 'request logs (tech)');
    await shoot(page, 'requests-tech-en');
    const logged = await call(stack.baseUrl, 'GET', `/api/v1/platform/usage/records?model=${model}`, as(platform, await tokenOf(platform, 'tech')));
    expect(logged.body.items[0]).toMatchObject({ model, customerEmail: platform.users.user.email, channel: expect.objectContaining({ name }) });
    expect(logged.body.items[0].spend).toBeUndefined();
  });

  it('tech sees why a channel was disabled automatically and enables it again', async () => {
    const tech = await tokenOf(platform, 'tech');
    const name = `auto-${uniqueSlug('ch')}`;
    const created = await call(stack.baseUrl, 'POST', '/api/v1/channels', {
      ...as(platform, tech),
      json: { name, provider: 'openai', baseUrl: `${fake.url}/v1`, keys: [upstreamKey], models: [{ public: `${model}-spare`, upstream: 'fake-model' }] },
    });
    expect(created.status).toBe(201);
    const reason = 'health check failed 5 times: upstream answered 503';
    await system.query(`UPDATE channels SET status = 'auto_disabled', status_reason = $2, status_changed_at = now() WHERE id = $1`, [created.body.id, reason]);

    const page = await signedIn(platform, 'tech');
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor();
    await page.getByText('Auto-disabled', { exact: true }).first().click();
    const row = page.getByTestId('channels').getByRole('row').filter({ hasText: name });
    await expect(row.getByTestId('channel-status-reason').textContent()).resolves.toBe(reason);
    await expectAccessible(page, 'channels (auto-disabled)');
    await shoot(page, 'channels-auto-disabled-en');
    await row.getByTestId('enable-channel').click();
    await eventually(async () => (await call(stack.baseUrl, 'GET', `/api/v1/channels/${created.body.id}`, as(platform, tech))).body.status === 'enabled', 'the channel to be enabled', 15_000);
  });

  it("tech finds a channel out of quota, sets its limits in its form (the API reflects them) and enables it again", async () => {
    const tech = await tokenOf(platform, 'tech');
    const name = `limits-${uniqueSlug('ch')}`;
    const created = await call(stack.baseUrl, 'POST', '/api/v1/channels', {
      ...as(platform, tech),
      json: { name, provider: 'openai', baseUrl: `${fake.url}/v1`, keys: [upstreamKey], models: [{ public: `${model}-limited`, upstream: 'fake-model' }], settings: { preset: 'deepseek' } },
    });
    expect(created.status).toBe(201);
    const reason = 'quota exhausted: the upstream answered 402: its account is out of quota or balance';
    await system.query(`UPDATE channels SET status = 'quota_exhausted', status_reason = $2, status_changed_at = now() WHERE id = $1`, [created.body.id, reason]);

    const page = await signedIn(platform, 'tech');
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor();
    await page.getByText('Out of quota', { exact: true }).first().click();
    await page.getByPlaceholder('Name, URL or model').fill(name);
    await page.getByPlaceholder('Name, URL or model').press('Enter');
    const row = page.getByTestId('channels').getByRole('row').filter({ hasText: name });
    await expect(row.getByTestId('channel-status-reason').textContent()).resolves.toBe(reason);
    await row.getByTestId('edit-channel').click();
    await page.getByTestId('channel-rpm').fill('120');
    await page.getByTestId('channel-spend-cap').fill('12.5');
    await expectAccessible(page, 'channel limits');
    await shoot(page, 'channel-limits-en');
    await page.getByTestId('save-channel').click();
    await eventually(async () => {
      const read = await call(stack.baseUrl, 'GET', `/api/v1/channels/${created.body.id}`, as(platform, tech));
      return read.body.limits.rpm === 120 && read.body.limits.dailySpendCap === '12.5' && read.body.limits.tpm === null;
    }, 'the limits saved', 15_000);
    await row.getByTestId('channel-limits').filter({ hasText: '0 / 120 requests per minute' }).waitFor();
    await expectAccessible(page, 'channels (out of quota)');
    await shoot(page, 'channels-quota-exhausted-en');
    await row.getByTestId('enable-channel').click();
    await eventually(async () => (await call(stack.baseUrl, 'GET', `/api/v1/channels/${created.body.id}`, as(platform, tech))).body.status === 'enabled', 'the channel enabled', 15_000);

    // The form asks each cloud type for its own settings.
    await page.getByTestId('create-channel').click();
    for (const [type, field, shot] of [['AWS Bedrock', 'AWS region', 'bedrock'], ['Google Vertex AI', 'Google Cloud project', 'vertex'], ['Azure OpenAI', /^API version/, 'azure']] as const) {
      await page.getByTestId('channel-type').click();
      await page.locator('.ant-select-item-option').filter({ hasText: type }).click();
      await page.locator('.ant-select-dropdown').first().waitFor({ state: 'hidden' });
      await page.getByLabel(field).waitFor();
      await shoot(page, `channel-create-${shot}-en`);
    }
    await expectAccessible(page, 'channel drawer (azure)');
  });

  it('the platform owner creates a reseller with its domain and first owner, and sets a wholesale price', async () => {
    const page = await signedIn(platform, 'owner');
    await open(page, 'resellers');
    const slug = uniqueSlug('new');
    const domain = `${slug}.reseller.localhost`;
    const ownerEmail = `first.owner.${slug}@example.com`;
    await page.getByTestId('create-reseller').click();
    await page.getByLabel('Name', { exact: true }).fill(`Reseller ${slug}`);
    await page.getByLabel('Slug', { exact: true }).fill(slug);
    await page.getByLabel('Domain', { exact: true }).fill(domain);
    await page.getByLabel("Owner's email", { exact: true }).fill(ownerEmail);
    await page.getByLabel(/^Owner's name/).fill('First Owner');
    await expectAccessible(page, 'create reseller');
    await shoot(page, 'reseller-create-en');
    // A taken domain: the API's message, and nothing is left behind (one transaction).
    await page.getByLabel('Domain', { exact: true }).fill(shop.domain);
    await page.getByTestId('create-reseller-submit').click();
    await page.locator('.ant-modal').getByText(`${shop.domain} is taken.`).waitFor();
    expect((await system.query(`SELECT 1 FROM tenants WHERE slug = $1`, [slug])).rowCount).toBe(0);
    expect((await system.query(`SELECT 1 FROM users WHERE email = $1`, [ownerEmail])).rowCount).toBe(0);
    await shoot(page, 'reseller-create-taken-en');
    await page.getByLabel('Domain', { exact: true }).fill(domain);
    await page.getByTestId('create-reseller-submit').click();
    await page.getByTestId('resellers').getByRole('row').filter({ hasText: domain }).waitFor();

    const owner = await tokenOf(platform, 'owner');
    const found = await call(stack.baseUrl, 'GET', `/api/v1/tenants?q=${slug}&type=reseller`, as(platform, owner));
    const tenant = (found.body.items as Array<Record<string, any>>).find((t) => t.slug === slug)!;
    expect(tenant).toMatchObject({ name: `Reseller ${slug}`, status: 'active', type: 'reseller', domains: [expect.objectContaining({ domain })] });
    const members = await call(stack.baseUrl, 'GET', `/api/v1/tenants/${tenant.id}/members`, as(platform, owner));
    expect(members.body.items).toEqual([expect.objectContaining({ email: ownerEmail, roles: ['owner'], status: 'invited' })]);
    const mail = await stack.sink.waitFor((m) => m.to.includes(ownerEmail), 30_000);
    expect(mail.text).toContain(domain);

    // Its rate limits, from its row: per minute across its customers and from one client address.
    await page.getByTestId('resellers').getByRole('row').filter({ hasText: domain }).getByTestId('reseller-limits').click();
    const limits = page.getByTestId('tenant-limits');
    await limits.getByLabel('Requests per minute from one address', { exact: true }).fill('7');
    await limits.getByLabel('Requests per minute', { exact: true }).fill('600');
    await limits.getByLabel('Tokens per day', { exact: true }).fill('5000000');
    await expectAccessible(page, 'reseller limits');
    await shoot(page, 'reseller-limits-en');
    await page.getByTestId('tenant-limits-save').click();
    await page.getByText('Limits saved').waitFor();
    const stored = await call(stack.baseUrl, 'GET', `/api/v1/tenants/${tenant.id}/limits`, as(platform, owner));
    expect(stored.body).toMatchObject({ ipRpm: { stored: 7, effective: 7 }, rpm: { stored: 600, effective: 600 }, tpm: { stored: null }, tpd: { stored: 5_000_000 }, rph: { stored: null } });
    await page.locator('.ant-modal').getByRole('button', { name: 'Close' }).click();
    await page.locator('.ant-modal').waitFor({ state: 'hidden' });

    // The wholesale price of a model.
    const wholesaleModel = `${uniqueSlug('wm')}-chat`;
    await open(page, 'priceBook');
    await page.getByTestId('add-price').click();
    await page.getByLabel('Model', { exact: true }).fill(wholesaleModel);
    await page.getByLabel('Input', { exact: true }).fill('0.8');
    await page.getByLabel('Output', { exact: true }).fill('2.4');
    await page.getByTestId('save-price').click();
    await page.getByLabel('Model', { exact: true }).waitFor({ state: 'hidden' });
    await page.getByRole('searchbox').fill(wholesaleModel);
    await page.getByRole('searchbox').press('Enter');
    await page.getByTestId('price-book').getByRole('row').filter({ hasText: wholesaleModel }).waitFor();
    const book = await call(stack.baseUrl, 'GET', '/api/v1/pricing', as(platform, owner));
    const entry = (book.body.items as Array<Record<string, any>>).find((p) => p.model === wholesaleModel)!;
    expect(toUnits(entry.price.inputPerMillion)).toBe(toUnits('0.8'));
    expect(toUnits(entry.price.outputPerMillion)).toBe(toUnits('2.4'));
    // The form's unit defaults to tokens, and the list says so (issue 24).
    expect(entry.price.unit).toBe('token');
    await expect(page.getByTestId('price-book').getByRole('row').filter({ hasText: wholesaleModel }).getByTestId('price-unit').textContent()).resolves.toBe('Tokens');
    // The reseller's list now has it as its wholesale floor.
    const shopBook = await call(stack.baseUrl, 'GET', `/api/v1/pricing?tenantId=${tenant.id}`, as(platform, owner));
    const shopEntry = (shopBook.body.items as Array<Record<string, any>>).find((p) => p.model === wholesaleModel)!;
    expect(toUnits(shopEntry.wholesale.inputPerMillion)).toBe(toUnits('0.8'));
  });

  it("platform finance approves a reseller's withdrawal and marks it paid", async () => {
    await fundSettledMargin(system, shop.id, '40');
    const destination = `IBAN DE89 ${uniqueSlug('acct')}`;
    const requested = await call(stack.baseUrl, 'POST', '/api/v1/withdrawals', { ...as(shop, await tokenOf(shop, 'finance')), json: { amount: '12.5', destination } });
    expect([requested.status, requested.text]).toEqual([201, expect.any(String)]);
    const id = requested.body.id as string;

    const page = await signedIn(platform, 'finance');
    await open(page, 'withdrawals');
    const row = page.getByTestId('withdrawals').getByRole('row').filter({ hasText: destination });
    await row.getByTestId('approve-withdrawal').click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('To pay', { exact: true }).click();
    await row.getByTestId('pay-withdrawal').click();
    await page.getByLabel('Payment reference').fill('BANK-REF-4711');
    await expectAccessible(page, 'mark paid dialog');
    await shoot(page, 'withdrawal-pay-en');
    await page.getByTestId('decide-submit').click();
    await row.waitFor({ state: 'detached' });

    const after = await call(stack.baseUrl, 'GET', `/api/v1/withdrawals/${id}`, as(shop, await tokenOf(shop, 'finance')));
    expect(after.body).toMatchObject({ status: 'paid', paymentReference: 'BANK-REF-4711', decidedBy: platform.users.finance.id, paidBy: platform.users.finance.id });
  });

  /** What each page's main action is, called directly (a guard refuses before validation looks at the body). */
  const ACTIONS: Record<PageName, [string, string, Record<string, unknown>?]> = {
    channels: ['POST', '/api/v1/channels', {}],
    resellers: ['POST', '/api/v1/tenants', {}],
    priceBook: ['PUT', '/api/v1/pricing/some-model', {}],
    rollup: ['GET', '/api/v1/statements/rollup/open?periodKind=day'],
    statements: ['GET', '/api/v1/statements'],
    withdrawals: ['POST', `/api/v1/withdrawals/${uuidv7()}/approve`, {}],
    requests: ['GET', '/api/v1/platform/usage/records'],
    audit: ['GET', '/api/v1/audit-log'],
  };
  const ALLOWED: Record<string, PageName[]> = {
    owner: ['channels', 'resellers', 'priceBook', 'rollup', 'statements', 'withdrawals', 'requests', 'audit'],
    operator: ['resellers'],
    finance: ['resellers', 'priceBook', 'rollup', 'statements', 'withdrawals'],
    tech: ['channels', 'requests', 'audit'],
    sales: [],
    user: [],
  };

  it.each(Object.keys(ALLOWED))('platform %s sees exactly its entries, no button it may not use, and the API refuses the rest', async (role) => {
    const page = await signedIn(platform, role);
    expect(await navEntries(page)).toEqual(ALLOWED[role]);
    const token = await tokenOf(platform, role);
    for (const name of Object.keys(PAGES) as PageName[]) {
      if (ALLOWED[role].includes(name)) continue;
      const [method, path, json] = ACTIONS[name];
      const res = await call(stack.baseUrl, method, path, { ...as(platform, token), ...(json ? { json } : {}) });
      expect({ role, page: name, status: res.status }).toEqual({ role, page: name, status: 403 });
    }
    if (ALLOWED[role].includes('resellers')) {
      await open(page, 'resellers');
      // A reseller's row (not the empty or loading placeholder row): its buttons are what is counted.
      await page.getByTestId('resellers').locator('tr.ant-table-row').first().waitFor();
      const buttons = { create: await page.getByTestId('create-reseller').count(), discount: await page.getByTestId('reseller-discount').count() };
      // Creating a reseller appoints its first owner: the platform owner's alone (an operator appoints no owner).
      const canCreate = role === 'owner';
      const canDiscount = role !== 'operator';
      expect({ role, create: buttons.create > 0, discount: buttons.discount > 0 }).toEqual({ role, create: canCreate, discount: canDiscount });
      // The buttons it lacks are refused by the API too.
      if (!canCreate) {
        const slug = uniqueSlug('no');
        const onboard = { slug, name: slug, domains: [`${slug}.reseller.localhost`], owner: { email: `o.${slug}@example.com` } };
        expect((await call(stack.baseUrl, 'POST', '/api/v1/tenants/onboard', { ...as(platform, token), json: onboard })).status).toBe(403);
        expect((await system.query(`SELECT 1 FROM tenants WHERE slug = $1`, [slug])).rowCount).toBe(0);
      }
      if (role === 'finance') expect((await call(stack.baseUrl, 'POST', `/api/v1/tenants/${shop.id}/disable`, as(platform, token))).status).toBe(403);
      if (!canDiscount) {
        const res = await call(stack.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, token), json: { percent: '5' } });
        expect(res.status).toBe(403);
      }
    }
    // A page it may not use, opened by its address, offers nothing to do.
    if (!ALLOWED[role].includes('channels')) {
      await page.goto(url(platform, PAGES.channels.path));
      await page.getByRole('heading', { level: 1 }).waitFor();
      expect(await page.getByTestId('create-channel').count()).toBe(0);
    }
  });

  it("a reseller's owner sees no platform entry at the reseller's domain, and the API refuses the platform's pages", async () => {
    const page = await signedIn(shop, 'owner');
    expect(await navEntries(page)).toEqual([]);
    const token = await tokenOf(shop, 'owner');
    // (Its own price list, statements and audit log are its owner's; the platform's are not.)
    for (const name of ['channels', 'resellers', 'rollup', 'withdrawals'] as PageName[]) {
      const [method, path, json] = ACTIONS[name];
      const res = await call(stack.baseUrl, method, path, { ...as(shop, token), ...(json ? { json } : {}) });
      expect({ page: name, status: res.status }).toEqual({ page: name, status: 403 });
    }
    const otherTenants = await call(stack.baseUrl, 'GET', `/api/v1/audit-log?tenantId=${platform.id}`, as(shop, token));
    expect(otherTenants.body.items ?? []).toEqual([]);
  });

  it('shows every platform page to its owner, accessible, in English', async () => {
    const page = await signedIn(platform, 'owner');
    for (const name of Object.keys(PAGES) as PageName[]) {
      await open(page, name);
      await expectAccessible(page, name);
      await shoot(page, `${name}-en`);
    }
  }, 600_000);

  it('shows every platform page in Chinese', async () => {
    const page = await signedIn(platform, 'owner');
    await page.getByTestId('language-switch').getByText('中文').click();
    for (const name of Object.keys(PAGES) as PageName[]) {
      await open(page, name, 'zh');
      await expectAccessible(page, `${name} (zh-CN)`);
      await shoot(page, `${name}-zh-CN`);
    }
    await page.getByTestId('language-switch').getByText('English').click();
    await page.getByRole('heading', { level: 1, name: PAGES.audit.en }).waitFor();
  }, 600_000);

  it('lays the list pages out for a phone, with the navigation in a drawer', async () => {
    const page = await signedIn(platform, 'owner');
    await page.setViewportSize(PHONE);
    // (Only pages whose lists hold something to focus: an empty or text-only list that scrolls
    // sideways fails axe's scrollable-region-focusable, see the report.)
    for (const name of ['channels', 'resellers', 'audit'] as PageName[]) {
      await open(page, name);
      await expectAccessible(page, `${name} (phone)`);
      await shoot(page, `${name}-phone`);
    }
    await page.getByTestId('nav-open').click();
    await page.getByRole('menuitem', { name: 'Resellers' }).waitFor();
    await shoot(page, 'nav-drawer-phone');
  }, 600_000);
});
