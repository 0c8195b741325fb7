import { Inject, Injectable } from '@nestjs/common';
import { Principal, RequestAuth } from '@app/authorization';
import { billingKeys } from '@app/billing';
import { AppException } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { REDIS } from '@app/redis';
import { TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { AuditService } from '../audit/audit.service';
import { LowBalanceAlerts } from '../low-balance/low-balance-alerts';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { BalanceService } from './balance.service';
import { pageOf } from '../../common/pagination';
import { BalanceView, CreditListQuery, CreditPage, CreditRequest, CreditResult, TransactionListQuery, TransactionPage } from './dto/ledger.dto';
import { LedgerErrorCode, ledgerError } from './ledger.exceptions';
import { BALANCE, CREDIT } from './ledger.permissions';
import { LedgerRepository, TransactionKind, TransactionView } from './ledger.repository';

/** A credit to apply: by hand (owner, finance) or from a payment. */
interface CreditInput {
  tenantId: string;
  customerId: string;
  units: bigint;
  note: string | null;
  /** `credit:<reference>`, `stripe:<checkout session>`, `epay:<trade no>`, `redeem:<code id>`...: unique per tenant. */
  idempotencyKey: string;
  kind: TransactionKind;
  /** The account the money comes from: manual adjustments or payments received. */
  source: 'adjustments' | 'payments';
  createdBy: string | null;
  audit: { action: string; actor?: { userId: string | null; tenantId: string | null } };
  /** A refund's debit goes through whatever the balance (the provider already paid the money back). */
  ignoreOverdraft?: boolean;
  /** Runs in the transaction after the post, before the Redis step (payments: the order's status). */
  afterPost?: (m: EntityManager, transaction: TransactionView) => Promise<void>;
}

/**
 * Balances, transactions and credits of customers' wallets (the api side of the ledger).
 *
 * A credit updates the ledger first, then Redis (DESIGN.md): in one tenant transaction it locks the
 * wallet row (FOR UPDATE), checks the overdraft rule on a debit, writes the balanced transaction
 * and its audit entry, and BEFORE committing applies the amount to the Redis balance with
 * "INCRBY if loaded"; if the commit then fails, the increment is undone. Holding the row lock
 * across the Redis step is what keeps a concurrent on-demand load (BalanceService.ensureLoaded,
 * which reads the row FOR SHARE) from counting the credit twice or not at all.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly ledger: LedgerRepository,
    private readonly balances: BalanceService,
    private readonly audit: AuditService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly outbox: WebhookOutbox,
    private readonly lowBalance: LowBalanceAlerts,
  ) {}

  balanceOf(customerId: string): Promise<BalanceView> {
    return this.tenantDb.forRequest(async (m) => {
      const principal = this.auth.principal;
      await this.customerFor(m, principal, customerId, 'read', BALANCE);
      return this.balanceView(m, principal.tenantId, customerId);
    });
  }

  myBalance(): Promise<BalanceView> {
    return this.balanceOf(this.auth.principal.userId);
  }

  transactions(customerId: string, query: TransactionListQuery): Promise<TransactionPage> {
    return this.tenantDb.forRequest(async (m) => {
      const principal = this.auth.principal;
      await this.customerFor(m, principal, customerId, 'read', BALANCE);
      const limit = query.limit ?? 50;
      const items = await this.ledger.listForCustomer(m, principal.tenantId, customerId, limit + 1, decodeCursor(query.cursor));
      const more = items.length > limit;
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      return { items: page, nextCursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
    });
  }

  myTransactions(query: TransactionListQuery): Promise<TransactionPage> {
    return this.transactions(this.auth.principal.userId, query);
  }

  /**
   * The credits list (finance, owner, operator; a salesperson's bound customers'): manual credits
   * and debits with their note and author, and the credits of paid top-ups, scoped in SQL by the
   * caller's wallet read rules.
   */
  listCredits(query: CreditListQuery): Promise<CreditPage> {
    return this.tenantDb.forRequest(async (m) => {
      const { page, pageSize, offset } = pageOf(query);
      const [items, total] = await this.ledger.listCredits(m, this.auth.ability, { q: query.q?.trim() || undefined, kind: query.kind, customerId: query.customerId }, offset, pageSize);
      return { items, page, pageSize, total };
    });
  }

  /** Credits (or, with a negative amount, debits) a customer's wallet by hand; idempotent by reference. */
  async credit(customerId: string, input: CreditRequest): Promise<CreditResult> {
    const principal = this.auth.principal;
    const units = toUnits(input.amount);
    return this.applyCredit(
      {
        tenantId: principal.tenantId,
        customerId,
        units,
        note: input.note,
        idempotencyKey: `credit:${input.reference ?? uuidv7()}`,
        kind: units < 0n ? 'debit' : 'credit',
        source: 'adjustments',
        createdBy: principal.userId,
        audit: { action: units < 0n ? 'wallet.debited' : 'wallet.credited' },
      },
      (m) => this.customerFor(m, principal, customerId, 'create', CREDIT),
    );
  }

  /**
   * A payment's credit, or a refund's debit, with no signed-in caller (top-ups, prepaid codes),
   * idempotent by `idempotencyKey` (the provider's reference). `claim` runs first in the
   * transaction: it locks and checks what is being paid for (the order, the code) and throws when it
   * must not be credited; `afterPost` runs once the balanced transaction is written and before the
   * Redis step and the commit, so the order's new status and the money commit together or not at
   * all. A refund's debit ignores the overdraft rule: the money has already gone back.
   */
  postPayment(input: {
    tenantId: string;
    customerId: string;
    units: bigint;
    idempotencyKey: string;
    note: string;
    kind: 'payment' | 'credit';
    action: string;
    claim: (m: EntityManager) => Promise<unknown>;
    afterPost?: (m: EntityManager, transaction: TransactionView) => Promise<void>;
  }): Promise<CreditResult> {
    return this.applyCredit(
      {
        tenantId: input.tenantId,
        customerId: input.customerId,
        units: input.units,
        note: input.note,
        idempotencyKey: input.idempotencyKey,
        kind: input.kind,
        source: input.kind === 'payment' ? 'payments' : 'adjustments',
        createdBy: null,
        audit: { action: input.action, actor: { userId: null, tenantId: null } },
        ignoreOverdraft: input.units < 0n,
        afterPost: input.afterPost,
      },
      input.claim,
    );
  }

  /**
   * A credit the system makes with no signed-in caller (`cli seed-demo` funding the demo wallet):
   * the same balanced, idempotent transaction as a manual credit (`credit:<reference>`), audited
   * with no actor.
   */
  creditBySystem(input: { tenantId: string; customerId: string; units: bigint; reference: string; note: string }): Promise<CreditResult> {
    return this.applyCredit(
      {
        tenantId: input.tenantId,
        customerId: input.customerId,
        units: input.units,
        note: input.note,
        idempotencyKey: `credit:${input.reference}`,
        kind: input.units < 0n ? 'debit' : 'credit',
        source: 'adjustments',
        createdBy: null,
        audit: { action: input.units < 0n ? 'wallet.debited' : 'wallet.credited', actor: { userId: null, tenantId: null } },
      },
      async (m) => {
        if (!(await this.ledger.customerExists(m, input.tenantId, input.customerId))) throw AppException.notFound('customer');
      },
    );
  }

  private async applyCredit(input: CreditInput, authorize: (m: EntityManager) => Promise<unknown>): Promise<CreditResult> {
    let applied = false;
    try {
      return await this.tenantDb.run({ tenantId: input.tenantId }, async (m) => {
        await authorize(m);
        const previous = await this.ledger.findByKey(m, input.tenantId, input.idempotencyKey);
        if (previous) return this.replayed(m, input, previous);
        const wallet = await this.ledger.lockWallet(m, input.tenantId, input.customerId);
        if (input.units < 0n && !input.ignoreOverdraft && !wallet.allowOverdraft && toUnits(wallet.balance) + input.units < 0n) {
          throw ledgerError(LedgerErrorCode.InsufficientBalance, `the ledger balance is ${wallet.balance}`);
        }
        const source = await this.ledger.tenantAccount(m, input.tenantId, input.source);
        const id = uuidv7();
        const created = await this.ledger.post(m, [
          {
            id,
            tenantId: input.tenantId,
            kind: input.kind,
            idempotencyKey: input.idempotencyKey,
            customerId: input.customerId,
            amount: fromUnits(input.units),
            note: input.note,
            createdBy: input.createdBy,
            entries: [
              { accountId: wallet.id, tenantId: input.tenantId, amount: fromUnits(input.units) },
              { accountId: source, tenantId: input.tenantId, amount: fromUnits(-input.units) },
            ],
          },
        ]);
        if (!created.has(input.idempotencyKey)) {
          // The same reference committed by a concurrent request between our check and insert.
          return this.replayed(m, input, (await this.ledger.findByKey(m, input.tenantId, input.idempotencyKey))!);
        }
        await this.audit.record(m, {
          tenantId: input.tenantId,
          action: input.audit.action,
          subjectType: BALANCE,
          subjectId: input.customerId,
          before: { balance: wallet.balance },
          after: { balance: fromUnits(toUnits(wallet.balance) + input.units), amount: fromUnits(input.units), reference: input.idempotencyKey, note: input.note },
          actor: input.audit.actor,
        });
        const transaction = (await this.ledger.findByKey(m, input.tenantId, input.idempotencyKey))!;
        if (input.afterPost) await input.afterPost(m, transaction);
        const balance = fromUnits(toUnits(wallet.balance) + input.units);
        // Webhook events in this transaction: only a credit that was really created publishes (a
        // replay returned above), and a debit that takes the wallet below its threshold or to zero.
        await this.outbox.publish(m, input.tenantId, 'credit.created', {
          transactionId: transaction.id,
          customerId: input.customerId,
          amount: transaction.amount,
          kind: transaction.kind,
          reference: transaction.reference,
          balance,
        });
        if (input.units < 0n) await this.lowBalance.afterDebits(m, input.tenantId, new Map([[input.customerId, -input.units]]));
        // Last step before the commit, under the wallet's row lock.
        applied = await this.balances.incrementIfLoaded(input.tenantId, input.customerId, input.units);
        return { ...transaction, balance, created: true };
      });
    } catch (error) {
      if (applied) await this.balances.compensate(input.tenantId, input.customerId, input.units);
      throw error;
    }
  }

  private async replayed(m: EntityManager, input: CreditInput, previous: { amount: string }): Promise<CreditResult> {
    const transaction = (await this.ledger.findByKey(m, input.tenantId, input.idempotencyKey))!;
    if (toUnits(previous.amount) !== input.units) throw ledgerError(LedgerErrorCode.ReferenceReused);
    const balance = (await this.ledger.walletBalance(m, input.tenantId, input.customerId)) ?? '0.000000000';
    return { ...transaction, balance, created: false };
  }

  private async balanceView(m: EntityManager, tenantId: string, customerId: string): Promise<BalanceView> {
    const balance = (await this.ledger.walletBalance(m, tenantId, customerId)) ?? '0.000000000';
    const cached = await this.redis.get(billingKeys.balance(tenantId, customerId)).catch(() => null);
    const spendable = cached === null ? null : fromUnits(BigInt(cached));
    const held = spendable === null ? 0n : toUnits(balance) - BigInt(cached!);
    return { customerId, balance, spendable, held: fromUnits(held > 0n ? held : 0n) };
  }

  /**
   * The customer as a CASL subject. Unknown, another tenant's or out of the caller's reach: 404;
   * readable but not this action: 403 (RequestAuth.assertCan).
   */
  private async customerFor(m: EntityManager, principal: Principal, customerId: string, action: 'read' | 'create', subject: string) {
    const customer = await this.ledger.customer(m, principal.tenantId, customerId);
    if (!customer) throw AppException.notFound('customer');
    const object = { tenantId: principal.tenantId, customerId, salesUserId: customer.salesUserId };
    if (subject === CREDIT) {
      // Reading the wallet decides between 404 and 403 for a credit.
      if (!this.auth.ability.can('read', { ...object, __caslSubjectType__: BALANCE } as never)) throw AppException.notFound('customer');
    }
    this.auth.assertCan(action, subject, object);
    return customer;
  }
}

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { createdAt: string; id: string } | undefined {
  if (!cursor) return undefined;
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw AppException.validation([{ field: 'cursor', messages: ['cursor is not valid'] }]);
  }
  return { createdAt, id };
}
