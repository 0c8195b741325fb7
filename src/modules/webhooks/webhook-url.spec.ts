import { webhookUrlProblem } from './webhook-url';
import { generateWebhookSecret, secretKey, signatureOf } from './webhook-signature';

describe('webhook URLs when saved', () => {
  it('accepts public http and https URLs', () => {
    for (const url of ['https://example.com/hooks', 'http://hooks.example.com:8080/a?b=c', 'https://8.8.8.8/x']) {
      expect({ url, problem: webhookUrlProblem(url, false) }).toEqual({ url, problem: null });
    }
  });

  it.each([
    ['ftp://example.com/x', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['gopher://example.com', /http or https/],
    ['https://user:pass@example.com/', /credentials/],
    ['https://token@example.com/', /credentials/],
    ['https://example.com/#frag', /fragment/],
    ['example.com/hook', /absolute/],
    ['https://exa mple.com/', /spaces/],
    ['http://127.0.0.1/', /private/],
    ['http://169.254.169.254/latest/meta-data', /private/],
    ['http://10.0.0.1/', /private/],
    ['http://[::1]/', /private/],
    ['http://[::ffff:127.0.0.1]/', /private/],
    ['http://0.0.0.0/', /private/],
  ])('refuses %s', (url, message) => {
    expect(webhookUrlProblem(url, false)).toMatch(message);
  });

  it('refuses URLs longer than 2048 characters', () => {
    expect(webhookUrlProblem(`https://example.com/${'a'.repeat(2050)}`, false)).toMatch(/at most/);
  });

  it('lets private literal addresses through only when configured', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/', true)).toBeNull();
    expect(webhookUrlProblem('https://user:pass@127.0.0.1/', true)).toMatch(/credentials/);
  });
});

describe('webhook signature', () => {
  it('is HMAC-SHA256 over id.timestamp.body keyed by the decoded secret (Standard Webhooks test vector)', () => {
    // From the Standard Webhooks specification's reference libraries.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const signature = signatureOf(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('generates 32-byte secrets with the whsec_ prefix', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(secret)).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });
});
