import { createHash } from 'node:crypto';
import { JWT } from 'google-auth-library';
import { connectError, openAIError, UpstreamError } from './errors';

/** Google's OAuth token endpoint; google-auth-library always posts service-account grants here. */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

function badKey(): UpstreamError {
  return new UpstreamError('auth', 502, openAIError('The channel key is not a Google service-account key (JSON with client_email and private_key).', 'api_error', 'upstream_auth_failed'));
}

export function parseServiceAccountKey(text: string): ServiceAccountKey {
  let parsed: Partial<ServiceAccountKey>;
  try {
    parsed = JSON.parse(text) as Partial<ServiceAccountKey>;
  } catch {
    throw badKey();
  }
  if (typeof parsed?.client_email !== 'string' || typeof parsed.private_key !== 'string') throw badKey();
  return parsed as ServiceAccountKey;
}

/**
 * Access tokens for service-account keys, minted by google-auth-library's JWT client (an RS256
 * assertion exchanged at the token endpoint) and cached by it until shortly before they expire:
 * one client per key, so concurrent requests of a channel share one token. A key's own
 * `token_uri` is honoured only when it is Google's, or private networks are allowed (tests point
 * it at a fake); the assertion's audience stays Google's endpoint, as the library sets it.
 */
export class GoogleTokenCache {
  private readonly clients = new Map<string, JWT>();

  async token(keyText: string, allowPrivateNetworks: boolean): Promise<string> {
    const id = createHash('sha256').update(keyText).digest('base64url');
    let client = this.clients.get(id);
    if (!client) {
      const key = parseServiceAccountKey(keyText);
      const tokenUri = key.token_uri ?? GOOGLE_TOKEN_URL;
      if (tokenUri !== GOOGLE_TOKEN_URL && !allowPrivateNetworks) throw badKey();
      // Node's own fetch: gaxios would otherwise load node-fetch with a dynamic import.
      client = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [SCOPE], transporterOptions: { fetchImplementation: fetch } });
      if (tokenUri !== GOOGLE_TOKEN_URL) {
        client.transporter.interceptors.request.add({
          resolved: async (config) => {
            if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
            return config;
          },
        });
      }
      if (this.clients.size >= 256) this.clients.clear();
      this.clients.set(id, client);
    }
    try {
      const { token } = await client.getAccessToken();
      if (!token) throw new Error('no token');
      return token;
    } catch (error) {
      const status = (error as { response?: { status?: number }; status?: number }).response?.status ?? (error as { status?: number }).status;
      // The token endpoint refused the key (revoked, deleted, wrong): the key is at fault.
      if (status === 400 || status === 401 || status === 403) {
        this.clients.delete(id);
        throw new UpstreamError('auth', 502, openAIError('The upstream refused the channel credentials.', 'api_error', 'upstream_auth_failed'), status);
      }
      throw connectError();
    }
  }
}

export const googleTokens = new GoogleTokenCache();
