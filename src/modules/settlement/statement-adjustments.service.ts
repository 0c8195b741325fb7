import { Inject, Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { v7 as uuidv7 } from 'uuid';
import { AuditService } from '../audit/audit.service';
import { LedgerRepository } from '../ledger/ledger.repository';
import { CreateStatementAdjustmentRequest, StatementAdjustmentList, StatementAdjustmentView } from './dto/statement-adjustment.dto';
import { settlementError, SettlementErrorCode } from './settlement.exceptions';
import { STATEMENT, STATEMENT_ADJUSTMENT } from './settlement.permissions';
import { StatementAdjustmentsRepository } from './statement-adjustments.repository';
import { StatementsRepository } from './statements.repository';

/**
 * Manual corrections of closed reseller statements (README, "Settlement statements"). The
 * statement never changes: one transaction, in the platform-wide scope of the platform's owner or
 * finance, writes the adjustment, its balanced `correction` ledger transaction (key
 * `adjustment:<id>`: reseller_settled +amount in the reseller's books, platform_revenue -amount in
 * the platform's) and an audit entry in the reseller's log. The reseller's next statement reports
 * it. A debit locks reseller_settled FOR UPDATE, as a withdrawal request does, so it can never take
 * the balance below zero however requests interleave.
 */
@Injectable()
export class StatementAdjustmentsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly statements: StatementsRepository,
    private readonly adjustments: StatementAdjustmentsRepository,
    private readonly ledger: LedgerRepository,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  create(statementId: string, input: CreateStatementAdjustmentRequest): Promise<StatementAdjustmentView> {
    const principal = this.auth.principal;
    const units = toUnits(input.amount);
    const max = toUnits(this.config.WITHDRAWAL_MAX_AMOUNT);
    if (units > max || -units > max) {
      throw AppException.validation([{ field: 'amount', messages: [`amount must be at most ${this.config.WITHDRAWAL_MAX_AMOUNT} either way`] }]);
    }
    return this.tenantDb.forRequest(async (m) => {
      const statement = await this.statements.get(m, statementId);
      if (!statement) throw AppException.notFound('statement');
      const tenantId = statement.tenant_id;
      this.auth.assertCan('read', STATEMENT, { tenantId });
      this.auth.assertCan('create', STATEMENT_ADJUSTMENT, { tenantId });
      // Independent of CASL: only the platform books against platform_revenue.
      if (principal.tenantType !== 'platform') throw AppException.forbidden();
      if (statement.tenant_type !== 'reseller') {
        throw settlementError(SettlementErrorCode.AdjustmentNotAReseller, "The platform's own statement settles no margin; only a reseller's statement can be adjusted.");
      }
      const settled = await this.ledger.tenantAccount(m, tenantId, 'reseller_settled');
      const available = await this.adjustments.lockAccount(m, settled);
      if (units < 0n && -units > toUnits(available)) {
        throw settlementError(
          SettlementErrorCode.AdjustmentExceedsAvailable,
          `The available settled margin is ${available}; the adjustment would debit ${fromUnits(-units)}.`,
          { headers: { 'x-should-retry': 'false' } },
        );
      }
      const platformRevenue = await this.ledger.tenantAccount(m, principal.tenantId, 'platform_revenue');
      const id = uuidv7();
      const transactionId = uuidv7();
      const amount = fromUnits(units);
      const adjustment = await this.adjustments.insert(m, {
        id,
        tenantId,
        correctsStatementId: statementId,
        amount,
        reason: input.reason,
        createdBy: principal.userId,
        ledgerTransactionId: transactionId,
      });
      const key = `adjustment:${id}`;
      const created = await this.ledger.post(m, [
        {
          id: transactionId,
          tenantId,
          kind: 'correction',
          idempotencyKey: key,
          customerId: null,
          amount,
          note: `adjustment of statement ${statementId}`,
          createdBy: principal.userId,
          entries: [
            { accountId: settled, tenantId, amount },
            { accountId: platformRevenue, tenantId: principal.tenantId, amount: fromUnits(-units) },
          ],
        },
      ]);
      if (!created.has(key)) throw AppException.conflict(`The ledger already holds ${key}.`);
      await this.audit.record(m, {
        tenantId,
        action: 'statement.adjusted',
        subjectType: STATEMENT_ADJUSTMENT,
        subjectId: id,
        before: { available },
        after: { statementId, amount, reason: adjustment.reason, available: fromUnits(toUnits(available) + units), ledgerTransactionId: transactionId },
      });
      return adjustment;
    });
  }

  list(statementId: string): Promise<StatementAdjustmentList> {
    return this.tenantDb.forRequest(async (m) => {
      const statement = await this.statements.get(m, statementId);
      if (!statement) throw AppException.notFound('statement');
      this.auth.assertCan('read', STATEMENT, { tenantId: statement.tenant_id });
      return { items: await this.adjustments.listForStatement(m, statementId) };
    });
  }
}
