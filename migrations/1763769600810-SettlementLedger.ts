import { MigrationInterface, QueryRunner } from 'typeorm';

const ACCOUNT_KINDS = [
  'customer_wallet', 'reseller_revenue', 'wholesale_payable', 'adjustments', 'payments',
  'platform_revenue', 'upstream_cost', 'upstream_payable',
];
/**
 * Settlement and withdrawals, in the reseller's books:
 * - `reseller_settled`: margin of closed periods, available to withdraw. A period's close posts a
 *   `settlement` transaction: reseller_revenue -retail, wholesale_payable +wholesale,
 *   reseller_settled +(retail - wholesale).
 * - `withdrawal_pending`: requested, not yet decided (reseller_settled -x, withdrawal_pending +x);
 *   a rejection moves it back.
 * - `withdrawal_approved`: approved by platform finance, not yet paid (withdrawal_pending -x,
 *   withdrawal_approved +x).
 * - `payouts` (platform tenant): what the platform has paid out to resellers; marking a withdrawal
 *   paid posts withdrawal_approved -x, payouts +x.
 */
const NEW_ACCOUNT_KINDS = ['reseller_settled', 'withdrawal_pending', 'withdrawal_approved', 'payouts'];
const TRANSACTION_KINDS = ['usage', 'credit', 'debit', 'payment', 'correction'];
const NEW_TRANSACTION_KINDS = ['settlement', 'withdrawal'];

const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');

/** The ledger accounts and transaction kinds that settlement and withdrawals post to. */
export class SettlementLedger1763769600810 implements MigrationInterface {
  name = 'SettlementLedger1763769600810';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await this.kinds(queryRunner, [...ACCOUNT_KINDS, ...NEW_ACCOUNT_KINDS], [...TRANSACTION_KINDS, ...NEW_TRANSACTION_KINDS]);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.kinds(queryRunner, ACCOUNT_KINDS, TRANSACTION_KINDS);
  }

  private async kinds(queryRunner: QueryRunner, accounts: string[], transactions: string[]): Promise<void> {
    await queryRunner.query(`ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check`);
    await queryRunner.query(`ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN (${list(accounts)}))`);
    await queryRunner.query(`ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check`);
    await queryRunner.query(`ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (${list(transactions)}))`);
  }
}
