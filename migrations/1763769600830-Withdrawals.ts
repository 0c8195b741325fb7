import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

/**
 * Withdrawals of settled reseller margin (issue 13). A row is the reseller's request and its state;
 * the money is in the ledger (migration SettlementLedger): requesting moves the amount from
 * `reseller_settled` to `withdrawal_pending`, approving to `withdrawal_approved`, rejecting back to
 * `reseller_settled`, paying from `withdrawal_approved` to the platform's `payouts`.
 *
 * States: requested -> approved -> paid, or requested -> rejected. Each decision records who made
 * it and when; a rejection carries its reason, a payment its reference. Rows are never deleted.
 */
export class Withdrawals1763769600830 implements MigrationInterface {
  name = 'Withdrawals1763769600830';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE withdrawals (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE RESTRICT,
        amount numeric(30, 9) NOT NULL CHECK (amount > 0),
        status text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected', 'paid')),
        note text CHECK (length(note) <= 500),
        destination text CHECK (length(destination) <= 500),
        -- The client's idempotency reference: the same reference again returns the first request.
        reference text CHECK (length(reference) BETWEEN 1 AND 200),
        requested_by uuid NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        decided_by uuid,
        decided_at timestamptz,
        reject_reason text CHECK (length(reject_reason) <= 500),
        paid_by uuid,
        paid_at timestamptz,
        payment_reference text CHECK (length(payment_reference) <= 200),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'requested') = (decided_at IS NULL)),
        CHECK ((status = 'rejected') = (reject_reason IS NOT NULL)),
        CHECK ((status = 'paid') = (paid_at IS NOT NULL AND payment_reference IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX withdrawals_reference_key ON withdrawals (tenant_id, reference) WHERE reference IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX withdrawals_tenant_idx ON withdrawals (tenant_id, requested_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX withdrawals_status_idx ON withdrawals (status, requested_at DESC, id DESC)`);
    // Policies for every command (the RLS structure test requires them all), but no role holds the
    // DELETE privilege: a withdrawal is never deleted, whatever the policies say.
    await enableTenantRls(queryRunner, 'withdrawals');
    await queryRunner.query(`REVOKE DELETE, TRUNCATE ON withdrawals FROM ${APP_ROLE}, ${SYSTEM_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE withdrawals`);
  }
}
