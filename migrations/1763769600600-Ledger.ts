import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

/**
 * The double-entry ledger (DESIGN.md "Money"): the record of truth of every balance. Redis
 * balances are a cache of it.
 *
 * - `ledger_accounts`: customer wallets (one per customer), per tenant a reseller revenue, a
 *   wholesale payable, an adjustments and a payments account, and on the platform tenant its
 *   revenue, the upstream cost (expense) and the upstream payable.
 * - `ledger_transactions`: one per money event, unique per tenant on its idempotency key
 *   (`usage:<requestId>`, `credit:<reference>`, `stripe:<eventId>`), so a replayed event changes
 *   nothing.
 * - `ledger_entries`: signed amounts, NUMERIC(30,9); the entries of a transaction sum to zero
 *   (checked at commit by a deferred constraint trigger) and may only be written in the same
 *   database transaction as their ledger transaction. An account's `balance` is the sum of its
 *   entries, maintained by a statement-level trigger in the same database transaction: nobody
 *   updates a balance by hand (the application role may not even UPDATE that column).
 *
 * Sign convention (balance = sum of entries, each transaction sums to zero): a wallet is positive
 * when the customer has money; revenues are positive; the wholesale payable is negative by what
 * the reseller owes the platform; the upstream cost is negative by what upstreams charged and the
 * upstream payable positive by the same; the adjustments and payments accounts are the negative
 * counterparts of credits.
 *
 * Entries and transactions are append-only for both the application and the system role (grants,
 * as for the audit log). Also: `usage_daily`, the daily rollups of usage records kept for good.
 */
export class Ledger1763769600600 implements MigrationInterface {
  name = 'Ledger1763769600600';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE ledger_accounts (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        kind text NOT NULL CHECK (kind IN ('customer_wallet', 'reseller_revenue', 'wholesale_payable', 'adjustments', 'payments',
                                           'platform_revenue', 'upstream_cost', 'upstream_payable')),
        customer_id uuid,
        balance numeric(30, 9) NOT NULL DEFAULT 0,
        allow_overdraft boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'customer_wallet') = (customer_id IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX ledger_accounts_wallet_key ON ledger_accounts (tenant_id, customer_id) WHERE kind = 'customer_wallet'`);
    await queryRunner.query(`CREATE UNIQUE INDEX ledger_accounts_tenant_key ON ledger_accounts (tenant_id, kind) WHERE customer_id IS NULL`);
    await enableTenantRls(queryRunner, 'ledger_accounts');
    // The balance changes only through the entries trigger: the application may create accounts,
    // lock them (SELECT ... FOR UPDATE needs an UPDATE privilege) and set the overdraft flag, never
    // delete them (RLS policies exist for every command; the privileges are what restrict it).
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ledger_accounts FROM ${APP_ROLE}`);
    await queryRunner.query(`GRANT UPDATE (allow_overdraft) ON ledger_accounts TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE DELETE, TRUNCATE ON ledger_accounts FROM ${SYSTEM_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE ledger_transactions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        kind text NOT NULL CHECK (kind IN ('usage', 'credit', 'debit', 'payment', 'correction')),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 300),
        customer_id uuid,
        -- What the customer's wallet gained (positive) or lost (negative), for listings.
        amount numeric(30, 9) NOT NULL,
        note text CHECK (length(note) <= 500),
        created_by uuid,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX ledger_transactions_key ON ledger_transactions (tenant_id, idempotency_key)`);
    await queryRunner.query(`CREATE INDEX ledger_transactions_customer_idx ON ledger_transactions (tenant_id, customer_id, created_at DESC, id DESC)`);
    await enableTenantRls(queryRunner, 'ledger_transactions', { commands: ['select', 'insert'] });

    await queryRunner.query(`
      CREATE TABLE ledger_entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        -- No foreign keys: the statement-level trigger below checks the transaction and the account
        -- (and the tenant through the account) once per INSERT statement instead of three
        -- row-by-row RI checks per entry; metering writes six entries per request.
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id(),
        transaction_id uuid NOT NULL,
        account_id uuid NOT NULL,
        amount numeric(30, 9) NOT NULL CHECK (amount <> 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id)`);
    await queryRunner.query(`CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id)`);
    await enableTenantRls(queryRunner, 'ledger_entries', { commands: ['select', 'insert'] });

