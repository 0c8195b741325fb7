import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Identity for a public product (issue 25):
 * - `tenant_identity_settings`: per tenant, whether visitors may sign up (off by default), from
 *   which e-mail domains, with which bonus; whether staff must use a second factor.
 * - users: when the address was verified, when the account was deleted (personal fields are then
 *   pseudonymised; the row stays so the ledger and usage keep their customer), and the TOTP secret
 *   (sealed, never returned), when it was confirmed and the last time step used (no replay).
 * - `user_recovery_codes`: second-factor recovery codes, SHA-256 digests only, each usable once.
 * - one-time tokens gain two purposes: e-mail verification and the sign-in second-factor step.
 */
export class SelfServiceIdentity1763769602500 implements MigrationInterface {
  name = 'SelfServiceIdentity1763769602500';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenant_identity_settings (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        sign_up_enabled boolean NOT NULL DEFAULT false,
        sign_up_domains text[] NOT NULL DEFAULT '{}',
        sign_up_bonus numeric(30, 9) NOT NULL DEFAULT 0 CHECK (sign_up_bonus >= 0),
        require_staff_two_factor boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by uuid
      )`);
    await enableTenantRls(queryRunner, 'tenant_identity_settings');

    await queryRunner.query(`ALTER TABLE users ADD COLUMN email_verified_at timestamptz`);
    await queryRunner.query(`ALTER TABLE users ADD COLUMN deleted_at timestamptz`);
    await queryRunner.query(`ALTER TABLE users ADD COLUMN totp_secret_sealed text`);
    await queryRunner.query(`ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz`);
    await queryRunner.query(`ALTER TABLE users ADD COLUMN totp_last_step bigint`);
    // A deleted account is never active again.
    await queryRunner.query(`ALTER TABLE users ADD CONSTRAINT users_deleted_is_disabled CHECK (deleted_at IS NULL OR status = 'disabled')`);

    await queryRunner.query(`
      CREATE TABLE user_recovery_codes (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        code_hash bytea NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX user_recovery_codes_key ON user_recovery_codes (tenant_id, user_id, code_hash)`);
    await enableTenantRls(queryRunner, 'user_recovery_codes');

    await queryRunner.query(`ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check`);
    await queryRunner.query(
      `ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
        CHECK (purpose IN ('invitation', 'password_reset', 'email_verification', 'second_factor'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM one_time_tokens WHERE purpose IN ('email_verification', 'second_factor')`);
    await queryRunner.query(`ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check`);
    await queryRunner.query(`ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('invitation', 'password_reset'))`);
    await queryRunner.query(`DROP TABLE user_recovery_codes`);
    await queryRunner.query(`ALTER TABLE users DROP CONSTRAINT users_deleted_is_disabled`);
    for (const column of ['totp_last_step', 'totp_enabled_at', 'totp_secret_sealed', 'deleted_at', 'email_verified_at']) {
      await queryRunner.query(`ALTER TABLE users DROP COLUMN ${column}`);
    }
    await queryRunner.query(`DROP TABLE tenant_identity_settings`);
  }
}
