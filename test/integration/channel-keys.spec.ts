import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { SecretBox } from '@app/providers';
import { runCli } from '../../src/cli';
import { keyContext } from '../../src/modules/channels/channel-secrets';
import { paymentSecretContext } from '../../src/modules/topups/payment-secrets';
import { webhookSecretContext } from '../../src/modules/webhooks/webhook-secrets';
import { testConfig } from '../support/app';
import { isolatedDatabase } from '../support/db';

/**
 * Rotating the encryption of upstream keys: with a new key first in CHANNEL_ENCRYPTION_KEYS,
 * `cli reencrypt-channel-keys` moves every stored key to it (the old key may then go), changes
 * nothing on a second run, and stops with nothing changed if a key cannot be decrypted. It moves
 * every row, so it runs in a database of its own.
 */
describe('cli reencrypt-channel-keys', () => {
  const oldKey = SecretBox.generateKey('old-key');
  const newKey = SecretBox.generateKey('new-key');
  let system: Client;
  let lines: string[];
  const out = (line: string) => lines.push(line);
  const channelId = uuidv7();
  const secrets = ['sk-rotate-one-0000000000001', 'sk-rotate-two-0000000000002'];
  const endpointId = uuidv7();
  const signingSecret = 'whsec_rotate-0000000000000000000000000000';
  const previousSigningSecret = 'whsec_before-rotation-00000000000000000000';

  const stripeKey = 'sk_test_rotate0000000000001';
  const epayKey = 'epay-rotate-key-000000000001';
  let paymentTenant: string;
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;

  beforeAll(async () => {
    database = await isolatedDatabase();
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    await system.query(`INSERT INTO channels (id, name, provider, base_url) VALUES ($1, $2, 'openai', 'https://api.example.com/v1')`, [channelId, `rotate-${channelId}`]);
    const box = new SecretBox([oldKey]);
    for (const [position, secret] of secrets.entries()) {
      await system.query(`INSERT INTO channel_keys (channel_id, position, ciphertext, last4) VALUES ($1, $2, $3, $4)`, [channelId, position, box.encrypt(secret, keyContext(channelId)), secret.slice(-4)]);
    }
    // A webhook endpoint's signing secret is sealed with the same keys (WebhookSecrets).
    const tenant = (await system.query(`INSERT INTO tenants (id, slug, name, type) VALUES ($1, $2, 'Rotate', 'reseller') RETURNING id`, [uuidv7(), `rotate-${endpointId.slice(-8)}`])).rows[0].id;
    // ... and so is the secret a rotation replaced, while it still signs.
    await system.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at)
       VALUES ($1, $2, 'https://hooks.example.com/x', '{key.created}', $3, $4, now() + interval '1 day')`,
      [endpointId, tenant, box.encrypt(signingSecret, webhookSecretContext(endpointId)), box.encrypt(previousSigningSecret, webhookSecretContext(endpointId))],
    );
    // ... and so are a tenant's payment credentials (PaymentSecrets), bound to tenant and field.
    paymentTenant = tenant;
    await system.query(`INSERT INTO payment_settings (tenant_id, stripe_secret_key_ciphertext, epay_key_ciphertext) VALUES ($1, $2, $3)`, [
      tenant,
      box.encrypt(stripeKey, paymentSecretContext(tenant, 'stripe_secret_key')),
      box.encrypt(epayKey, paymentSecretContext(tenant, 'epay_key')),
    ]);
  });

  afterAll(async () => {
    await system.query(`DELETE FROM channels WHERE id = $1`, [channelId]);
    await system.end();
  });

  beforeEach(() => {
    lines = [];
  });

  const stored = async () => (await system.query(`SELECT ciphertext FROM channel_keys WHERE channel_id = $1 ORDER BY position`, [channelId])).rows.map((r) => r.ciphertext as string);
  const storedSigningSecret = async () => (await system.query(`SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1`, [endpointId])).rows[0].secret_ciphertext as string;
  const storedPreviousSecret = async () => (await system.query(`SELECT previous_secret_ciphertext FROM webhook_endpoints WHERE id = $1`, [endpointId])).rows[0].previous_secret_ciphertext as string;

  it('refuses to run when a stored key cannot be decrypted, changing nothing', async () => {
    const before = await stored();
    const signingBefore = await storedSigningSecret();
    await expect(runCli(['reencrypt-channel-keys'], testConfig({ ...database, CHANNEL_ENCRYPTION_KEYS: JSON.stringify([newKey]) }), out)).rejects.toThrow(/cannot decrypt/);
    expect(await stored()).toEqual(before);
    expect(await storedSigningSecret()).toBe(signingBefore);
  });

  it('moves every key to the first encryption key, then has nothing left to do', async () => {
    const config = testConfig({ ...database, CHANNEL_ENCRYPTION_KEYS: JSON.stringify([newKey, oldKey]) });
    expect(await runCli(['reencrypt-channel-keys'], config, out)).toBe(0);
    expect(lines.join('\n')).toMatch(/re-encrypted (\d+) of \d+ upstream keys, 1 of 1 webhook signing secrets and 2 of 2 payment secrets with key "new-key"/);
    const payment = (await system.query(`SELECT stripe_secret_key_ciphertext, epay_key_ciphertext FROM payment_settings WHERE tenant_id = $1`, [paymentTenant])).rows[0];
    const onlyNewBox = new SecretBox([newKey]);
    expect(onlyNewBox.decrypt(payment.stripe_secret_key_ciphertext, paymentSecretContext(paymentTenant, 'stripe_secret_key'))).toBe(stripeKey);
    expect(onlyNewBox.decrypt(payment.epay_key_ciphertext, paymentSecretContext(paymentTenant, 'epay_key'))).toBe(epayKey);
    expect(lines.join('\n')).not.toContain(stripeKey);
    const after = await stored();
    const onlyNew = new SecretBox([newKey]);
    expect(after.map((c) => SecretBox.kidOf(c))).toEqual(['new-key', 'new-key']);
    expect(after.map((c) => onlyNew.decrypt(c, keyContext(channelId)))).toEqual(secrets);
    // The webhook secret moved too, still bound to its endpoint, and was never printed.
    const signing = await storedSigningSecret();
    expect(SecretBox.kidOf(signing)).toBe('new-key');
    expect(onlyNew.decrypt(signing, webhookSecretContext(endpointId))).toBe(signingSecret);
    const previous = await storedPreviousSecret();
    expect(SecretBox.kidOf(previous)).toBe('new-key');
    expect(onlyNew.decrypt(previous, webhookSecretContext(endpointId))).toBe(previousSigningSecret);
    expect(lines.join('\n')).not.toContain(previousSigningSecret);
    expect(lines.join('\n')).not.toContain(secrets[0]);
    expect(lines.join('\n')).not.toContain(signingSecret);

    lines = [];
    expect(await runCli(['reencrypt-channel-keys'], config, out)).toBe(0);
    expect(lines.join('\n')).toMatch(/re-encrypted 0 of \d+ upstream keys, 0 of 1 webhook signing secrets and 0 of 2 payment secrets/);
    expect(await stored()).toEqual(after);
    expect(await storedSigningSecret()).toBe(signing);
  });

  it('prints a fresh 32-byte key with generate-channel-key', async () => {
    expect(await runCli(['generate-channel-key'], {} as never, out)).toBe(0);
    const key = JSON.parse(lines[0]);
    expect(Buffer.from(key.k, 'base64url')).toHaveLength(32);
    expect(() => new SecretBox([key])).not.toThrow();
  });
});