    for (const table of ['ledger_transactions', 'ledger_entries']) {
      await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM ${APP_ROLE}, ${SYSTEM_ROLE}`);
      await queryRunner.query(`COMMENT ON TABLE ${table} IS 'append-only'`);
    }

    // A ledger transaction is dated by the database transaction that writes it (so entries can be
    // tied to it, below). Statement-level: one check per INSERT statement, not per row.
    await queryRunner.query(`
      CREATE FUNCTION ledger_transactions_dated() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM new_rows WHERE created_at <> now()) THEN
          RAISE EXCEPTION 'ledger transactions are dated by the database transaction that writes them' USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER ledger_transactions_dated AFTER INSERT ON ledger_transactions
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_transactions_dated()`);

    // Each transaction sums to zero and has at least two entries, checked at commit (deferred),
    // once per transaction row.
    await queryRunner.query(`
      CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        total numeric;
        lines int;
      BEGIN
        SELECT coalesce(sum(amount), 0), count(*) INTO total, lines FROM ledger_entries WHERE transaction_id = NEW.id;
        IF total <> 0 OR lines < 2 THEN
          RAISE EXCEPTION 'ledger transaction % is unbalanced (sum %, % entries)', NEW.id, total, lines USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_transactions
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced()`);

    // Entries: only into a transaction written by this same database transaction (so a closed
    // transaction can never gain an entry), on an account of the entry's tenant; then the balances
    // of the accounts touched move by the sum of the new entries, locking them in id order so that
    // concurrent batches cannot deadlock. Runs as the system role (owner of the function), which
    // alone may update balances.
    await queryRunner.query(`
      CREATE FUNCTION ledger_entries_post() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM new_rows n LEFT JOIN ledger_transactions t ON t.id = n.transaction_id
                    WHERE t.created_at IS DISTINCT FROM now()) THEN
          RAISE EXCEPTION 'ledger entries are written with their transaction, never added later' USING ERRCODE = '23514';
        END IF;
        IF EXISTS (SELECT 1 FROM new_rows n LEFT JOIN ledger_accounts a ON a.id = n.account_id
                    WHERE a.tenant_id IS DISTINCT FROM n.tenant_id) THEN
          RAISE EXCEPTION 'a ledger entry is on an existing account, of the account''s tenant' USING ERRCODE = '23503';
        END IF;
        PERFORM 1 FROM ledger_accounts WHERE id IN (SELECT DISTINCT account_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
        UPDATE ledger_accounts a SET balance = a.balance + d.delta
          FROM (SELECT account_id, sum(amount) AS delta FROM new_rows GROUP BY account_id) d
         WHERE a.id = d.account_id;
        RETURN NULL;
      END
      $$`);
    // A new owner must hold CREATE on the function's schema, only for the hand-over.
    await queryRunner.query(`GRANT CREATE ON SCHEMA public TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION ledger_entries_post() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION ledger_transaction_balanced() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA public FROM ${SYSTEM_ROLE}`);
    // Trigger functions fire without EXECUTE; nobody calls them directly.
    for (const fn of ['ledger_entries_post()', 'ledger_transaction_balanced()', 'ledger_transactions_dated()']) {
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
    }
    await queryRunner.query(`
      CREATE TRIGGER ledger_entries_post AFTER INSERT ON ledger_entries
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_post()`);

    // Retention of raw usage rows (the worker's scheduled job, as the system role): monthly
    // partitions entirely older than p_before are dropped (they are owned by the migration role,
    // hence a definer function); the job then deletes the older rows of the partition straddling
    // it as the system role (RLS is forced, so the owner itself would see no rows).
    await queryRunner.query(`
      CREATE FUNCTION usage_records_drop_partitions_before(p_before timestamptz) RETURNS integer
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
      DECLARE
        part record;
        upper_bound timestamptz;
        dropped_partitions integer := 0;
      BEGIN
        FOR part IN
          SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'usage_records'::regclass AND c.relname ~ '^usage_records_[0-9]{6}$'
        LOOP
          upper_bound := substring(part.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz;
          IF upper_bound IS NOT NULL AND upper_bound <= p_before THEN
            EXECUTE format('ALTER TABLE usage_records DETACH PARTITION %I', part.relname);
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped_partitions := dropped_partitions + 1;
          END IF;
        END LOOP;
        RETURN dropped_partitions;
      END
      $fn$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION usage_records_drop_partitions_before(timestamptz) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION usage_records_drop_partitions_before(timestamptz) TO ${SYSTEM_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE usage_daily (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        day date NOT NULL,
        customer_id uuid NOT NULL,
        api_key_id uuid NOT NULL,
        model text NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cache_read_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        retail numeric(30, 9) NOT NULL,
        wholesale numeric(30, 9) NOT NULL,
        upstream numeric(30, 9) NOT NULL,
        PRIMARY KEY (tenant_id, day, customer_id, api_key_id, model)
      )`);
    await queryRunner.query(`CREATE INDEX usage_daily_customer_idx ON usage_daily (tenant_id, customer_id, day)`);
    await queryRunner.query(`CREATE INDEX usage_daily_model_idx ON usage_daily (tenant_id, model, day)`);
    // Written only by the worker's rollup job (system role); read by the application (policies
    // for every command, as on every tenant table; the privileges are what limit it to reading).
    await enableTenantRls(queryRunner, 'usage_daily');
    await queryRunner.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON usage_daily FROM ${APP_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION usage_records_drop_partitions_before(timestamptz)`);
    await queryRunner.query(`DROP TABLE usage_daily`);
    await queryRunner.query(`DROP TABLE ledger_entries`);
    await queryRunner.query(`DROP TABLE ledger_transactions`);
    await queryRunner.query(`DROP TABLE ledger_accounts`);
    await queryRunner.query(`DROP FUNCTION ledger_entries_post()`);
    await queryRunner.query(`DROP FUNCTION ledger_transaction_balanced()`);
    await queryRunner.query(`DROP FUNCTION ledger_transactions_dated()`);
  }
}
