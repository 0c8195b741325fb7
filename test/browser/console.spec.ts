import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { FakeUpstream, startFakeOpenAI } from '../../scripts/fake-upstream';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, TEST_PASSWORD } from '../support/identity';
import { eventually, fakeChannel } from '../support/inference';
import { gatewayClient } from '../support/openai-client';
import { formatMoney } from '../../web/src/lib/money';
import { ARTIFACTS, ConsoleStack, DESKTOP, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * The web console in a real browser (Debian's chromium via playwright-core) against the api and
 * worker running from dist/ (`npm run build` first): a customer invited by mail signs up from the
 * mail's link, creates a key, calls /v1 with it, and finds the exact charge on the dashboard, in
 * usage and in transactions; a second reseller's domain shows its own brand and prices and none
 * of the first one's data. Every page is checked with axe and photographed in both languages and
 * at phone width (test-artifacts/console/).
 */
// A browser run of several pages is slow on a shared machine: these bound a hang, nothing waits on them.
jest.setTimeout(240_000);

describe('web console in a browser', () => {
  let system: Client;
  let stack: ConsoleStack;
  let fake: FakeUpstream;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let shop: TestTenant;
  let other: TestTenant;
  const model = `${uniqueSlug('bm')}-chat`;
  const customerEmail = `buyer.${Date.now()}@example.com`;
  const password = 'Browser-Console-2026!';
  let secret: string;
  let charge: string;
  const shopBrand = { displayName: `Acme AI ${uniqueSlug('a')}`, themeColor: '#0b7a4b', supportEmail: 'help@acme.example' };
  const otherBrand = { displayName: `Globex Cloud ${uniqueSlug('g')}`, themeColor: '#b4235a' };

  const as = (tenant: TestTenant, token: string) => ({ host: tenant.domain, token });
  const url = (tenant: TestTenant, path: string) => `${stack.origin(tenant.domain)}/console${path}`;

  async function shoot(name: string, target = page) {
    await target.waitForLoadState('networkidle');
    await target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function expectAccessible(what: string, target = page) {
    expect({ page: what, violations: await seriousViolations(target) }).toEqual({ page: what, violations: [] });
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    // The fake upstream listens on loopback, which channels refuse unless allowed.
    stack = await startConsoleStack({ ACCESS_TOKEN_TTL_SECONDS: '60', CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true' });
    fake = await startFakeOpenAI();
    browser = await launchChromium();

    const platform = await platformWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    const platformOwner = await signIn(stack.baseUrl, platform, 'owner');
    const platformFinance = await signIn(stack.baseUrl, platform, 'finance');
    const channel = await call(stack.baseUrl, 'POST', '/api/v1/channels', { ...as(platform, platformOwner.accessToken), json: fakeChannel(fake.url, model) });
    expect(channel.status).toBe(201);
    const list = await call(stack.baseUrl, 'PUT', `/api/v1/pricing/${model}`, {
      ...as(platform, platformFinance.accessToken),
      json: { inputPerMillion: '1', outputPerMillion: '2', cacheReadPerMillion: '0.5' },
    });
    expect(list.status).toBe(200);

    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    other = await resellerWithUsers(system, { owner: ['owner'], customer: ['user'] });
    for (const [tenant, brand, price] of [
      [shop, shopBrand, { inputPerMillion: '3.25', outputPerMillion: '9.5' }],
      [other, otherBrand, { inputPerMillion: '4.1', outputPerMillion: '12.75' }],
    ] as const) {
      const { supportEmail, ...branding } = brand as typeof shopBrand;
      const patch = await call(stack.baseUrl, 'PATCH', `/api/v1/tenants/${tenant.id}`, {
        ...as(platform, platformOwner.accessToken),
        json: { branding: { ...branding, ...(supportEmail ? { supportEmail } : {}) } },
      });
      expect([patch.status, patch.text]).toEqual([200, expect.any(String)]);
      const owner = await signIn(stack.baseUrl, tenant, 'owner');
      const retail = await call(stack.baseUrl, 'PUT', `/api/v1/pricing/${model}`, { ...as(tenant, owner.accessToken), json: price });
      expect([retail.status, retail.text]).toEqual([200, expect.any(String)]);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await fake?.close();
    await system?.end();
  });

  it('accepts the mailed invitation at the reseller domain, sets a password and lands on the dashboard', async () => {
    const owner = await signIn(stack.baseUrl, shop, 'owner');
    const invite = await call(stack.baseUrl, 'POST', '/api/v1/customers', { ...as(shop, owner.accessToken), json: { email: customerEmail, displayName: 'Buyer One' } });
    expect([invite.status, invite.text]).toEqual([201, expect.any(String)]);
    const mail = await stack.sink.waitFor((m) => m.to.includes(customerEmail), 30_000);
    const link = /https?:\/\/\S+\/accept-invitation\?token=[^\s>)"]+/.exec(mail.text)?.[0];
    expect(link).toContain(`${shop.domain}:${stack.port}/accept-invitation?token=`);

    context = await newContext(browser);
    page = await context.newPage();
    await page.goto(link!);
    await page.waitForURL(/\/console\/accept-invitation\?token=/);
    // The rules are on the page before anything is typed.
    await expect(page.getByTestId('password-rules').textContent()).resolves.toContain('12 characters');
    await expect(page.getByTestId('brand-name').textContent()).resolves.toBe(shopBrand.displayName);
    await expectAccessible('accept-invitation');
    await shoot('accept-invitation-en');
    // The api's own messages for a weak password.
    await page.getByLabel('New password', { exact: true }).fill('short');
    await page.getByLabel('Confirm the new password').fill('short');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByLabel('Confirm the new password').fill(password);
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.waitForURL(/\/console\/dashboard$/);
    await page.getByTestId('spendable').waitFor();
  });

  it('creates a key, shows its secret once, and the key calls /v1 for real', async () => {
    const finance = await signIn(stack.baseUrl, shop, 'finance');
    const customers = await call(stack.baseUrl, 'GET', '/api/v1/customers', as(shop, finance.accessToken));
    const customer = (customers.body.items as Array<{ id: string; email: string }>).find((c) => c.email === customerEmail)!;
    const credit = await call(stack.baseUrl, 'POST', `/api/v1/customers/${customer.id}/credits`, { ...as(shop, finance.accessToken), json: { amount: '20', note: 'welcome credit' } });
    expect([credit.status, credit.text]).toEqual([expect.any(Number), expect.any(String)]);
    expect([200, 201]).toContain(credit.status);

    await page.goto(url(shop, '/keys'));
    await page.getByTestId('create-key').click();
    await page.getByLabel('Name').fill('Production server');
    // An hourly limit in the key's form (its table of hour and day limits).
    await page.getByTestId('key-windows').getByLabel('Requests per hour').fill('500');
    await page.getByTestId('key-windows').scrollIntoViewIfNeeded();
    await page.locator('.ant-modal-content').screenshot({ path: join(ARTIFACTS, 'key-form-en.png') });
    await page.getByRole('button', { name: 'Create key' }).last().click();
    const shown = page.getByTestId('key-secret');
    await shown.waitFor();
    secret = (await shown.textContent())!.trim();
    expect(secret).toMatch(/^sk-/);
    // The create dialog closes as the secret's opens: judge the secret's once the other is gone.
    await page.getByLabel('Name').waitFor({ state: 'hidden' });
    await expectAccessible('key secret dialog');
    await shoot('keys-secret-en');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('cell', { name: 'Production server', exact: true }).waitFor();
    const stored = await system.query(`SELECT rph_limit, rpd_limit FROM api_keys WHERE tenant_id = $1 AND name = 'Production server'`, [shop.id]);
    expect(stored.rows).toEqual([{ rph_limit: 500, rpd_limit: null }]);

    const { client, close } = gatewayClient(stack.baseUrl, shop.domain, secret, { maxRetries: 0 });
    let failure: unknown;
    try {
      // The new key reaches every instance within moments; the first call may be early.
      await eventually(async () => {
        try {
          const reply = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] });
          return reply.choices[0].message.content !== null;
        } catch (error) {
          failure = error;
          return false;
        }
      }, 'the key to call /v1', 30_000).catch((error: Error) => {
        throw new Error(`${error.message}: last failure ${String(failure)}`);
      });
    } finally {
      await close();
    }
  });

  it('shows the charge, to the exact amount the api reports, on the dashboard, in usage and in transactions', async () => {
    const tokens = await call(stack.baseUrl, 'POST', '/api/v1/auth/login', { host: shop.domain, json: { email: customerEmail, password } });
    const token = tokens.body.accessToken as string;
    let usage: { amount: string } | undefined;
    await eventually(async () => {
      const res = await call(stack.baseUrl, 'GET', '/api/v1/me/transactions', as(shop, token));
      usage = (res.body?.items as Array<{ kind: string; amount: string }> | undefined)?.find((t) => t.kind === 'usage');
      return Boolean(usage);
    }, 'the worker to meter the call', 60_000);
    charge = usage!.amount.replace(/^-/, '');
    const money = (value: string) => formatMoney(value, 'USD', 'en');

    await page.goto(url(shop, '/dashboard'));
    await page.getByTestId('spend-30').getByText(money(charge), { exact: true }).waitFor();
    await expect(page.getByTestId('requests-30').textContent()).resolves.toBe('1');
    await expectAccessible('dashboard');
    await shoot('dashboard-en');

    await page.goto(url(shop, '/usage'));
    await page.getByTestId('usage-table').getByTestId('usage-spend').getByText(money(charge), { exact: true }).waitFor();
    await expectAccessible('usage');
    await shoot('usage-en');

    await page.goto(url(shop, '/billing'));
    await page.getByTestId('transactions').getByText(money(`-${charge}`), { exact: true }).waitFor();
    await expect(page.getByTestId('support-contact').textContent()).resolves.toContain('help@acme.example');
    await expectAccessible('billing');
    await shoot('billing-en');

    await page.goto(url(shop, '/models'));
    await page.getByTestId('prices').getByRole('row').filter({ hasText: model }).getByText(money('3.25'), { exact: true }).first().waitFor();
    await expectAccessible('models');
    await shoot('models-en');

    for (const [path, name] of [
      ['/quickstart', 'quickstart'],
      ['/account', 'account'],
    ]) {
      await page.goto(url(shop, path));
      await page.getByRole('heading', { level: 1 }).waitFor();
      await expectAccessible(name);
      await shoot(`${name}-en`);
    }
    await expect(page.getByTestId('brand-name').first().textContent()).resolves.toBe(shopBrand.displayName);
  });

  it('redeems a prepaid code the reseller issued on the Billing page, and the credit shows to the exact amount the api books', async () => {
    const owner = await signIn(stack.baseUrl, shop, 'owner');
    const issued = await call(stack.baseUrl, 'POST', '/api/v1/redemption-codes', { ...as(shop, owner.accessToken), json: { count: 1, amount: '7.35' } });
    expect([issued.status, issued.text]).toEqual([201, expect.any(String)]);
    const code = (issued.body.codes as Array<{ code: string }>)[0].code;
    const money = (value: string) => formatMoney(value, 'USD', 'en');

    await page.goto(url(shop, '/billing'));
    // Case and spacing of the typed code do not matter to the api.
    await page.getByLabel('Prepaid code').fill(` ${code.toLowerCase()} `);
    await page.getByRole('button', { name: 'Redeem' }).click();
    await expect(page.getByTestId('redeem-success').textContent().then((t) => t!.includes(money('7.35')))).resolves.toBe(true);
    await page.getByTestId('transactions').getByTestId('tx-amount').getByText(money('7.35'), { exact: true }).waitFor();

    const tokens = await call(stack.baseUrl, 'POST', '/api/v1/auth/login', { host: shop.domain, json: { email: customerEmail, password } });
    const balance = await call(stack.baseUrl, 'GET', '/api/v1/me/balance', as(shop, tokens.body.accessToken));
    expect(balance.status).toBe(200);
    await page.getByTestId('ledger-balance').getByText(money(balance.body.balance), { exact: true }).waitFor();
    const credited = await call(stack.baseUrl, 'GET', '/api/v1/me/transactions', as(shop, tokens.body.accessToken));
    expect((credited.body.items as Array<{ amount: string }>)[0].amount).toMatch(/^7\.350*$/);
    await expectAccessible('billing after redeeming');
    await shoot('billing-redeemed-en');

    // The same code again: the api's own problem, and no second credit.
    await page.getByLabel('Prepaid code').fill(code);
    await page.getByRole('button', { name: 'Redeem' }).click();
    await page.getByTestId('redeem').getByRole('alert').waitFor();
    await expect(page.getByTestId('redeem-success').count()).resolves.toBe(0);
    await shoot('billing-redeem-used-en');
    const after = await call(stack.baseUrl, 'GET', '/api/v1/me/balance', as(shop, tokens.body.accessToken));
    expect(after.body.balance).toBe(balance.body.balance);
  });

  it('switches to Simplified Chinese and every page reads in it', async () => {
    await page.goto(url(shop, '/dashboard'));
    await page.getByTestId('language-switch').getByText('中文').click();
    await page.getByRole('heading', { level: 1, name: '概览' }).waitFor();
    try {
      for (const [path, name, title] of [
        ['/dashboard', 'dashboard', '概览'],
        ['/keys', 'keys', 'API 密钥'],
        ['/usage', 'usage', '用量'],
        ['/billing', 'billing', '账单'],
        ['/models', 'models', '模型与价格'],
        ['/quickstart', 'quickstart', '快速开始'],
        ['/account', 'account', '账户'],
      ]) {
        await page.goto(url(shop, path));
        await page.getByRole('heading', { level: 1, name: title }).waitFor();
        await expectAccessible(`${name} (zh-CN)`);
        await shoot(`${name}-zh-CN`);
      }
    } finally {
      await page.getByTestId('language-switch').getByText('English').click();
    }
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
  });

  beforeEach(async () => {
    await page?.setViewportSize(DESKTOP);
  });

  it('lays the pages out for a phone, with the navigation in a drawer', async () => {
    await page.setViewportSize(PHONE);
    for (const name of ['dashboard', 'keys', 'usage', 'billing']) {
      await page.goto(url(shop, `/${name}`));
      await page.getByRole('heading', { level: 1 }).waitFor();
      await expectAccessible(`${name} (phone)`);
      await shoot(`${name}-phone`);
    }
    await page.getByTestId('nav-open').click();
    await page.getByRole('menuitem', { name: 'API keys' }).waitFor();
    await shoot('nav-drawer-phone');
    await page.getByRole('menuitem', { name: 'API keys' }).click();
    await page.waitForURL(/\/console\/keys$/);
    await page.setViewportSize(DESKTOP);
  });

  it('refreshes an expiring session silently through the cookie', async () => {
    await page.goto(url(shop, '/dashboard'));
    await page.getByTestId('spendable').waitFor();
    // Access tokens live 60 s here; the console refreshes 30 s before expiry, by itself.
    const refreshed = await page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.request().method() === 'POST', { timeout: 90_000 });
    expect(refreshed.status()).toBe(200);
    expect(await refreshed.json()).not.toHaveProperty('refreshToken');
    const cookies = await context.cookies(stack.origin(shop.domain));
    expect(cookies.find((c) => c.name === '__Host-aigw_refresh')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    await page.goto(url(shop, '/usage'));
    await page.getByTestId('usage-table').getByTestId('usage-spend').first().waitFor();
  });

  it("shows the second reseller's brand and prices at its domain, none of the first one's data, and refuses the first one's token there", async () => {
    const visitor = await newContext(browser);
    const second = await visitor.newPage();
    await second.goto(url(other, '/sign-in'));
    await second.getByTestId('brand-name').getByText(otherBrand.displayName, { exact: true }).waitFor();
    const colour = await second.getByRole('button', { name: 'Sign in' }).evaluate((b) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(b).backgroundColor);
    expect(colour).toBe('rgb(180, 35, 90)');
    await expectAccessible('sign-in', second);
    await shoot('sign-in-en', second);
    await second.getByTestId('language-switch').getByText('中文').click();
    await second.getByRole('button', { name: '登 录' }).or(second.getByRole('button', { name: '登录' })).waitFor();
    await shoot('sign-in-zh-CN', second);
    await second.setViewportSize(PHONE);
    await shoot('sign-in-phone', second);
    await second.setViewportSize(DESKTOP);
    await second.getByTestId('language-switch').getByText('English').click();

    // The first reseller's customer cannot sign in here.
    await second.getByLabel('Email').fill(customerEmail);
    await second.getByLabel('Password').fill(password);
    await second.getByRole('button', { name: 'Sign in' }).click();
    await second.getByRole('alert').waitFor();
    expect(second.url()).toContain('/console/sign-in');

    // Its own customer signs in and sees its own prices and no usage.
    await second.getByLabel('Email').fill(other.users.customer.email);
    await second.getByLabel('Password').fill(TEST_PASSWORD);
    await second.getByRole('button', { name: 'Sign in' }).click();
    await second.waitForURL(/\/console\/dashboard$/);
    await second.getByTestId('spend-30').getByText(formatMoney('0', 'USD', 'en'), { exact: true }).waitFor();
    await second.goto(url(other, '/models'));
    await second.getByTestId('prices').getByRole('row').filter({ hasText: model }).getByText(formatMoney('4.1', 'USD', 'en'), { exact: true }).first().waitFor();
    expect(await second.getByTestId('prices').getByText(formatMoney('3.25', 'USD', 'en'), { exact: true }).count()).toBe(0);
    await second.goto(url(other, '/billing'));
    await second.getByTestId('transactions').waitFor();
    expect(await second.getByText(formatMoney(`-${charge}`, 'USD', 'en'), { exact: true }).count()).toBe(0);
    await visitor.close();

    const tokens = await call(stack.baseUrl, 'POST', '/api/v1/auth/login', { host: shop.domain, json: { email: customerEmail, password } });
    const atOther = await call(stack.baseUrl, 'GET', '/api/v1/me/balance', as(other, tokens.body.accessToken));
    expect([401, 403]).toContain(atOther.status);
  });

  it('sends a revoked session to the sign-in page', async () => {
    await page.goto(url(shop, '/dashboard'));
    await page.getByTestId('spendable').waitFor();
    // Staff disable the customer: every session of theirs ends.
    const owner = await signIn(stack.baseUrl, shop, 'owner');
    const customers = await call(stack.baseUrl, 'GET', '/api/v1/customers', as(shop, owner.accessToken));
    const customer = (customers.body.items as Array<{ id: string; email: string }>).find((c) => c.email === customerEmail)!;
    const disable = await call(stack.baseUrl, 'POST', `/api/v1/customers/${customer.id}/disable`, as(shop, owner.accessToken));
    expect(disable.status).toBe(200);
    await page.getByRole('menuitem', { name: 'Usage' }).click();
    await page.waitForURL(/\/console\/sign-in\?expired=1/);
    await page.getByTestId('session-ended').waitFor();
    await expectAccessible('sign-in after a revoked session');
  });
});
