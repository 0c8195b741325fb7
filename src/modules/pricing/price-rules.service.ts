import { Injectable } from '@nestjs/common';
import Decimal from 'decimal.js';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TokenPrice, trimDecimal } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { CUSTOMER_GROUP, CUSTOMER_PRICE } from './pricing.permissions';
import { CreateGroupRequest, CustomerGroupView, FactorView, GroupView, OverrideView, PriceRulesView, ResolvedPriceView, SetCustomerGroupRequest, SetFactorRequest } from './dto/price-rules.dto';
import { SetPriceRequest } from './dto/pricing.dto';
import { belowFloor, FactorVersion, imagesBelowFloor, PriceBook, versionAt, wholesaleOf } from './price-book';
import { PriceRulesRepository } from './price-rules.repository';
import { PricingRuntime } from './pricing-runtime';
import { PricingErrorCode, pricingError } from './pricing.exceptions';
import { PRICE, PRICE_COST } from './pricing.permissions';
import { PricingRepository } from './pricing.repository';
import { assertModelName, assertSameUnit, PAST_TOLERANCE_MS, priceOf, priceView } from './pricing.service';

const factorView = (versions: readonly FactorVersion[] | undefined, at: number): FactorView => {
  const v = versionAt(versions, at);
  return { factor: v?.factor ?? null, effectiveFrom: v ? v.effectiveFrom : null };
};

/**
 * Customer groups, the tenant's markup, group multipliers and per-group / per-customer price
 * overrides (issue 26). Every rule is a new version (append-only, effective now or later); the
 * proxy resolves a customer's price from them in memory (PriceBook.effective) at admission, and the
 * hold and the settlement of a request use that one price. Owner and finance edit (the "model
 * pricing" capability); an override below the wholesale floor is refused, and a computed price
 * is raised to it.
 */
