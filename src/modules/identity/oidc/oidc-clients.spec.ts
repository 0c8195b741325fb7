import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadConfig } from '@app/config';
import { OidcClients, OidcIssuerError, sameIssuer } from './oidc-clients';

/**
 * The provider side of OIDC settings without a provider: the SSRF guard (no private, loopback or
 * link-local address, https only, unless OIDC_ALLOW_PRIVATE_NETWORKS) and the sealed secret.
 */
describe('OidcClients', () => {
  const guarded = () => new OidcClients(loadConfig({ ...process.env, OIDC_ALLOW_PRIVATE_NETWORKS: 'false', OIDC_TIMEOUT_MS: '2000' }));
  let server: Server;
  let hits = 0;
  let port = 0;

  beforeAll(async () => {
    // A discovery document at loopback: the guard must never let a request reach it.
    server = createServer((_req, res) => {
      hits += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: `http://localhost:${port}`, authorization_endpoint: 'x', token_endpoint: 'y', jwks_uri: 'z' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses private addresses and plain http when saved', () => {
    const clients = guarded();
    expect(clients.issuerUrlProblem('https://10.0.0.5/realms/x')).toMatch(/private, loopback or link-local/);
    expect(clients.issuerUrlProblem('https://[::1]/')).toMatch(/private, loopback or link-local/);
    expect(clients.issuerUrlProblem('http://login.example.com')).toBe('issuerUrl must use https');
    expect(clients.issuerUrlProblem('https://user:pw@login.example.com')).toMatch(/credentials/);
    expect(clients.issuerUrlProblem('https://login.example.com?x=1')).toBe('issuerUrl must not have a query');
    expect(clients.issuerUrlProblem('https://login.example.com/realms/acme')).toBeNull();
  });

  it('never connects to a private address, literal or looked up', async () => {
    const clients = guarded();
    await expect(clients.issuer(`https://127.0.0.1:${port}`)).rejects.toBeInstanceOf(OidcIssuerError);
    // A name that resolves to loopback: refused by the lookup of the socket itself.
    await expect(clients.issuer(`https://localhost:${port}`)).rejects.toThrow(/not allowed/);
    expect(hits).toBe(0);
  });

  it('seals the client secret for one tenant', () => {
    const clients = guarded();
    const sealed = clients.seal('tenant-a', 'the-client-secret');
    expect(sealed).not.toContain('the-client-secret');
    expect(clients.open('tenant-a', sealed)).toBe('the-client-secret');
    expect(() => clients.open('tenant-b', sealed)).toThrow();
  });

  it('compares issuers without a trailing slash', () => {
    expect(sameIssuer('https://id.example/', 'https://id.example')).toBe(true);
    expect(sameIssuer('https://id.example/a', 'https://id.example')).toBe(false);
  });
});
