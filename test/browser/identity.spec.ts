import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { generate } from 'otplib';
import { Browser, Page } from 'playwright-core';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { ARTIFACTS, ConsoleStack, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * Identity in the console (issue 25): a visitor signs up at a reseller that opened sign-up,
 * activates the account from the mailed link (and sees the bonus), signs in, turns on two-factor
 * from the account page, and signs in again with the second step. Screenshots in both languages
 * and at phone width (test-artifacts/console/identity-*.png).
 */
jest.setTimeout(240_000);

describe('identity in the console', () => {
  let system: Client;
  let stack: ConsoleStack;
  let browser: Browser;
  let shop: TestTenant;
  const email = `joiner.${Date.now()}@example.com`;
  const password = 'Joiner-Console-2026!';
  let secret: string;

  const url = (path: string) => `${stack.origin(shop.domain)}/console${path}`;
  const shoot = async (page: Page, name: string) => {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, `identity-${name}.png`), fullPage: true });
  };
  const expectAccessible = async (page: Page, what: string) =>
    expect({ page: what, violations: await seriousViolations(page) }).toEqual({ page: what, violations: [] });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    stack = await startConsoleStack();
    browser = await launchChromium();
    shop = await resellerWithUsers(system, { owner: ['owner'] });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await system?.end();
  });

  it('shows no sign-up while closed; once opened, a visitor signs up, activates from the mail and gets the bonus', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByTestId('sign-in-form').waitFor();
    expect(await page.getByTestId('sign-up-link').count()).toBe(0);
    await page.goto(url('/sign-up'));
    await page.getByTestId('sign-up-closed').waitFor();

    const owner = await signIn(stack.baseUrl, shop, 'owner');
    const opened = await call(stack.baseUrl, 'PUT', '/api/v1/identity-settings', { host: shop.domain, token: owner.accessToken, json: { signUpEnabled: true, signUpBonus: '3' } });
    expect(opened.status).toBe(200);
    // The site description is cacheable for a minute: a new visitor (a new browser context) sees it open.
    await context.close();
    const visitor = await newContext(browser);
    const page2 = await visitor.newPage();
    await journey(page2);
    await visitor.close();
  });

  async function journey(page: Page) {
    await page.goto(url('/sign-in'));
    await page.getByTestId('sign-up-link').click();
    await page.getByTestId('sign-up-form').waitFor();
    await expectAccessible(page, 'sign-up');
    await shoot(page, 'sign-up-en');
    await page.getByLabel('Your name (optional)').fill('Joiner');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByLabel('Confirm the new password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('sign-up-sent').waitFor();
    await shoot(page, 'sign-up-sent-en');

    const mail = await stack.sink.waitFor((m) => m.to.includes(email), 30_000);
    const link = /https?:\/\/\S+\/console\/verify-email\?token=[^\s>)"]+/.exec(mail.text)?.[0];
    expect(link).toContain(`${shop.domain}:${stack.port}/console/verify-email?token=`);
    await page.goto(link!);
    await page.getByTestId('verify-done').waitFor();
    expect(await page.getByTestId('verify-done').textContent()).toContain('3.00');
    await expectAccessible(page, 'verify-email');
    await shoot(page, 'verify-done-en');

    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/dashboard/);

    // The sign-up page in Chinese at phone width.
    const phone = await newContext(browser, PHONE, 'zh-CN');
    const small = await phone.newPage();
    await small.goto(url('/sign-up'));
    await small.getByTestId('sign-up-form').waitFor();
    // The tenant's default language wins over the browser's: the visitor picks Chinese.
    await small.getByText('中文', { exact: true }).click();
    await small.getByRole('button', { name: '创建账户' }).waitFor();
    await shoot(small, 'sign-up-zh-CN-phone');
    await phone.close();
  }

  it('turns on two-factor from the account page, then signs in with the second step', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/dashboard/);
    await page.goto(url('/account'));
    await page.getByTestId('two-factor-start').click();
    secret = ((await page.getByTestId('two-factor-secret').textContent()) ?? '').trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await expectAccessible(page, 'account-two-factor-enrol');
    await shoot(page, 'account-enrol-en');
    await page.getByTestId('two-factor-card').getByLabel('Code').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    expect(((await page.getByTestId('recovery-codes').textContent()) ?? '').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(10);
    await shoot(page, 'account-recovery-codes-en');
    await context.close();

    const again = await newContext(browser, PHONE);
    const second = await again.newPage();
    await second.goto(url('/sign-in'));
    await second.getByLabel('Email').fill(email);
    await second.getByLabel('Password').fill(password);
    await second.getByRole('button', { name: 'Sign in', exact: true }).click();
    await second.getByTestId('second-factor-form').waitFor();
    await expectAccessible(second, 'sign-in-second-factor');
    await shoot(second, 'second-step-phone-en');
    await second.getByLabel('Code').fill('000000');
    await second.getByRole('button', { name: 'Sign in', exact: true }).click();
    await second.getByRole('alert').waitFor();
    // The next time step's code (the one used to confirm may not be reused).
    await second.getByLabel('Code').fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await second.getByRole('button', { name: 'Sign in', exact: true }).click();
    await second.waitForURL(/\/console\/dashboard/);
    await again.close();
  });

  it("shows the owner's sign-up and security settings", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByLabel('Email').fill(shop.users.owner.email);
    await page.getByLabel('Password').fill('Correct-Horse-Battery-42');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/sign-in'));
    await page.goto(url('/identity-settings'));
    await page.getByTestId('identity-settings-form').waitFor();
    await expectAccessible(page, 'identity-settings');
    await shoot(page, 'settings-en');
    await context.close();
  });
});
