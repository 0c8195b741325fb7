import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

/**
 * Manual adjustments of closed statements (platform finance). A closed statement never changes: a
 * correction is an adjustment row plus its own balanced `correction` ledger transaction
 * (reseller_settled +amount in the reseller's books, platform_revenue -amount in the platform's),
 * written at once; the reseller's next statement then reports it (column `adjustments`, one line of
 * kind 'adjustment' per corrected statement) without moving the money a second time.
 *
 * Which statement reports an adjustment: the one whose cutoff window (previous_closed_at, closed_at]
 * holds its created_at. As for usage records, created_at must be exact, so every INSERT takes the
 * shared advisory lock that the close's `settlement_cutoff()` takes exclusively (statement-level
 * trigger, migration Statements) and rows get clock_timestamp() after it.
 */
export class StatementAdjustments1763769600860 implements MigrationInterface {
  name = 'StatementAdjustments1763769600860';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE statement_adjustments (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        corrects_statement_id uuid NOT NULL REFERENCES statements (id) ON DELETE RESTRICT,
        amount numeric(30, 9) NOT NULL CHECK (amount <> 0),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        created_by uuid,
        ledger_transaction_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await queryRunner.query(`CREATE INDEX statement_adjustments_tenant_created_idx ON statement_adjustments (tenant_id, created_at)`);
    await queryRunner.query(`CREATE INDEX statement_adjustments_corrects_idx ON statement_adjustments (corrects_statement_id, created_at)`);
    await enableTenantRls(queryRunner, 'statement_adjustments', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON statement_adjustments FROM ${APP_ROLE}, ${SYSTEM_ROLE}`);
    await queryRunner.query(`COMMENT ON TABLE statement_adjustments IS 'append-only'`);
    // The same function as usage_records: the shared side of the cutoff lock, once per INSERT.
    await queryRunner.query(`
      CREATE TRIGGER statement_adjustments_before_insert BEFORE INSERT ON statement_adjustments
      FOR EACH STATEMENT EXECUTE FUNCTION usage_records_before_insert()`);
    await queryRunner.query(`
      CREATE TRIGGER statement_adjustments_immutable BEFORE UPDATE OR DELETE ON statement_adjustments
      FOR EACH ROW EXECUTE FUNCTION statements_immutable()`);
    await queryRunner.query(`
      CREATE TRIGGER statement_adjustments_no_truncate BEFORE TRUNCATE ON statement_adjustments
      FOR EACH STATEMENT EXECUTE FUNCTION statements_immutable()`);

    // A constant default: no table rewrite, and no UPDATE of the (immutable) rows.
    await queryRunner.query(`ALTER TABLE statements ADD COLUMN adjustments numeric(30, 9) NOT NULL DEFAULT 0`);
    await this.lineKinds(queryRunner, true);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.lineKinds(queryRunner, false);
    await queryRunner.query(`ALTER TABLE statements DROP COLUMN adjustments`);
    await queryRunner.query(`DROP TABLE statement_adjustments`);
  }

  /**
   * The statement_lines CHECKs on kind and corrects_statement_id were created unnamed in the
   * Statements migration: find their generated names, drop them, and add named ones.
   */
  private async lineKinds(queryRunner: QueryRunner, withAdjustments: boolean): Promise<void> {
    await queryRunner.query(`ALTER TABLE statement_lines DROP CONSTRAINT IF EXISTS statement_lines_adjustment_check`);
    await queryRunner.query(`
      DO $$
      DECLARE c record;
      BEGIN
        FOR c IN SELECT conname FROM pg_constraint
                  WHERE conrelid = 'statement_lines'::regclass AND contype = 'c'
                    AND (pg_get_constraintdef(oid) LIKE '%corrects_statement_id IS NULL%'
                         OR pg_get_constraintdef(oid) LIKE '%''model''::text, ''sales''::text%')
        LOOP
          EXECUTE format('ALTER TABLE statement_lines DROP CONSTRAINT %I', c.conname);
        END LOOP;
      END
      $$`);
    if (withAdjustments) {
      await queryRunner.query(`
        ALTER TABLE statement_lines
          ADD CONSTRAINT statement_lines_kind_check CHECK (kind IN ('model', 'sales', 'correction', 'adjustment')),
          ADD CONSTRAINT statement_lines_corrects_check CHECK (kind IN ('correction', 'adjustment') OR corrects_statement_id IS NULL),
          ADD CONSTRAINT statement_lines_adjustment_check CHECK (kind <> 'adjustment' OR corrects_statement_id IS NOT NULL)`);
    } else {
      await queryRunner.query(`
        ALTER TABLE statement_lines
          ADD CONSTRAINT statement_lines_kind_check CHECK (kind IN ('model', 'sales', 'correction')),
          ADD CONSTRAINT statement_lines_corrects_check CHECK (kind = 'correction' OR corrects_statement_id IS NULL)`);
    }
  }
}
