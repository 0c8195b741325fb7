import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AddressLookup, guardedLookup } from '@app/providers';
import { LookupAddress } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { Agent, request } from 'undici';

/** The TXT record a reseller creates: `_aigateway-challenge.<domain>` holding the token. */
export const CHALLENGE_LABEL = '_aigateway-challenge';
/** The HTTP token file: `http://<domain>/.well-known/aigateway-verification/<token>` answering the token. */
export const WELL_KNOWN_PATH = '/.well-known/aigateway-verification/';
/** Bytes of the token file read at most (the token is 43 characters). */
const MAX_BODY_BYTES = 1024;

export type DomainCheck = { verified: true; method: 'dns' | 'http' } | { verified: false; reason: string };

function blockedAddress(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('the domain resolves to an address that is not allowed');
  error.code = 'ERR_DOMAIN_BLOCKED_ADDRESS';
  return error;
}

function parseServers(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Checks that whoever runs a domain agrees to point it at this platform: the TXT record
 * `_aigateway-challenge.<domain>` holds the token, or the domain's current web server answers the
 * token file with it. Both are bounded in time (DOMAIN_VERIFY_TIMEOUT_MS) and size; the HTTP fetch
 * connects only to public addresses (the guarded lookup of webhooks and providers) unless
 * DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS, and follows no redirect.
 */
@Injectable()
export class DomainVerifier implements OnModuleDestroy {
  private readonly servers: string[];
  private readonly agent: Agent;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.servers = parseServers(config.DOMAIN_VERIFY_DNS_SERVERS);
    const addresses: AddressLookup | undefined = this.servers.length > 0 ? (host, _options, callback) => void this.addresses(host).then((a) => callback(null, a), (e) => callback(e, [])) : undefined;
    this.agent = new Agent({
      connections: 4,
      pipelining: 0,
      connect: { timeout: config.DOMAIN_VERIFY_TIMEOUT_MS, lookup: guardedLookup(config.DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS, blockedAddress, addresses) as never },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.close();
  }

  async check(domain: string, token: string): Promise<DomainCheck> {
    const dns = await this.checkTxt(domain, token);
    if (dns === true) return { verified: true, method: 'dns' };
    const http = await this.checkHttp(domain, token);
    if (http === true) return { verified: true, method: 'http' };
    return { verified: false, reason: `${dns}; ${http}` };
  }

  /** true, or why not (no secret in it: the token is public by design, addresses are not named). */
  async checkTxt(domain: string, token: string): Promise<true | string> {
    const resolver = this.resolver();
    const name = `${CHALLENGE_LABEL}.${domain}`;
    const timer = setTimeout(() => resolver.cancel(), this.config.DOMAIN_VERIFY_TIMEOUT_MS);
    try {
      const records = await resolver.resolveTxt(name);
      if (records.some((chunks) => chunks.join('').trim() === token)) return true;
      return `TXT ${name} does not hold the token`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOTFOUND' || code === 'ENODATA' ? `no TXT record ${name}` : `TXT lookup of ${name} failed (${code ?? 'error'})`;
    } finally {
      clearTimeout(timer);
    }
  }

  async checkHttp(domain: string, token: string): Promise<true | string> {
    const port = this.config.DOMAIN_VERIFY_HTTP_PORT;
    const url = `http://${domain}${port === 80 ? '' : `:${port}`}${WELL_KNOWN_PATH}${token}`;
    const timeoutMs = this.config.DOMAIN_VERIFY_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        headers: { accept: 'text/plain', 'user-agent': 'AIGateway-DomainVerification/1' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal,
      });
      if (response.statusCode !== 200) {
        await response.body.dump().catch(() => undefined);
        return `the token file answered ${response.statusCode}`;
      }
      let body = '';
      for await (const chunk of response.body) {
        body += (chunk as Buffer).toString('utf8');
        if (body.length > MAX_BODY_BYTES) {
          response.body.destroy();
          return 'the token file is too large';
        }
      }
      return body.trim() === token ? true : 'the token file does not hold the token';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ERR_DOMAIN_BLOCKED_ADDRESS') return 'the domain resolves to an address that is not allowed';
      if (signal.aborted) return 'the token file did not answer in time';
      return `the token file could not be fetched (${code ?? 'error'})`;
    }
  }

  private resolver(): Resolver {
    const resolver = new Resolver({ timeout: Math.max(100, Math.floor(this.config.DOMAIN_VERIFY_TIMEOUT_MS / 2)), tries: 2 });
    if (this.servers.length > 0) resolver.setServers(this.servers);
    return resolver;
  }

  /** A and AAAA records through the configured servers (only when DOMAIN_VERIFY_DNS_SERVERS is set). */
  private async addresses(host: string): Promise<LookupAddress[]> {
    const resolver = this.resolver();
    const timer = setTimeout(() => resolver.cancel(), this.config.DOMAIN_VERIFY_TIMEOUT_MS);
    try {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const list: LookupAddress[] = [
        ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ];
      if (list.length === 0) {
        const error: NodeJS.ErrnoException = new Error(`no address for ${host}`);
        error.code = 'ENOTFOUND';
        throw error;
      }
      return list;
    } finally {
      clearTimeout(timer);
    }
  }
}
