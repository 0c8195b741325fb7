import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Browser, Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { waitUntil } from '../support/timing';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { ARTIFACTS, ConsoleStack, DESKTOP, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * The Requests page in a real browser (`npm run build` first): a customer finds their own
 * requests, filters them, opens one and reads its stored prompt and completion; the tenant's owner
 * sees the same page over the whole tenant. Screenshots in both languages and at phone width
 * (test-artifacts/console/requests-*.png).
 */
jest.setTimeout(240_000);

describe('requests page in a browser', () => {
  let system: Client;
  let stack: ConsoleStack;
  let browser: Browser;
  let shop: TestTenant;
  const ids: string[] = [];
  const marker = `Summarise the quarterly report ${Date.now()}`;

  const url = (path: string) => `${stack.origin(shop.domain)}/console${path}`;

  async function shoot(page: Page, name: string) {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function signInAs(page: Page, who: string) {
    await page.goto(url('/sign-in'));
    await page.getByLabel('Email').fill(shop.users[who].email);
    await page.getByLabel('Password').fill('Correct-Horse-Battery-42');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/sign-in'));
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    stack = await startConsoleStack();
    browser = await launchChromium();
    shop = await resellerWithUsers(system, { owner: ['owner'], buyer: ['user'], other: ['user'] });
    const now = Date.now();
    const rows: Array<[string, string, string, string | null, string, number]> = [
      [shop.users.buyer.id, 'gpt-4o-mini', 'ok', null, '0.000125', 60],
      [shop.users.buyer.id, 'gpt-4o', 'ok', null, '0.00315', 30],
      [shop.users.buyer.id, 'gpt-4o', 'upstream_error', 'upstream_timeout', '0', 20],
      [shop.users.other.id, 'claude-3-5-sonnet', 'ok', null, '0.0042', 10],
    ];
    for (const [customer, model, status, code, retail, minutesAgo] of rows) {
      const id = uuidv7();
      ids.push(id);
      await system.query(
        `INSERT INTO usage_records (request_id, tenant_id, customer_id, model, upstream_model, input_tokens, output_tokens, retail_charge, wholesale_cost, status, error_code,
                                    latency_ms, ttft_ms, stream, client_ip, created_at, http_request_id)
         VALUES ($1, $2, $3, $4, $4, 812, 164, $5, 0.0001, $6, $7, 1840, 310, true, '198.51.100.23', now() - make_interval(mins => $8), $9)`,
        [id, shop.id, customer, model, retail, status, code, minutesAgo, `req_${id.slice(-12)}`],
      );
    }
    // Content logging on, and the first request's content stored (as the api would have).
    const owner = await signIn(stack.baseUrl, shop, 'owner');
    const on = await call(stack.baseUrl, 'PUT', '/api/v1/content-logging', { host: shop.domain, token: owner.accessToken, json: { enabled: true, retentionDays: 7 } });
    expect(on.status).toBe(200);
    await system.query(
      `INSERT INTO request_contents (request_id, tenant_id, customer_id, created_at, expires_at, prompt, completion) VALUES ($1, $2, $3, now(), now() + interval '7 days', $4, $5)`,
      [ids[0], shop.id, shop.users.buyer.id, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: marker }] }), 'Revenue grew 12% on the quarter.'],
    );
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await system?.end();
  });

  it("shows a customer their own requests, filtered, with a request's details and stored content, in both languages", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signInAs(page, 'buyer');
    await page.goto(url('/requests'));
    await page.getByRole('heading', { level: 1, name: 'Requests' }).waitFor();
    const rows = page.getByTestId('requests-table').locator('tbody tr.ant-table-row');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    expect(await page.getByTestId('requests-table').textContent()).not.toContain('claude-3-5-sonnet');
    expect({ page: 'requests', violations: await seriousViolations(page) }).toEqual({ page: 'requests', violations: [] });
    await shoot(page, 'requests-en');

    await page.getByTestId('request-open').last().click();
    const detail = page.getByTestId('request-detail');
    await detail.getByText(marker, { exact: false }).waitFor();
    await detail.getByText('Revenue grew 12% on the quarter.').waitFor();
    expect({ page: 'request drawer', violations: await seriousViolations(page) }).toEqual({ page: 'request drawer', violations: [] });
    await shoot(page, 'requests-drawer-en');
    await page.keyboard.press('Escape');

    // The failed one, by status: the gateway's own words for the error.
    await page.getByTestId('requests-status').click();
    await page.getByTitle('Upstream error').click();
    // (Not waitForFunction with a string: the console's CSP refuses eval.)
    const failed = page.getByTestId('requests-table').locator('tbody tr.ant-table-row');
    await waitUntil(async () => (await failed.count()) === 1, { what: 'the list filtered to the failed request' });
    await page.getByTestId('request-open').first().click();
    await detail.getByText('The upstream provider timed out.').waitFor();
    await detail.getByText('Not stored', { exact: false }).waitFor();
    await shoot(page, 'requests-error-drawer-en');
    await page.keyboard.press('Escape');

    await page.goto(url('/requests'));
    await page.getByTestId('language-switch').getByText('中文').click();
    await page.getByRole('heading', { level: 1, name: '请求记录' }).waitFor();
    await rows.first().waitFor();
    expect({ page: 'requests (zh-CN)', violations: await seriousViolations(page) }).toEqual({ page: 'requests (zh-CN)', violations: [] });
    await shoot(page, 'requests-zh-CN');
    await page.getByTestId('request-open').last().click();
    await detail.getByText('提示词', { exact: true }).waitFor();
    await shoot(page, 'requests-drawer-zh-CN');
    await page.keyboard.press('Escape');

    await page.setViewportSize(PHONE);
    await page.goto(url('/requests'));
    await rows.first().waitFor();
    expect({ page: 'requests (phone)', violations: await seriousViolations(page) }).toEqual({ page: 'requests (phone)', violations: [] });
    await shoot(page, 'requests-phone-zh-CN');
    await page.getByTestId('language-switch').getByText('English').click().catch(() => undefined);
    await page.setViewportSize(DESKTOP);
    await context.close();
  });

  it("shows the owner the whole tenant's requests on the same page", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signInAs(page, 'owner');
    await page.goto(url('/requests'));
    const rows = page.getByTestId('requests-table').locator('tbody tr.ant-table-row');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(4);
    await page.getByText('claude-3-5-sonnet').waitFor();
    await shoot(page, 'requests-owner-en');
    await context.close();
  });
});
