import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * OpenID Connect sign-in per tenant (issue 25): the owner's identity provider. The client secret
 * is sealed (AES-256-GCM under CHANNEL_ENCRYPTION_KEYS, bound to the tenant) and never returned.
 * Sign-in flows in progress (state, nonce, PKCE verifier) live in Redis, not here.
 */
export class OidcSignIn1763769603000 implements MigrationInterface {
  name = 'OidcSignIn1763769603000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenant_oidc_settings (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        enabled boolean NOT NULL DEFAULT false,
        display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 60),
        issuer_url text NOT NULL CHECK (length(issuer_url) BETWEEN 1 AND 2048),
        client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 512),
        client_secret_sealed text NOT NULL,
        create_accounts boolean NOT NULL DEFAULT false,
        allowed_domains text[] NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by uuid
      )`);
    await enableTenantRls(queryRunner, 'tenant_oidc_settings');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE tenant_oidc_settings`);
  }
}
