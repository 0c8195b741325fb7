import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Browser, Page } from 'playwright-core';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, TEST_PASSWORD } from '../support/identity';
import { ARTIFACTS, ConsoleStack, DESKTOP, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * The sub-resellers page of a reseller's console (issue 26) in a real browser (npm run build
 * first): the owner sees its sub-reseller, is shown the API's refusal of a discount below its own
 * cost, sets one above it, and creates a new sub-reseller; axe and screenshots in both languages
 * and at phone width.
 */
jest.setTimeout(300_000);

describe('sub-resellers page in a browser', () => {
  let system: Client;
  let stack: ConsoleStack;
  let browser: Browser;
  let shop: TestTenant;
  let child: TestTenant;
  const model = `${uniqueSlug('sr')}-chat`;
  const url = (path: string) => `${stack.origin(shop.domain)}/console${path}`;

  async function look(page: Page, name: string) {
    await page.mouse.move(0, 0);
    expect({ page: name, violations: await seriousViolations(page) }).toEqual({ page: name, violations: [] });
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, `sub-resellers-${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    stack = await startConsoleStack();
    browser = await launchChromium();
    const platform = await platformWithUsers(system, { finance: ['finance'] });
    const finance = await signIn(stack.baseUrl, platform, 'finance');
    const list = await call(stack.baseUrl, 'PUT', `/api/v1/pricing/${model}`, { host: platform.domain, token: finance.accessToken, json: { inputPerMillion: '1', outputPerMillion: '2' } });
    expect(list.status).toBe(200);
    shop = await resellerWithUsers(system, { owner: ['owner'] });
    child = await resellerWithUsers(system, { owner: ['owner'] });
    await system.query(`UPDATE tenants SET parent_id = $1 WHERE id = $2`, [shop.id, child.id]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await system?.end();
  });

  it('lists, refuses a discount below cost with the API message, sets one, and creates a sub-reseller', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByLabel('Email').fill(shop.users.owner.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.includes('/sign-in'));
    await page.getByRole('menuitem', { name: 'Sub-resellers' }).click();
    const table = page.getByTestId('sub-resellers-table');
    await table.getByText(`(${child.slug})`).waitFor();
    await look(page, 'list-en');

    // The platform's list is the shop's list (no price of its own): any discount is below its cost.
    await page.getByTestId(`sub-reseller-discount-${child.slug}`).click();
    const form = page.getByTestId('sub-reseller-discount-form');
    await form.getByLabel('Discount off your list').fill('10');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'below what you pay' }).waitFor();
    await look(page, 'refused-en');
    await form.getByLabel('Discount off your list').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    expect((await system.query(`SELECT percent::text FROM reseller_wholesale_discounts WHERE tenant_id = $1`, [child.id])).rows[0]?.percent).toBe('0.00');

    // A new sub-reseller.
    const slug = uniqueSlug('kid');
    await page.getByTestId('sub-reseller-create').click();
    const create = page.getByTestId('sub-reseller-form');
    await create.getByLabel('Name').fill('Kid shop');
    await create.getByLabel('Slug (unique, lower case)').fill(slug);
    await create.getByLabel('Domain (optional)').fill(`${slug}.example`);
    await create.getByLabel("First owner's e-mail (optional)").fill(`first@${slug}.example`);
    await look(page, 'create-en');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await table.getByText(`(${slug})`).waitFor();
    const kid = (await system.query(`SELECT id, parent_id FROM tenants WHERE slug = $1`, [slug])).rows[0];
    expect(kid?.parent_id).toBe(shop.id);
    // No verified domain yet: the invitation waits; the child with an owner offers no invitation.
    await page.getByTestId(`sub-reseller-owner-${slug}`).getByText('Waiting for a verified domain').waitFor();
    await page.getByTestId(`sub-reseller-owner-${child.slug}`).getByText('Owner', { exact: true }).waitFor();
    expect(await page.getByTestId(`sub-reseller-resend-${child.slug}`).count()).toBe(0);

    // The parent sees how to prove the child's pending domain (the child has nobody to do it yet).
    await page.getByTestId(`sub-reseller-domains-${slug}`).getByText('Pending verification').waitFor();
    await page.getByTestId(`sub-reseller-verify-${slug}`).click();
    const token = (await system.query(`SELECT verification_token FROM tenant_domains WHERE tenant_id = $1`, [kid.id])).rows[0].verification_token as string;
    const record = page.getByTestId(`domain-verification-${slug}.example`);
    await record.getByText(`_aigateway-challenge.${slug}.example`).waitFor();
    await record.getByText(token, { exact: true }).waitFor();
    await look(page, 'verify-en');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

    // Its domain is verified: Resend mails it.
    expect((await system.query(`SELECT domain, status FROM tenant_domains WHERE tenant_id = $1`, [kid.id])).rows).toEqual([{ domain: `${slug}.example`, status: 'pending' }]);
    await system.query(`UPDATE tenant_domains SET status = 'verified', verified_at = now(), verification_token = NULL WHERE tenant_id = $1`, [kid.id]);
    await page.getByTestId(`sub-reseller-resend-${slug}`).click();
    await page.getByTestId(`sub-reseller-owner-${slug}`).getByText('Invitation pending').waitFor();
    // Someone else instead: asked first (the pending link stops working).
    await page.getByTestId(`sub-reseller-invite-${slug}`).click();
    const owner = page.getByTestId('sub-reseller-owner-form');
    await owner.getByLabel('E-mail').fill(`second@${slug}.example`);
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText(`Withdraw the invitation to first@${slug}.example?`).last().waitFor();
    await look(page, 'replace-en');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId(`sub-reseller-owner-${slug}`).getByText(`second@${slug}.example`).waitFor();
    expect((await system.query(`SELECT email, status FROM users WHERE tenant_id = $1`, [kid.id])).rows).toEqual([{ email: `second@${slug}.example`, status: 'invited' }]);

    await page.getByTestId('language-switch').getByText('中文').click();
    await page.locator('html[lang="zh-CN"]').waitFor();
    await table.getByText(`(${slug})`).waitFor();
    await look(page, 'list-zh-CN');
    await context.close();

    const phone = await newContext(browser, PHONE);
    const small = await phone.newPage();
    await small.goto(url('/sign-in'));
    await small.getByLabel('Email').fill(shop.users.owner.email);
    await small.getByLabel('Password').fill(TEST_PASSWORD);
    await small.getByRole('button', { name: 'Sign in' }).click();
    await small.waitForURL((u) => !u.pathname.includes('/sign-in'));
    await small.goto(url('/reseller/sub-resellers'));
    await small.getByTestId('sub-resellers-table').getByText(`(${slug})`).waitFor();
    await look(small, 'list-phone');
    await phone.close();
    void DESKTOP;
  });
});
