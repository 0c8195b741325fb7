import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Risk rules and flags (issue 26, abuse controls). A tenant's owner sets, per rule, whether it is
 * on, its threshold and what a trigger does; metering evaluates the enabled rules on each usage
 * batch, in the batch's transaction, and records a flag per rule, subject and window (unique: a
 * window is flagged once however many batches see it over the threshold). A flag whose action
 * suspends keys lists the keys it suspended (`suspended_key_ids`), so lifting it reactivates exactly
 * those. Keys gain the status `suspended`: refused on /v1 until the owner resolves the flag.
 */
export class RiskRules1763769603500 implements MigrationInterface {
  name = 'RiskRules1763769603500';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$ DECLARE c record; BEGIN
        FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'api_keys'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%' LOOP
          EXECUTE format('ALTER TABLE api_keys DROP CONSTRAINT %I', c.conname);
        END LOOP;
      END $$`);
    await queryRunner.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_status_check CHECK (status IN ('active', 'disabled', 'revoked', 'suspended'))`);
    await queryRunner.query(`
      CREATE TABLE risk_rules (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        rule text NOT NULL CHECK (rule IN ('key_velocity', 'key_distinct_ips', 'new_customer_spend', 'balance_drop')),
        enabled boolean NOT NULL DEFAULT false,
        threshold numeric(30,9) NOT NULL CHECK (threshold > 0),
        action text NOT NULL CHECK (action IN ('flag', 'suspend_key', 'suspend_customer_keys')),
        updated_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, rule),
        CHECK ((rule IN ('key_velocity', 'key_distinct_ips') AND action IN ('flag', 'suspend_key'))
            OR (rule IN ('new_customer_spend', 'balance_drop') AND action IN ('flag', 'suspend_customer_keys')))
      )`);
    await enableTenantRls(queryRunner, 'risk_rules');
    await queryRunner.query(`
      CREATE TABLE risk_flags (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        rule text NOT NULL,
        subject_type text NOT NULL CHECK (subject_type IN ('key', 'customer')),
        subject_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        observed numeric(30,9) NOT NULL,
        threshold numeric(30,9) NOT NULL,
        action text NOT NULL,
        suspended_key_ids uuid[] NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        resolved_by uuid,
        resolution_note text,
        reactivated_key_ids uuid[],
        UNIQUE (tenant_id, rule, subject_id, window_start)
      )`);
    await queryRunner.query(`CREATE INDEX risk_flags_tenant_time_idx ON risk_flags (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX risk_flags_open_idx ON risk_flags (tenant_id, created_at DESC) WHERE status = 'open'`);
    await enableTenantRls(queryRunner, 'risk_flags');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE risk_flags`);
    await queryRunner.query(`DROP TABLE risk_rules`);
    await queryRunner.query(`UPDATE api_keys SET status = 'disabled' WHERE status = 'suspended'`);
    await queryRunner.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_status_check`);
    await queryRunner.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_status_check CHECK (status IN ('active', 'disabled', 'revoked'))`);
  }
}
