import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls } from './lib/rls';

/**
 * Sessions (refresh tokens in rotation families), one-time tokens (invitations, password resets)
 * and the audit log. Secrets are stored only as SHA-256 digests.
 */
export class Identity1763769600200 implements MigrationInterface {
  name = 'Identity1763769600200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        family_id uuid NOT NULL,
        token_hash bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        ip text,
        user_agent text,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash)`);
    await queryRunner.query(`CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id)`);
    await queryRunner.query(`CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (tenant_id, user_id)`);
    await queryRunner.query(`CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at)`);
    await enableTenantRls(queryRunner, 'refresh_tokens');

    await queryRunner.query(`
      CREATE TABLE one_time_tokens (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        purpose text NOT NULL CHECK (purpose IN ('invitation', 'password_reset')),
        token_hash bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX one_time_tokens_hash_key ON one_time_tokens (token_hash)`);
    await queryRunner.query(`CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (tenant_id, user_id, purpose)`);
    await enableTenantRls(queryRunner, 'one_time_tokens');

    await queryRunner.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        actor_user_id uuid,
        actor_tenant_id uuid,
        action text NOT NULL,
        subject_type text NOT NULL,
        subject_id text,
        changes jsonb,
        ip text,
        user_agent text,
        request_id text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX audit_log_tenant_time_idx ON audit_log (tenant_id, created_at DESC, id DESC)`);
    // Append-only for the application role: it may insert and read, never change or delete.
    await enableTenantRls(queryRunner, 'audit_log', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ${APP_ROLE}`);
    await queryRunner.query(`COMMENT ON TABLE audit_log IS 'append-only'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_log`);
    await queryRunner.query(`DROP TABLE one_time_tokens`);
    await queryRunner.query(`DROP TABLE refresh_tokens`);
  }
}
