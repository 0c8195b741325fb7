/**
 * The browser session: the access token lives in this module's memory only (never in storage);
 * the refresh token is the api's HttpOnly `__Host-` cookie, which page script never sees.
 * A refresh happens shortly before the access token expires and after any 401; when the cookie's
 * session is gone (revoked, expired, reused) the listeners hear `lost` and the app shows sign-in.
 */
export interface AccessToken {
  accessToken: string;
  expiresIn: number;
}

type Listener = (event: 'signed-in' | 'lost') => void;

const REFRESH_BEFORE_EXPIRY_MS = 30_000;

let token: string | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<boolean> | undefined;
const listeners = new Set<Listener>();

export const session = {
  get token(): string | undefined {
    return token;
  },

  /** Keeps a new access token and schedules the next silent refresh. */
  accept(pair: AccessToken): void {
    token = pair.accessToken;
    if (timer) clearTimeout(timer);
    const delay = Math.max(pair.expiresIn * 1000 - REFRESH_BEFORE_EXPIRY_MS, 5_000);
    timer = setTimeout(() => void session.refresh(), delay);
    listeners.forEach((listener) => listener('signed-in'));
  },

  /** Forgets the access token (sign-out, or the session is gone). */
  clear(lost = false): void {
    token = undefined;
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lost) listeners.forEach((listener) => listener('lost'));
  },

  /** One refresh at a time: callers that arrive while one runs share its answer. */
  refresh(): Promise<boolean> {
    inFlight ??= refreshWithCookie().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  },

  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** Set by the api client module (it owns the typed call); kept here to avoid an import cycle. */
let refresher: () => Promise<AccessToken | undefined> = async () => undefined;
export function useRefresher(fn: () => Promise<AccessToken | undefined>): void {
  refresher = fn;
}

async function refreshWithCookie(): Promise<boolean> {
  const hadToken = token !== undefined;
  try {
    const pair = await refresher();
    if (pair) {
      session.accept(pair);
      return true;
    }
  } catch {
    // A network failure: treated as a lost session only when nothing else works.
  }
  session.clear(hadToken);
  return false;
}
