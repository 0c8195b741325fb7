import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { createUpstreamAgent, isPublicAddress, sendUpstream } from './http';
import { last4, SecretBox, SecretBoxError } from './secret-box';
import { UpstreamError } from './errors';

describe('SecretBox', () => {
  it('encrypts with the first key, decrypts with any, and binds the ciphertext to its channel', () => {
    const oldKey = SecretBox.generateKey('old');
    const newKey = SecretBox.generateKey('new');
    const before = new SecretBox([oldKey]);
    const sealed = before.encrypt('sk-upstream-secret', 'channel-1');
    expect(sealed).not.toContain('sk-upstream-secret');
    expect(SecretBox.kidOf(sealed)).toBe('old');
    expect(before.encrypt('sk-upstream-secret', 'channel-1')).not.toBe(sealed); // fresh IV each time

    const rotated = new SecretBox([newKey, oldKey]);
    expect(rotated.decrypt(sealed, 'channel-1')).toBe('sk-upstream-secret');
    expect(SecretBox.kidOf(rotated.encrypt('x', 'c'))).toBe('new');
    expect(() => rotated.decrypt(sealed, 'channel-2')).toThrow(SecretBoxError);
    expect(() => new SecretBox([newKey]).decrypt(sealed, 'channel-1')).toThrow(SecretBoxError);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => rotated.decrypt(tampered, 'channel-1')).toThrow(SecretBoxError);
    expect(() => new SecretBox([{ kid: 'short', k: 'abc' }])).toThrow(/32 bytes/);
    expect(last4('sk-abcdef1234')).toBe('1234');
  });
});

describe('upstream network guard', () => {
  let server: ReturnType<typeof createServer>;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('knows public from private, loopback, link-local and mapped addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) expect(isPublicAddress(address)).toBe(true);
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
  });

  const send = (url: string, allowPrivateNetworks: boolean) => {
    const agent = createUpstreamAgent({ connectTimeoutMs: 1000, allowPrivateNetworks });
    return sendUpstream(agent, { url, headers: {}, body: '{}' }, { firstByteMs: 1000, totalMs: 2000, allowPrivateNetworks }).finally(() => agent.close());
  };

  it('refuses a literal private address and a name that resolves to one, at connect time, unless allowed', async () => {
    for (const url of [`http://127.0.0.1:${port}/x`, `http://localhost:${port}/x`, `http://[::1]:${port}/x`]) {
      const error = await send(url, false).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).kind).toBe('blocked_address');
      // Neither the address nor the port is in what a client could see.
      expect(JSON.stringify((error as UpstreamError).body)).not.toMatch(/127\.0\.0\.1|localhost|::1|\d{4,5}/);
    }
    const allowed = await send(`http://localhost:${port}/x`, true);
    expect(allowed.status).toBe(200);
    allowed.body.resume();
  });

  it('never follows a redirect', async () => {
    const res = await send(`http://127.0.0.1:${port}/redirect`, true);
    expect(res.status).toBe(302);
    res.body.resume();
  });
});
