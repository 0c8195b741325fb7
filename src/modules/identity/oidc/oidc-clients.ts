import { Inject, Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import { BaseClient, custom, Issuer } from 'openid-client';
import { AppConfig, APP_CONFIG } from '@app/config';
import { guardedLookup, isPublicAddress, SecretBox } from '@app/providers';
import { webhookUrlProblem } from '../../webhooks/webhook-url';

/** Additional data of a sealed client secret: it opens only as that tenant's OIDC client secret. */
export function oidcSecretContext(tenantId: string): string {
  return `aigateway:oidc-client-secret:${tenantId}`;
}

const DISCOVERY_CACHE_MS = 5 * 60_000;

export class OidcIssuerError extends Error {}

/** Trailing slashes do not make another issuer (`https://id.example/` is `https://id.example`). */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * Tenants' identity providers through `openid-client` (v5, CommonJS): discovery (cached a few
 * minutes), clients, and the sealed client secrets (the channel keys' box, bound to the tenant).
 * Every request to a provider goes through the SSRF guard (no private, loopback or link-local
 * address unless OIDC_ALLOW_PRIVATE_NETWORKS) and ends within OIDC_TIMEOUT_MS.
 */
@Injectable()
export class OidcClients {
  private readonly box: SecretBox;
  private readonly discovered = new Map<string, { issuer: Issuer<BaseClient>; at: number }>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.box = new SecretBox(config.CHANNEL_ENCRYPTION_KEYS);
    // openid-client's own http client: the guarded lookup checks the address actually connected to.
    custom.setHttpOptionsDefaults({ timeout: config.OIDC_TIMEOUT_MS, lookup: guardedLookup(config.OIDC_ALLOW_PRIVATE_NETWORKS) as never });
  }

  seal(tenantId: string, secret: string): string {
    return this.box.encrypt(secret, oidcSecretContext(tenantId));
  }

  open(tenantId: string, sealed: string): string {
    return this.box.decrypt(sealed, oidcSecretContext(tenantId));
  }

  /** Why an issuer URL cannot be saved, or null. */
  issuerUrlProblem(url: string): string | null {
    const problem = webhookUrlProblem(url, this.config.OIDC_ALLOW_PRIVATE_NETWORKS);
    if (problem) return problem.replace(/^url/, 'issuerUrl');
    if (!this.config.OIDC_ALLOW_PRIVATE_NETWORKS && !url.startsWith('https://')) return 'issuerUrl must use https';
    if (new URL(url).search) return 'issuerUrl must not have a query';
    return null;
  }

  /**
   * The provider's metadata, read from its discovery document. Refused when the document names
   * another issuer than the one configured (OIDC Discovery 4.3), or an endpoint at a private
   * address (a literal address is not looked up, so the guarded lookup would not see it).
   */
  async issuer(issuerUrl: string): Promise<Issuer<BaseClient>> {
    const cached = this.discovered.get(issuerUrl);
    if (cached && Date.now() - cached.at < DISCOVERY_CACHE_MS) return cached.issuer;
    this.assertPublic(issuerUrl);
    const issuer = await Issuer.discover(issuerUrl);
    if (!sameIssuer(String(issuer.issuer), issuerUrl)) {
      throw new OidcIssuerError(`the discovery document names the issuer ${String(issuer.issuer)}, not ${issuerUrl}`);
    }
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint'] as const) {
      const endpoint = issuer.metadata[key];
      if (typeof endpoint === 'string') this.assertPublic(endpoint);
    }
    if (typeof issuer.metadata.authorization_endpoint !== 'string' || typeof issuer.metadata.token_endpoint !== 'string') {
      throw new OidcIssuerError('the discovery document has no authorization or token endpoint');
    }
    this.discovered.set(issuerUrl, { issuer, at: Date.now() });
    return issuer;
  }

  async client(tenantId: string, settings: { issuerUrl: string; clientId: string; clientSecretSealed: string }, redirectUri: string): Promise<BaseClient> {
    const issuer = await this.issuer(settings.issuerUrl);
    const client = new issuer.Client({
      client_id: settings.clientId,
      client_secret: this.open(tenantId, settings.clientSecretSealed),
      redirect_uris: [redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    client[custom.clock_tolerance] = 5;
    return client;
  }

  private assertPublic(url: string): void {
    if (this.config.OIDC_ALLOW_PRIVATE_NETWORKS) return;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OidcIssuerError('a provider URL cannot be parsed');
    }
    if (parsed.protocol !== 'https:') throw new OidcIssuerError('a provider URL is not https');
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !isPublicAddress(host)) throw new OidcIssuerError('a provider URL points to a private, loopback or link-local address');
  }
}
