import { ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { call, HttpResult } from './http';
import { scaled } from './timing';

export interface OidcTestClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface OidcTestAccount {
  email: string;
  email_verified: boolean;
  name?: string;
}

export interface OidcTestProvider {
  issuer: string;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (`oidc-provider`, ESM-only, so in a child process of its own;
 * see oidc-provider.mjs) on a free port of 127.0.0.1, with these clients and accounts.
 */
export async function startOidcProvider(clients: OidcTestClient[], accounts: Record<string, OidcTestAccount>): Promise<OidcTestProvider> {
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'oidc-provider.mjs')], {
    env: { ...process.env, OIDC_TEST_CLIENTS: JSON.stringify(clients), OIDC_TEST_ACCOUNTS: JSON.stringify(accounts), NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the OIDC provider did not start: ${stderr}`)), scaled(20_000));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { issuer: string }).issuer);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the OIDC provider exited (${code}): ${stderr}`));
    });
  });
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A GET to an absolute URL with a cookie header, redirects not followed. */
function get(url: string, cookie: string): Promise<{ status: number; location: string | undefined; setCookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers: cookie ? { cookie } : {} }, (res) => {
      res.resume();
      res.on('end', () => {
        const raw = res.headers['set-cookie'];
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookies: Array.isArray(raw) ? raw : raw ? [raw] : [] });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Cookies by name, as a browser keeps them for one site (paths and expiry are not needed here). */
export class CookieJar {
  private readonly values = new Map<string, string>();

  take(setCookies: string[] | string | undefined): void {
    for (const header of Array.isArray(setCookies) ? setCookies : setCookies ? [setCookies] : []) {
      const [pair, ...attributes] = header.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.values.delete(name);
      else this.values.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  set(name: string, value: string): void {
    this.values.set(name, value);
  }

  header(): string {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * The visitor's browser at the provider: follows its redirects from the authorization URL, signs
 * in as `account` at the login step, and stops at the redirect back to the relying party, whose
 * URL it returns (the code, state and iss are in its query).
 */
export async function authorizeAtProvider(authorizationUrl: string, account: string): Promise<URL> {
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  const origin = url.origin;
  for (let hop = 0; hop < 10; hop++) {
    const res = await get(url.toString(), jar.header());
    jar.take(res.setCookies);
    if (!res.location) throw new Error(`the provider answered ${res.status} at ${url.pathname} without a redirect`);
    const next = new URL(res.location, url);
    if (next.origin !== origin) return next;
    if (next.pathname.startsWith('/interaction/')) next.searchParams.set('account', account);
    url = next;
  }
  throw new Error('too many redirects at the provider');
}

/** The app's side of a sign-in: `start` at a tenant's domain, and delivering the provider's answer. */
export class OidcBrowser {
  readonly jar = new CookieJar();

  /** `ip`: the visitor's address as a proxy states it (X-Forwarded-For; the api must trust it): a new one each by default. */
  constructor(
    private readonly baseUrl: string,
    private readonly ip = `10.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
  ) {}

  async start(host: string, next?: string): Promise<HttpResult> {
    const res = await call(this.baseUrl, 'GET', `/api/v1/auth/oidc/start${next ? `?next=${encodeURIComponent(next)}` : ''}`, { host, headers: this.cookies() });
    this.jar.take(res.headers['set-cookie']);
    return res;
  }

  /** Delivers the provider's redirect to the app: at the host it names, or at `host` instead. */
  async callback(redirect: URL, host = redirect.host): Promise<HttpResult> {
    const res = await call(this.baseUrl, 'GET', `${redirect.pathname}${redirect.search}`, { host, headers: this.cookies() });
    this.jar.take(res.headers['set-cookie']);
    return res;
  }

  private cookies(): Record<string, string> {
    const header = this.jar.header();
    return { 'x-forwarded-for': this.ip, ...(header ? { cookie: header } : {}) };
  }
}
