import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { session, useRefresher } from './session';

export type Schemas = components['schemas'];

/** The header the api wants on a cookie-borne refresh (CSRF check). */
const CSRF_HEADER = 'X-AIGW-CSRF';

/** Calls that must never trigger a refresh-and-retry (they are the session's own). */
const SESSION_ROUTES = ['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/auth/invitations/accept'];

/**
 * fetch with the access token; a 401 gets one silent refresh through the cookie and one retry.
 * If the refresh fails too, the session is lost and the app goes to sign-in.
 */
async function authedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const withToken = (request: Request) => {
    if (session.token) request.headers.set('Authorization', `Bearer ${session.token}`);
    return request;
  };
  const response = await fetch(withToken(input));
  const path = new URL(input.url).pathname;
  if (response.status !== 401 || SESSION_ROUTES.includes(path) || !session.token) return response;
  if (!(await session.refresh())) return response;
  return fetch(withToken(retry));
}

/** The only way to the api: typed by the api's own OpenAPI document (schema.d.ts). */
export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: 'same-origin',
  fetch: authedFetch,
});

useRefresher(async () => {
  const { data } = await api.POST('/api/v1/auth/refresh', {
    body: {} as Schemas['RefreshRequest'],
    headers: { [CSRF_HEADER]: '1' },
  });
  return data;
});

/** The problem+json the api answers with on errors. */
export interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  status?: number;
  errors?: Array<{ field: string; messages: string[] }>;
}

/** Unwraps an openapi-fetch answer: the data, or throws the problem (for TanStack Query). */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) throw new ApiError(response.status, (error ?? {}) as Problem);
  return data as T;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}
