import { call, HttpResult } from './http';
import { TestTenant, Tokens } from './identity';

/** A sign-in attempt as a client makes it, without asserting the outcome. */
export function login(
  baseUrl: string,
  options: { host?: string; email: string; password: string; tenant?: string; ip?: string },
): Promise<HttpResult> {
  return call(baseUrl, 'POST', '/api/v1/auth/login', {
    host: options.host,
    headers: options.ip ? { 'x-forwarded-for': options.ip } : undefined,
    json: { email: options.email, password: options.password, ...(options.tenant ? { tenant: options.tenant } : {}) },
  });
}

export function refresh(baseUrl: string, refreshToken: string, host?: string): Promise<HttpResult> {
  return call(baseUrl, 'POST', '/api/v1/auth/refresh', { host, json: { refreshToken } });
}

export function me(baseUrl: string, accessToken: string, host?: string): Promise<HttpResult> {
  return call(baseUrl, 'GET', '/api/v1/me', { host, token: accessToken });
}

/** Audit entries of the caller's reach, newest first (filters as query parameters). */
export async function auditLog(
  baseUrl: string,
  tenant: TestTenant,
  tokens: Tokens,
  query: Record<string, string> = {},
): Promise<Array<Record<string, any>>> {
  const qs = new URLSearchParams({ limit: '200', ...query }).toString();
  const res = await call(baseUrl, 'GET', `/api/v1/audit-log?${qs}`, { host: tenant.domain, token: tokens.accessToken });
  if (res.status !== 200) throw new Error(`audit log read failed: ${res.status} ${res.text}`);
  return res.body.items;
}

/** The one-time token in an invitation or reset mail (from its link). */
export function tokenInMail(text: string): string {
  const match = /token=([^\s&]+)/.exec(text);
  if (!match) throw new Error(`no token in mail:\n${text}`);
  return decodeURIComponent(match[1]);
}