@Injectable()
export class PriceRulesService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: PriceRulesRepository,
    private readonly prices: PricingRepository,
    private readonly runtime: PricingRuntime,
    private readonly audit: AuditService,
  ) {}

  rules(): Promise<PriceRulesView> {
    const tenantId = this.auth.principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', PRICE_COST, { tenantId });
      const rules = await this.prices.loadRules(m, tenantId);
      const now = Date.now();
      const groups: GroupView[] = (await this.repository.groups(m, tenantId)).map((g) => ({
        id: g.id,
        name: g.name,
        members: g.members,
        multiplier: factorView(rules.groupFactors.get(g.id), now),
        overriddenModels: [...rules.groupOverrides.entries()]
          .filter(([key, versions]) => key.startsWith(`${g.id}\u0000`) && versionAt(versions, now)?.price)
          .map(([key]) => key.slice(g.id.length + 1))
          .sort(),
        createdAt: g.createdAt,
      }));
      return { tenantId, markup: factorView(rules.markup, now), groups };
    });
  }

  async createGroup(input: CreateGroupRequest): Promise<GroupView> {
    const principal = this.auth.principal;
    const name = input.name.trim();
    if (!name) throw AppException.validation([{ field: 'name', messages: ['name must not be blank'] }]);
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CUSTOMER_GROUP, { tenantId: principal.tenantId });
      const id = await this.repository.createGroup(m, principal.tenantId, name, principal.userId);
      if (!id) throw pricingError(PricingErrorCode.GroupNameTaken, `A customer group named "${name}" exists already.`);
      await this.audit.record(m, { tenantId: principal.tenantId, action: 'price.group_created', subjectType: CUSTOMER_GROUP, subjectId: id, before: null, after: { name } });
      return { id, name, members: 0, multiplier: { factor: null, effectiveFrom: null }, overriddenModels: [], createdAt: new Date() };
    });
  }

  /** The tenant-wide markup: retail = wholesale x factor for every model the reseller prices no own. */
  async setMarkup(input: SetFactorRequest): Promise<FactorView> {
    const principal = this.auth.principal;
    if (principal.tenantType === 'platform') throw pricingError(PricingErrorCode.MarkupNotForPlatform, "The platform's list is its retail price.");
    return this.setFactor(null, input);
  }

  async setGroupMultiplier(groupId: string, input: SetFactorRequest): Promise<FactorView> {
    return this.setFactor(groupId, input);
  }

  async setGroupPrice(groupId: string, model: string, input: SetPriceRequest | null): Promise<OverrideView> {
    return this.setOverride({ groupId }, model, input);
  }

  async setCustomerPrice(customerId: string, model: string, input: SetPriceRequest | null): Promise<OverrideView> {
    return this.setOverride({ customerId }, model, input);
  }

  async setCustomerGroup(customerId: string, input: SetCustomerGroupRequest): Promise<CustomerGroupView> {
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CUSTOMER_PRICE, { tenantId });
      if (!(await this.repository.isCustomer(m, tenantId, customerId))) throw AppException.notFound('customer');
      if (input.groupId !== null && !(await this.repository.group(m, tenantId, input.groupId))) throw AppException.notFound(CUSTOMER_GROUP);
      const before = await this.repository.groupOf(m, tenantId, customerId);
      await this.repository.setGroup(m, tenantId, customerId, input.groupId, principal.userId);
      await this.audit.record(m, { tenantId, action: 'price.customer_group_set', subjectType: CUSTOMER_PRICE, subjectId: customerId, before: { groupId: before }, after: { groupId: input.groupId } });
      return { customerId, groupId: input.groupId };
    });
    await this.runtime.invalidate(tenantId);
    return view;
  }

  /** What `customerId` pays for `model` now, and the rule that won. */
  async resolve(customerId: string, model: string): Promise<ResolvedPriceView> {
    assertModelName(model);
    const tenantId = this.auth.principal.tenantId;
    const parent = await this.parentBookOf(tenantId);
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', PRICE_COST, { tenantId });
      if (!(await this.repository.isCustomer(m, tenantId, customerId))) throw AppException.notFound('customer');
      const price = (await this.book(m, tenantId, parent)).effective(model, Date.now(), customerId);
      if (!price) throw AppException.notFound('model price');
      return {
        model,
        customerId,
        price: priceView(price.retail),
        wholesale: priceView(price.wholesale),
        rule: price.rule,
        effectiveFrom: price.retailEffectiveFrom,
      };
    });
  }

  private async setFactor(groupId: string | null, input: SetFactorRequest): Promise<FactorView> {
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    const effectiveFrom = this.effectiveFrom(input.effectiveFrom);
    const factor = input.factor === null ? null : trimDecimal(input.factor);
    if (factor !== null && new Decimal(factor).lessThanOrEqualTo(0)) throw AppException.validation([{ field: 'factor', messages: ['factor must be greater than 0'] }]);
    await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', groupId ? CUSTOMER_GROUP : PRICE, { tenantId });
      if (groupId && !(await this.repository.group(m, tenantId, groupId))) throw AppException.notFound(CUSTOMER_GROUP);
      const id = await this.repository.insertFactor(m, tenantId, groupId, factor, effectiveFrom, principal.userId);
      if (!id) throw pricingError(PricingErrorCode.VersionExists, `A version already takes effect at ${effectiveFrom.toISOString()}.`);
      await this.audit.record(m, {
        tenantId,
        action: groupId ? 'price.group_multiplier_set' : 'price.markup_set',
        subjectType: groupId ? CUSTOMER_GROUP : PRICE,
        subjectId: groupId ?? 'markup',
        before: null,
        after: { factor, effectiveFrom: effectiveFrom.toISOString(), versionId: id },
      });
    });
    await this.runtime.invalidate(tenantId);
    return { factor, effectiveFrom };
  }

  private async setOverride(subject: { groupId: string } | { customerId: string }, model: string, input: SetPriceRequest | null): Promise<OverrideView> {
    assertModelName(model);
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    const effectiveFrom = this.effectiveFrom(input?.effectiveFrom);
    const price: TokenPrice | null = input ? priceOf(input) : null;
    const parent = await this.parentBookOf(tenantId);
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', 'groupId' in subject ? CUSTOMER_GROUP : CUSTOMER_PRICE, { tenantId });
      if ('groupId' in subject) {
        if (!(await this.repository.group(m, tenantId, subject.groupId))) throw AppException.notFound(CUSTOMER_GROUP);
      } else if (!(await this.repository.isCustomer(m, tenantId, subject.customerId))) {
        throw AppException.notFound('customer');
      }
      const book = await this.book(m, tenantId, parent);
      if (!book.data.platform.has(model)) throw pricingError(PricingErrorCode.UnknownModel, `The platform has no price for ${model}.`, { errors: [{ field: 'model', messages: [`unknown model ${model}`] }] });
      if (price) {
        const platform = versionAt(book.data.platform.get(model), effectiveFrom.getTime());
        if (!platform) throw pricingError(PricingErrorCode.UnknownModel, `The platform's price for ${model} starts later than ${effectiveFrom.toISOString()}.`, { errors: [{ field: 'effectiveFrom', messages: ['the model has no platform price yet at this time'] }] });
        // What the tenant pays then (a sub-reseller: what its parent charges it).
        const floor = book.effective(model, effectiveFrom.getTime())?.wholesale ?? wholesaleOf(platform.price, book.data.tenantType === 'reseller' ? book.data.discountPercent : '0');
        assertSameUnit(price, platform.price);
        const below = [...belowFloor(price, floor), ...imagesBelowFloor(price, floor).map((i) => ({ field: `imagePrices.${i.key}`, floor: i.floor }))];
        if (below.length > 0) {
          throw pricingError(
            PricingErrorCode.BelowWholesale,
            `The wholesale price of ${model} is the floor: ${below.map((b) => `${b.field} at least ${b.floor}`).join(', ')}.`,
            { errors: below.map((b) => ({ field: b.field, messages: [`must be at least ${b.floor} (the wholesale price)`] })) },
          );
        }
      }
      const id = await this.repository.insertOverride(m, tenantId, subject, model, price, effectiveFrom, principal.userId);
      if (!id) throw pricingError(PricingErrorCode.VersionExists, `${model} already has an override taking effect at ${effectiveFrom.toISOString()}.`);
      const isGroup = 'groupId' in subject;
      await this.audit.record(m, {
        tenantId,
        action: isGroup ? (price ? 'price.group_override_set' : 'price.group_override_cleared') : price ? 'price.customer_override_set' : 'price.customer_override_cleared',
        subjectType: isGroup ? CUSTOMER_GROUP : CUSTOMER_PRICE,
        subjectId: isGroup ? subject.groupId : subject.customerId,
        before: null,
        after: { model, price: price ? { ...priceView(price) } : null, effectiveFrom: effectiveFrom.toISOString(), versionId: id },
      });
      return { model, price: price ? priceView(price) : null, effectiveFrom, versionId: id };
    });
    await this.runtime.invalidate(tenantId);
    return view;
  }

  private effectiveFrom(input: string | undefined): Date {
    const now = Date.now();
    const at = input ? new Date(input) : new Date(now);
    if (at.getTime() < now - PAST_TOLERANCE_MS) {
      throw AppException.validation([{ field: 'effectiveFrom', messages: ['effectiveFrom must not be in the past (past requests keep the price they were charged)'] }]);
    }
    return at;
  }

  private async book(m: EntityManager, tenantId: string, parent: PriceBook | null): Promise<PriceBook> {
    const data = await this.prices.loadBook(m, tenantId);
    if (!data) throw AppException.notFound('tenant');
    return new PriceBook(data, data.parentId ? parent : null);
  }

  /** A sub-reseller's parent's book, fresh, read before the request's transaction (see PricingService). */
  private async parentBookOf(tenantId: string): Promise<PriceBook | null> {
    const parentId = await this.runtime.parentOf(tenantId);
    return parentId ? this.runtime.freshBook(parentId) : null;
  }
}
