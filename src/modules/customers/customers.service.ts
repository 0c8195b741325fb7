import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { asSubject, hasRole, Principal, RequestAuth } from '@app/authorization';
import { AppException, CommonErrorCode } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { EntityManager, QueryFailedError } from 'typeorm';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { KeysRuntime } from '../keys/keys-runtime';
import { OneTimeTokens } from '../auth/one-time-tokens';
import { Revocations } from '../auth/revocations';
import { Sessions } from '../auth/sessions';
import { MailQueue } from '../mail/mail.queue';
import { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { UsageRecordsRepository } from '../usage/usage-records.repository';
import { toTotals, usageRange, usageScope } from '../usage/usage-scope';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import {
  BindingItem,
  BindingPeriodView,
  BindingResult,
  BulkBindingsResponse,
  CreateCustomerRequest,
  CustomerListQuery,
  CustomerPage,
  CustomerView,
  UpdateCustomerRequest,
  UsageQuery,
  UsageSummary,
} from './dto/customer.dto';
import { CustomerErrorCode, customerError } from './customers.exceptions';
import { CUSTOMER, CUSTOMER_BINDING } from './customers.permissions';
import { CustomerRecord, CustomersRepository } from './customers.repository';

type CustomerAction = 'read' | 'update' | 'disable' | 'enable';

/**
 * Customers of the caller's tenant. Every lookup is checked against the caller's abilities with
 * the customer's current salesperson as a field, so a salesperson reaches exactly the customers
 * bound to them now (404 for any other, writes included); lists and counts are filtered in SQL by
 * the same rules.
 */
@Injectable()
export class CustomersService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly customers: CustomersRepository,
    private readonly users: UsersRepository,
    private readonly usage: UsageRecordsRepository,
    private readonly oneTimeTokens: OneTimeTokens,
    private readonly sessions: Sessions,
    private readonly revocations: Revocations,
    private readonly mail: MailQueue,
    private readonly audit: AuditService,
    private readonly keysRuntime: KeysRuntime,
    private readonly outbox: WebhookOutbox,
  ) {}

  list(query: CustomerListQuery): Promise<CustomerPage> {
    const principal = this.auth.principal;
    const { page, pageSize, offset } = pageOf(query);
    return this.tenantDb.forRequest(async (m) => {
      const { items, total } = await this.customers.list(m, this.auth.ability, principal.tenantId, query, offset, pageSize);
      return { items, total, page, pageSize };
    });
  }

  get(customerId: string): Promise<CustomerView> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'read');
      const scope = usageScope(this.auth.ability);
      if (!scope) return customer.view;
      const to = new Date();
      const { totals } = await this.usage.summarize(m, scope, { from: new Date(to.getTime() - 30 * 24 * 3600 * 1000), to, customerId });
      return { ...customer.view, usageLast30Days: toTotals(totals, principal) };
    });
  }

  /**
   * Creates a customer and mails them the invitation link (the members' invitation mail and
   * sign-up page). A salesperson's new customer is bound to them at once; an owner or operator may
   * name the salesperson. If the mail cannot be queued, nothing is created.
   */
  create(input: CreateCustomerRequest): Promise<CustomerView> {
    const principal = this.auth.principal;
    const ability = this.auth.ability;
    const tenantId = principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      const mayAssign = ability.can('assign', asSubject(CUSTOMER_BINDING, { tenantId }));
      let salesUserId = input.salesUserId ?? null;
      if (salesUserId && salesUserId !== principal.userId && !mayAssign) {
        throw AppException.forbidden('Only owners and operators bind a customer to another salesperson.');
      }
      if (!salesUserId && hasRole(principal, 'sales') && !ability.can('create', asSubject(CUSTOMER, { tenantId, salesUserId: null }))) {
        salesUserId = principal.userId;
      }
      this.auth.assertCan('create', CUSTOMER, { tenantId, salesUserId, status: 'invited' });
      if (await this.users.findByEmail(m, tenantId, input.email)) throw customerError(CustomerErrorCode.CustomerExists);
      const user = m.create(User, { tenantId, email: input.email, displayName: input.displayName ?? null, status: 'invited' });
      await m.insert(User, user).catch((e) => {
        if (e instanceof QueryFailedError && (e as QueryFailedError & { code?: string }).code === '23505') throw customerError(CustomerErrorCode.CustomerExists);
        throw e;
      });
      await this.customers.grantCustomerRole(m, tenantId, user.id, principal.userId);
      await this.audit.record(m, {
        tenantId,
        action: 'customer.created',
        subjectType: CUSTOMER,
        subjectId: user.id,
        after: { email: user.email, displayName: user.displayName, status: 'invited' },
      });
      if (salesUserId) {
        const created = (await this.customers.find(m, tenantId, user.id, true))!;
        await this.applyBinding(m, principal, created, salesUserId);
      }
      const token = await this.oneTimeTokens.issue(m, {
        tenantId,
        userId: user.id,
        purpose: 'invitation',
        ttlSeconds: this.config.INVITATION_TTL_HOURS * 3600,
        createdBy: principal.userId,
      });
      const link = this.mail.linkOn(await this.users.primaryDomain(m, tenantId), `/accept-invitation?token=${encodeURIComponent(token)}`);
      await this.mail.enqueue({
        tenantId,
        to: user.email,
        kind: 'invitation',
        subject: `Your ${principal.tenantSlug} API account`,
        text:
          `${principal.email} created an account for you.\n\n` +
          `Accept the invitation and choose your password here (valid for ${this.config.INVITATION_TTL_HOURS} hours):\n${link}\n\n` +
          `Invitation token: ${token}\n`,
      });
      return (await this.customers.find(m, tenantId, user.id))!.view;
    });
  }

  update(customerId: string, input: UpdateCustomerRequest): Promise<CustomerView> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'update', true);
      if (input.displayName !== undefined && input.displayName !== customer.view.displayName) {
        await m.update(User, { id: customerId, tenantId: principal.tenantId }, { displayName: input.displayName });
        await this.audit.record(m, {
          tenantId: principal.tenantId,
          action: 'customer.updated',
          subjectType: CUSTOMER,
          subjectId: customerId,
          before: { displayName: customer.view.displayName },
          after: { displayName: input.displayName },
        });
      }
      return (await this.customers.find(m, principal.tenantId, customerId))!.view;
    });
  }

  /** A disabled customer cannot sign in, and their sessions end at once. */
  async setStatus(customerId: string, status: 'active' | 'disabled'): Promise<CustomerView> {
    const principal = this.auth.principal;
    const { view, sessionIds } = await this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, status === 'disabled' ? 'disable' : 'enable', true);
      if (customer.view.status === 'invited') {
        throw AppException.conflict('An invited customer has not joined yet: their status changes when they accept the invitation.');
      }
      if (status === 'active' && (await this.users.findById(m, principal.tenantId, customerId))?.deletedAt) {
        throw AppException.conflict('This account was deleted (its personal data erased); it cannot be enabled again.');
      }
      let sessionIds: string[] = [];
      if (customer.view.status !== status) {
        await m.update(User, { id: customerId, tenantId: principal.tenantId }, { status });
        if (status === 'disabled') sessionIds = await this.sessions.revokeAllOfUser(m, principal.tenantId, customerId);
        await this.audit.record(m, {
          tenantId: principal.tenantId,
          action: status === 'disabled' ? 'customer.disabled' : 'customer.enabled',
          subjectType: CUSTOMER,
          subjectId: customerId,
          before: { status: customer.view.status },
          after: { status },
        });
        await this.outbox.publish(m, principal.tenantId, 'account.status_changed', { customerId, status, previousStatus: customer.view.status, by: principal.userId });
      }
      return { view: (await this.customers.find(m, principal.tenantId, customerId))!.view, sessionIds };
    });
    await Promise.all(sessionIds.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
    // Their API keys stop (or work again) on every api instance within seconds.
    await this.keysRuntime.invalidateCustomer(customerId);
    return view;
  }

  /** Binds (or reassigns) one customer; binding to the current salesperson changes nothing. */
  setSales(customerId: string, salesUserId: string | null): Promise<CustomerView> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'read', true);
      this.auth.assertCan('assign', CUSTOMER_BINDING, { tenantId: principal.tenantId, salesUserId: customer.subject.salesUserId });
      await this.applyBinding(m, principal, customer, salesUserId);
      return (await this.customers.find(m, principal.tenantId, customerId))!.view;
    });
  }

  /**
   * Up to 1,000 bindings in one request, each applied on its own (a savepoint per item): every
   * item answers ok or a problem code, and a failed item leaves nothing behind.
   */
  bulk(items: BindingItem[]): Promise<BulkBindingsResponse> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('assign', CUSTOMER_BINDING, { tenantId: principal.tenantId });
      const seen = new Map<string, number>();
      for (const item of items) seen.set(item.customerId.toLowerCase(), (seen.get(item.customerId.toLowerCase()) ?? 0) + 1);
      const results: BindingResult[] = [];
      for (const item of items) {
        const customerId = item.customerId.toLowerCase();
        if (seen.get(customerId)! > 1) {
          const problem = customerError(CustomerErrorCode.DuplicateItem);
          results.push({ customerId: item.customerId, status: 'error', code: problem.code, detail: problem.title });
          continue;
        }
        await m.query('SAVEPOINT binding_item');
        try {
          const customer = await this.customer(m, customerId, 'read', true);
          this.auth.assertCan('assign', CUSTOMER_BINDING, { tenantId: principal.tenantId, salesUserId: customer.subject.salesUserId });
          await this.applyBinding(m, principal, customer, item.salesUserId?.toLowerCase() ?? null);
          await m.query('RELEASE SAVEPOINT binding_item');
          results.push({ customerId: item.customerId, status: 'ok', salesUserId: item.salesUserId });
        } catch (error) {
          await m.query('ROLLBACK TO SAVEPOINT binding_item');
          const problem = this.itemProblem(error);
          results.push({ customerId: item.customerId, status: 'error', code: problem.code, detail: problem.detail ?? problem.title });
        }
      }
      const ok = results.filter((r) => r.status === 'ok').length;
      return { ok, failed: results.length - ok, results };
    });
  }

  history(customerId: string): Promise<BindingPeriodView[]> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'read');
      this.auth.assertCan('read', CUSTOMER_BINDING, { tenantId: principal.tenantId, salesUserId: customer.subject.salesUserId });
      return this.customers.history(m, principal.tenantId, customerId);
    });
  }

  usageOf(customerId: string, query: UsageQuery): Promise<UsageSummary> {
    const principal = this.auth.principal;
    const range = usageRange(query);
    return this.tenantDb.forRequest(async (m) => {
      await this.customer(m, customerId, 'read');
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const { totals, groups } = await this.usage.summarize(m, scope, { ...range, customerId }, query.groupBy);
      return {
        ...range,
        totals: toTotals(totals, principal),
        ...(query.groupBy ? { groups: groups.map((g) => ({ key: g.key, ...toTotals(g, principal) })) } : {}),
      };
    });
  }

  /**
   * Binds `customer` to `salesUserId` (null: unbinds), closing the current period first. Only an
   * active member of the same tenant holding the sales role can be bound; the member's row is
   * locked so a concurrent disable or removal cannot slip between the check and the binding.
   */
  private async applyBinding(m: EntityManager, principal: Principal, customer: CustomerRecord, salesUserId: string | null): Promise<void> {
    const tenantId = principal.tenantId;
    const current = customer.subject.salesUserId;
    if (salesUserId) {
      const salesperson = await this.customers.lockSalesperson(m, tenantId, salesUserId);
      if (!salesperson) throw customerError(CustomerErrorCode.SalespersonNotFound);
      if (!salesperson.isSales) throw customerError(CustomerErrorCode.NotASalesperson);
      if (salesperson.status !== 'active') throw customerError(CustomerErrorCode.SalespersonInactive);
    }
    if (current === salesUserId) return;
    if (current) await this.customers.unbind(m, tenantId, customer.subject.id, principal.userId, salesUserId ? 'reassigned' : 'unbound');
    if (salesUserId) await this.customers.bind(m, tenantId, customer.subject.id, salesUserId, principal.userId);
    await this.audit.record(m, {
      tenantId,
      action: salesUserId ? (current ? 'customer.reassigned' : 'customer.bound') : 'customer.unbound',
      subjectType: CUSTOMER,
      subjectId: customer.subject.id,
      before: { salesUserId: current },
      after: { salesUserId },
    });
  }

  /**
   * The customer if the caller may `action` it: 404 when they may not even read it (another
   * salesperson's or an unbound customer, for a salesperson), 403 when they may read but not act.
   */
  private async customer(m: EntityManager, customerId: string, action: CustomerAction, lock = false): Promise<CustomerRecord> {
    const customer = await this.customers.find(m, this.auth.principal.tenantId, customerId, lock);
    if (!customer) throw AppException.notFound(CUSTOMER);
    this.auth.assertCan(action, CUSTOMER, customer.subject);
    return customer;
  }

  private itemProblem(error: unknown): AppException {
    if (error instanceof AppException) return error;
    if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') {
      return AppException.conflict('A concurrent change bound this customer; retry the item.');
    }
    if (error instanceof QueryFailedError && ['40001', '40P01'].includes((error as QueryFailedError & { code?: string }).code ?? '')) {
      return AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'A concurrent change got in the way; retry the item.');
    }
    throw error;
  }
}
