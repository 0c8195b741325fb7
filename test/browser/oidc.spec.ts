import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Browser, Page } from 'playwright-core';
import { generate } from 'otplib';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { OidcTestProvider, startOidcProvider } from '../support/oidc';
import { ARTIFACTS, ConsoleStack, launchChromium, newContext, PHONE, seriousViolations, startConsoleStack } from './console-stack';

/**
 * Single sign-on in the console (issue 25): the owner configures the tenant's OpenID Connect
 * provider on the identity settings page; a customer signs in with "Sign in with <name>" through a
 * real provider (oidc-provider, in a child process); a refused sign-in is explained on the sign-in
 * page. Screenshots in both languages and at phone width (test-artifacts/console/oidc-*.png).
 */
jest.setTimeout(240_000);

describe('single sign-on in the console', () => {
  let system: Client;
  let stack: ConsoleStack;
  let browser: Browser;
  let provider: OidcTestProvider;
  let shop: TestTenant;

  const url = (path: string) => `${stack.origin(shop.domain)}/console${path}`;
  const shoot = async (page: Page, name: string) => {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, `oidc-${name}.png`), fullPage: true });
  };
  const expectAccessible = async (page: Page, what: string) =>
    expect({ page: what, violations: await seriousViolations(page) }).toEqual({ page: what, violations: [] });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    system = await connectAs('system');
    stack = await startConsoleStack({ OIDC_ALLOW_PRIVATE_NETWORKS: 'true' });
    browser = await launchChromium();
    shop = await resellerWithUsers(system, { owner: ['owner'], alice: ['user'], tina: ['user'] });
    provider = await startOidcProvider(
      [{ client_id: 'console', client_secret: 'console-client-secret-42', redirect_uris: [`${stack.origin(shop.domain)}/api/v1/auth/oidc/callback`] }],
      {
        alice: { email: shop.users.alice.email, email_verified: true, name: 'Alice' },
        tina: { email: shop.users.tina.email, email_verified: true },
        stranger: { email: `stranger.${shop.slug}@example.com`, email_verified: true },
      },
    );
  });

  afterAll(async () => {
    await browser?.close();
    await provider?.close();
    await stack?.close();
    await system?.end();
  });

  it('the owner configures the provider; the secret is never shown again', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    expect(await page.getByTestId('oidc-sign-in').count()).toBe(0);
    await page.getByLabel('Email').fill(shop.users.owner.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/sign-in'));
    await page.goto(url('/identity-settings'));
    const card = page.getByTestId('oidc-settings-card');
    await card.waitFor();
    expect(await page.getByTestId('oidc-redirect-uri').textContent()).toContain(`${stack.origin(shop.domain)}/api/v1/auth/oidc/callback`);
    await card.getByLabel('Offer "Sign in with..." on the sign-in page').click();
    await card.getByLabel('Provider name').fill('Acme SSO');
    await card.getByLabel('Issuer URL').fill(provider.issuer);
    await card.getByLabel('Client ID').fill('console');
    await card.getByLabel('Client secret').fill('console-client-secret-42');
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByText('A secret is stored').waitFor();
    expect(await card.getByLabel('Client secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain('console-client-secret-42');
    await expectAccessible(page, 'identity-settings-oidc');
    await shoot(page, 'settings-en');
    await context.close();
  });

  it('a customer signs in with "Sign in with Acme SSO"; a refusal is explained', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    const button = page.getByTestId('oidc-sign-in');
    await button.waitFor();
    expect(await button.textContent()).toBe('Sign in with Acme SSO');
    await expectAccessible(page, 'sign-in-oidc');
    await shoot(page, 'sign-in-en');
    await button.click();
    await page.getByRole('link', { name: 'alice' }).click();
    await page.waitForURL((u) => u.host === new URL(stack.origin(shop.domain)).host && !u.pathname.endsWith('/sign-in'));
    await page.getByText(shop.users.alice.email).first().waitFor();

    // Someone the tenant has no account for: back on the sign-in page, told why (Chinese, phone).
    const phone = await newContext(browser, PHONE, 'zh-CN');
    const small = await phone.newPage();
    await small.goto(url('/sign-in'));
    await small.getByText('中文', { exact: true }).click();
    await small.getByTestId('oidc-sign-in').click();
    await small.getByRole('link', { name: 'stranger' }).click();
    await small.getByTestId('oidc-error').waitFor();
    expect(await small.getByTestId('oidc-error').textContent()).toContain('此处没有使用您邮箱地址的账户');
    await expectAccessible(small, 'sign-in-oidc-error');
    await shoot(small, 'sign-in-error-zh-CN-phone');
    await phone.close();
    await context.close();
  });

  it('with two-factor on, the provider is not enough: the console asks for the code', async () => {
    const tokens = await signIn(stack.baseUrl, shop, 'tina');
    const as = { host: shop.domain, token: tokens.accessToken };
    const started = await call(stack.baseUrl, 'POST', '/api/v1/me/two-factor/enrolment', { ...as, json: {} });
    const code = (offset: number) => generate({ secret: started.body.secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });
    expect((await call(stack.baseUrl, 'POST', '/api/v1/me/two-factor/confirm', { ...as, json: { code: await code(0) } })).status).toBe(200);

    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByTestId('oidc-sign-in').click();
    await page.getByRole('link', { name: 'tina' }).click();
    await page.getByTestId('second-factor-form').waitFor();
    expect(new URL(page.url()).hash).toMatch(/^#oidc_challenge=/);
    await shoot(page, 'second-factor-en');
    await page.getByLabel('Code').fill(await code(1));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/sign-in'));
    expect(new URL(page.url()).hash).toBe('');
    await page.getByText(shop.users.tina.email).first().waitFor();
    await context.close();
  });
});
