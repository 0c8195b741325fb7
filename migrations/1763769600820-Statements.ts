import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

/** The advisory lock key that orders usage inserts against a statement's cutoff (see below). */
export const USAGE_CUTOFF_LOCK = 1095321432;

/**
 * Settlement statements (issue 13): per tenant and closed period, the requests, tokens, retail
 * revenue, wholesale cost, upstream cost and margin of its usage records, with lines by model, by
 * salesperson (of the request's time) and by corrected statement (late records).
 *
 * Which records a statement covers. `usage_records.recorded_at` is when a record was written: a
 * record can be written after its period closed (metering lag, spool replay). A statement with
 * cutoff c (its `closed_at`) covers the records with created_at before its period end and
 * recorded_at <= c that no earlier statement covered: those created in its period (the period's
 * figures), and those created earlier but recorded after the previous statement's cutoff (the
 * corrections, referencing the statement of their period). So every record is in exactly one
 * statement, and a closed statement never changes.
 *
 * That needs recorded_at to be exact: a record whose recorded_at is <= c must be committed when
 * the close reads. A transaction-start `now()` is not (a metering transaction that started before
 * the close can commit after it), so `recorded_at` is set by a statement-level trigger on every
 * INSERT into usage_records: it takes a shared advisory lock (held to commit) and the rows get
 * `clock_timestamp()` after it. The close's `settlement_cutoff()`, in a short transaction of its
 * own, takes the same lock exclusively: it waits for the inserts in flight to commit, reads the
 * clock, and commits, letting the next inserts go, whose clock is then later than the cutoff.
 * Metering pauses only for that instant.
 *
 * Closed statements are immutable for everybody: UPDATE, DELETE and TRUNCATE are revoked from the
 * application and system roles, and a trigger refuses them for anyone else (the owner included).
 */
export class Statements1763769600820 implements MigrationInterface {
  name = 'Statements1763769600820';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Existing rows get the time of the migration (a constant default: no table rewrite). No row
    // trigger: one per row would cost metering, and would re-date rows that ensure_partitions moves.
    await queryRunner.query(`ALTER TABLE usage_records ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now()`);
    await queryRunner.query(`ALTER TABLE usage_records ALTER COLUMN recorded_at SET DEFAULT clock_timestamp()`);
    await queryRunner.query(`CREATE INDEX usage_records_tenant_recorded_idx ON usage_records (tenant_id, recorded_at)`);
    await queryRunner.query(`
      CREATE FUNCTION usage_records_before_insert() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock_shared(${USAGE_CUTOFF_LOCK});
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER usage_records_before_insert BEFORE INSERT ON usage_records
      FOR EACH STATEMENT EXECUTE FUNCTION usage_records_before_insert()`);
    // Called in a transaction of its own, which commits at once: the lock is transaction-level, so
    // no error or cancellation can leave it held on a pooled connection (and stall metering).
    await queryRunner.query(`
      CREATE FUNCTION settlement_cutoff() RETURNS timestamptz
      LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock(${USAGE_CUTOFF_LOCK});
        RETURN clock_timestamp();
      END
      $$`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION settlement_cutoff() TO ${SYSTEM_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE statements (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        tenant_type text NOT NULL CHECK (tenant_type IN ('platform', 'reseller')),
        period_kind text NOT NULL CHECK (period_kind IN ('day', 'week', 'month')),
        period_start timestamptz NOT NULL,
        period_end timestamptz NOT NULL,
        closed_at timestamptz NOT NULL,
        previous_closed_at timestamptz,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cache_read_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        retail_revenue numeric(30, 9) NOT NULL,
        wholesale_cost numeric(30, 9) NOT NULL,
        upstream_cost numeric(30, 9) NOT NULL,
        margin numeric(30, 9) NOT NULL,
        -- Late records of earlier periods, settled with this one (lines of kind 'correction').
        correction_requests bigint NOT NULL,
        correction_retail numeric(30, 9) NOT NULL,
        correction_wholesale numeric(30, 9) NOT NULL,
        correction_upstream numeric(30, 9) NOT NULL,
        correction_margin numeric(30, 9) NOT NULL,
        corrected_statement_ids uuid[] NOT NULL DEFAULT '{}',
        settlement_transaction_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT statements_period CHECK (period_start < period_end AND closed_at >= period_end),
        CONSTRAINT statements_cutoffs CHECK (previous_closed_at IS NULL OR previous_closed_at < closed_at)
      )`);
    // One statement per tenant and period start, whatever the period kind: closing twice (two
    // workers) writes once, and periods never overlap.
    await queryRunner.query(`CREATE UNIQUE INDEX statements_period_key ON statements (tenant_id, period_start)`);
    await queryRunner.query(`CREATE INDEX statements_list_idx ON statements (period_start DESC, id DESC)`);

    await queryRunner.query(`
      CREATE TABLE statement_lines (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        statement_id uuid NOT NULL REFERENCES statements (id) ON DELETE RESTRICT,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        kind text NOT NULL CHECK (kind IN ('model', 'sales', 'correction')),
        -- model: the model name; sales: the salesperson of the requests' time (NULL: unassigned);
        -- correction: the statement whose period the late records belong to (NULL: before the first).
        model text,
        sales_user_id uuid,
        corrects_statement_id uuid REFERENCES statements (id) ON DELETE RESTRICT,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cache_read_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        retail_revenue numeric(30, 9) NOT NULL,
        wholesale_cost numeric(30, 9) NOT NULL,
        upstream_cost numeric(30, 9) NOT NULL,
        margin numeric(30, 9) NOT NULL,
        CHECK ((kind = 'model') = (model IS NOT NULL)),
        CHECK (kind = 'sales' OR sales_user_id IS NULL),
        CHECK (kind = 'correction' OR corrects_statement_id IS NULL)
      )`);
    await queryRunner.query(`CREATE INDEX statement_lines_statement_idx ON statement_lines (statement_id, kind)`);

    for (const table of ['statements', 'statement_lines']) {
      // Policies as on every append-only table; the privileges are what limit the api to reading
      // (the worker writes statements, as the system role).
      await enableTenantRls(queryRunner, table, { commands: ['select', 'insert'] });
      await queryRunner.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ${table} FROM ${APP_ROLE}`);
      await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM ${SYSTEM_ROLE}`);
      await queryRunner.query(`COMMENT ON TABLE ${table} IS 'append-only'`);
    }
    await queryRunner.query(`
      CREATE FUNCTION statements_immutable() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        RAISE EXCEPTION 'closed statements are immutable: a correction appears in the next statement' USING ERRCODE = '42501';
      END
      $$`);
    for (const table of ['statements', 'statement_lines']) {
      await queryRunner.query(`
        CREATE TRIGGER ${table}_immutable BEFORE UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION statements_immutable()`);
      await queryRunner.query(`
        CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION statements_immutable()`);
    }
    for (const fn of ['statements_immutable()', 'usage_records_before_insert()']) {
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE statement_lines`);
    await queryRunner.query(`DROP TABLE statements`);
    await queryRunner.query(`DROP FUNCTION statements_immutable()`);
    await queryRunner.query(`DROP FUNCTION settlement_cutoff()`);
    await queryRunner.query(`DROP TRIGGER usage_records_before_insert ON usage_records`);
    await queryRunner.query(`DROP FUNCTION usage_records_before_insert()`);
    await queryRunner.query(`DROP INDEX usage_records_tenant_recorded_idx`);
    await queryRunner.query(`ALTER TABLE usage_records DROP COLUMN recorded_at`);
  }
}
