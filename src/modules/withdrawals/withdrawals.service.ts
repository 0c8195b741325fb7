import { Inject, Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { AccountKind, LedgerRepository } from '../ledger/ledger.repository';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import {
  CreateWithdrawalRequest,
  WithdrawalListQuery,
  WithdrawalPage,
  WithdrawalStatus,
  WithdrawalSummary,
  WithdrawalSummaryQuery,
  WithdrawalView,
} from './dto/withdrawal.dto';
import { WithdrawalErrorCode, withdrawalError } from './withdrawals.exceptions';
import { WITHDRAWAL } from './withdrawals.permissions';
import { Decision, WithdrawalsRepository } from './withdrawals.repository';

type SettledKind = Extract<AccountKind, 'reseller_settled' | 'withdrawal_pending' | 'withdrawal_approved'>;

/** Each decision: the state it starts from, and the ledger movement it posts in the reseller's books. */
const STEPS: Record<Decision['status'], { from: WithdrawalStatus; debit: SettledKind; credit: SettledKind | 'payouts'; action: string }> = {
  approved: { from: 'requested', debit: 'withdrawal_pending', credit: 'withdrawal_approved', action: 'withdrawal.approved' },
  rejected: { from: 'requested', debit: 'withdrawal_pending', credit: 'reseller_settled', action: 'withdrawal.rejected' },
  // The platform's payouts account, on the platform tenant: a cross-tenant transaction.
  paid: { from: 'approved', debit: 'withdrawal_approved', credit: 'payouts', action: 'withdrawal.paid' },
};

export interface CreateResult {
  withdrawal: WithdrawalView;
  created: boolean;
}

/**
 * Withdrawals of settled margin (README, "Withdrawals of settled margin").
 *
 * A request locks the reseller's `reseller_settled` account row (FOR UPDATE) for its whole
 * transaction, so two concurrent requests of one reseller run one after the other: the second sees
 * the balance the first left. Pending requests have already moved out of that account, so the
 * available amount is simply its balance. Every step (request, approve, reject, pay) is one
 * tenant transaction holding the state change, a balanced ledger transaction (idempotency key
 * `withdrawal:<id>:<step>`), an audit entry in the reseller's log and a `withdrawal.updated`
 * webhook event; decisions lock the withdrawal row and move it only from the expected state.
 */
@Injectable()
export class WithdrawalsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly withdrawals: WithdrawalsRepository,
    private readonly ledger: LedgerRepository,
    private readonly audit: AuditService,
    private readonly outbox: WebhookOutbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  request(input: CreateWithdrawalRequest): Promise<CreateResult> {
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    const units = toUnits(input.amount);
    if (units > toUnits(this.config.WITHDRAWAL_MAX_AMOUNT)) {
      throw AppException.validation([{ field: 'amount', messages: [`amount must be at most ${this.config.WITHDRAWAL_MAX_AMOUNT} per request`] }]);
    }
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('create', WITHDRAWAL, { tenantId });
      if ((await this.withdrawals.tenantType(m, tenantId)) !== 'reseller') {
        throw withdrawalError(WithdrawalErrorCode.NotAReseller, 'The platform tenant has no settled margin; withdrawals are requested by reseller tenants.');
      }
      // The lock every request of this tenant queues on (see the class comment).
      const settled = await this.ledger.tenantAccount(m, tenantId, 'reseller_settled');
      const available = await this.withdrawals.lockAccount(m, settled);
      if (input.reference) {
        const previous = await this.withdrawals.findByReference(m, tenantId, input.reference);
        if (previous) {
          if (toUnits(previous.amount) !== units) throw withdrawalError(WithdrawalErrorCode.ReferenceReused);
          return { withdrawal: previous, created: false };
        }
      }
      if (units > toUnits(available)) {
        throw withdrawalError(WithdrawalErrorCode.ExceedsAvailable, `The available settled margin is ${available}; requested ${fromUnits(units)}.`, {
          headers: { 'x-should-retry': 'false' },
        });
      }
      const id = uuidv7();
      const amount = fromUnits(units);
      await this.withdrawals.insert(m, {
        id,
        tenantId,
        amount,
        note: input.note ?? null,
        destination: input.destination ?? null,
        reference: input.reference ?? null,
        requestedBy: principal.userId,
      });
      const pending = await this.ledger.tenantAccount(m, tenantId, 'withdrawal_pending');
      await this.post(m, tenantId, id, 'requested', units, [
        { accountId: settled, tenantId, amount: fromUnits(-units) },
        { accountId: pending, tenantId, amount },
      ]);
      const withdrawal = (await this.withdrawals.find(m, id))!;
      await this.audit.record(m, {
        tenantId,
        action: 'withdrawal.requested',
        subjectType: WITHDRAWAL,
        subjectId: id,
        before: { available },
        after: { status: 'requested', amount, available: fromUnits(toUnits(available) - units), destination: withdrawal.destination, note: withdrawal.note },
      });
      await this.publish(m, withdrawal);
      return { withdrawal, created: true };
    });
  }

  approve(id: string, note?: string): Promise<WithdrawalView> {
    return this.decide(id, { status: 'approved', by: this.auth.principal.userId }, note);
  }

  reject(id: string, reason: string): Promise<WithdrawalView> {
    return this.decide(id, { status: 'rejected', by: this.auth.principal.userId, reason });
  }

  pay(id: string, paymentReference: string): Promise<WithdrawalView> {
    return this.decide(id, { status: 'paid', by: this.auth.principal.userId, paymentReference });
  }

  get(id: string): Promise<WithdrawalView> {
    return this.tenantDb.forRequest(async (m) => {
      const withdrawal = await this.withdrawals.find(m, id);
      if (!withdrawal) throw AppException.notFound(WITHDRAWAL);
      this.auth.assertCan('read', WITHDRAWAL, { tenantId: withdrawal.tenantId, status: withdrawal.status });
      return withdrawal;
    });
  }

  list(query: WithdrawalListQuery): Promise<WithdrawalPage> {
    const { page, pageSize, offset } = pageOf(query);
    return this.tenantDb.forRequest(async (m) => {
      const [items, total] = await this.withdrawals.list(m, this.auth.ability, query, offset, pageSize);
      return { items, page, pageSize, total };
    });
  }

  summary(query: WithdrawalSummaryQuery): Promise<WithdrawalSummary> {
    return this.tenantDb.forRequest((m) => this.withdrawals.summary(m, this.auth.ability, query.tenantId));
  }

  private decide(id: string, decision: Decision, note?: string): Promise<WithdrawalView> {
    const step = STEPS[decision.status];
    return this.tenantDb.forRequest(async (m) => {
      const current = await this.withdrawals.lock(m, id);
      if (!current) throw AppException.notFound(WITHDRAWAL);
      const tenantId = current.tenantId;
      this.auth.assertCan('update', WITHDRAWAL, { tenantId, status: current.status });
      // Independent of CASL: a reseller never decides withdrawals, not even its own.
      if (this.auth.principal.tenantType !== 'platform') throw AppException.forbidden();
      if (current.status !== step.from) {
        throw withdrawalError(
          WithdrawalErrorCode.InvalidTransition,
          `The withdrawal is ${current.status}; only a ${step.from} withdrawal can be ${decision.status}.`,
        );
      }
      const units = toUnits(current.amount);
      // A rejection credits reseller_settled: take its lock first, in the same order as a request
      // (settled, then pending), so the two cannot deadlock.
      if (decision.status === 'rejected') await this.withdrawals.lockAccount(m, await this.ledger.tenantAccount(m, tenantId, 'reseller_settled'));
      const debit = await this.ledger.tenantAccount(m, tenantId, step.debit);
      const creditTenant = step.credit === 'payouts' ? this.auth.principal.tenantId : tenantId;
      const credit = await this.ledger.tenantAccount(m, creditTenant, step.credit);
      const updated = await this.withdrawals.decide(m, id, step.from, decision);
      if (!updated) throw withdrawalError(WithdrawalErrorCode.InvalidTransition);
      await this.post(m, tenantId, id, decision.status, units, [
        { accountId: debit, tenantId, amount: fromUnits(-units) },
        { accountId: credit, tenantId: creditTenant, amount: fromUnits(units) },
      ]);
      await this.audit.record(m, {
        tenantId,
        action: step.action,
        subjectType: WITHDRAWAL,
        subjectId: id,
        before: { status: current.status },
        after: {
          status: updated.status,
          amount: updated.amount,
          ...(decision.status === 'rejected' ? { reason: decision.reason } : {}),
          ...(decision.status === 'paid' ? { paymentReference: decision.paymentReference } : {}),
          ...(note ? { note } : {}),
        },
      });
      await this.publish(m, updated);
      return updated;
    });
  }

  /** One balanced ledger transaction of the step, in the reseller's books (`withdrawal:<id>:<step>`). */
  private async post(
    m: EntityManager,
    tenantId: string,
    id: string,
    step: WithdrawalStatus,
    units: bigint,
    entries: Array<{ accountId: string; tenantId: string; amount: string }>,
  ): Promise<void> {
    const key = `withdrawal:${id}:${step}`;
    const created = await this.ledger.post(m, [
      {
        tenantId,
        kind: 'withdrawal',
        idempotencyKey: key,
        customerId: null,
        amount: fromUnits(units),
        note: `withdrawal ${step}`,
        createdBy: this.auth.principal.userId,
        entries,
      },
    ]);
    // The state guard makes each step happen once; a key already present means the books and the
    // state disagree, which must stop the step rather than pass silently.
    if (!created.has(key)) throw AppException.conflict(`The ledger already holds ${key}.`);
  }

  private publish(m: EntityManager, w: WithdrawalView): Promise<string> {
    return this.outbox.publish(m, w.tenantId, 'withdrawal.updated', {
      id: w.id,
      tenantId: w.tenantId,
      status: w.status,
      amount: w.amount,
      reference: w.reference,
      rejectReason: w.rejectReason,
      paymentReference: w.paymentReference,
      requestedAt: w.requestedAt,
      decidedAt: w.decidedAt,
      paidAt: w.paidAt,
      updatedAt: w.updatedAt,
    });
  }
}
