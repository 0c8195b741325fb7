import { Injectable } from '@nestjs/common';
import Decimal from 'decimal.js';
import { asSubject, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { CURRENCY, TokenPrice, trimDecimal } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { TENANT } from '../tenants/tenants.permissions';
import { TenantsRepository } from '../tenants/tenants.repository';
import { DiscountView, EffectivePriceView, MODEL_NAME, PriceHistoryView, PriceListView, PriceView, SetDiscountRequest, SetPriceRequest } from './dto/pricing.dto';
import { belowFloor, imagesBelowFloor, marginOf, PriceBook, PriceVersion, versionAt, wholesaleOf } from './price-book';
import { PricingRuntime } from './pricing-runtime';
import { PricingErrorCode, pricingError } from './pricing.exceptions';
import { SetSpotFactorRequest, SpotFactorView } from './dto/sub-resellers.dto';
import { PRICE, PRICE_COST, WHOLESALE_DISCOUNT } from './pricing.permissions';
import { PricingRepository } from './pricing.repository';
import { assertChildrenAboveCost, SubResellersService } from './sub-resellers.service';

/** A new price may not start in the past; this much clock skew between client and server is forgiven. */
export const PAST_TOLERANCE_MS = 5_000;

export const priceView = (p: TokenPrice): PriceView => ({
  inputPerMillion: p.inputPerMillion,
  outputPerMillion: p.outputPerMillion,
  cacheReadPerMillion: p.cacheReadPerMillion ?? null,
  cacheWritePerMillion: p.cacheWritePerMillion ?? null,
  cacheWrite1hPerMillion: p.cacheWrite1hPerMillion ?? null,
  reasoningPerMillion: p.reasoningPerMillion ?? null,
  perRequest: p.perRequest ?? null,
  unit: p.unit ?? 'token',
  imagePrices: p.imagePrices ?? null,
});

/** Normalises a validated request into a price (trailing zeros removed, absent buckets null). */
export function priceOf(input: SetPriceRequest): TokenPrice {
  const opt = (v: string | null | undefined) => (v === undefined || v === null ? null : trimDecimal(v));
  return {
    inputPerMillion: trimDecimal(input.inputPerMillion),
    outputPerMillion: trimDecimal(input.outputPerMillion),
    cacheReadPerMillion: opt(input.cacheReadPerMillion),
    cacheWritePerMillion: opt(input.cacheWritePerMillion),
    cacheWrite1hPerMillion: opt(input.cacheWrite1hPerMillion),
    reasoningPerMillion: opt(input.reasoningPerMillion),
    perRequest: opt(input.perRequest),
    ...(input.unit ? { unit: input.unit } : {}),
    ...(input.imagePrices ? { imagePrices: Object.fromEntries(Object.entries(input.imagePrices).map(([key, value]) => [key, trimDecimal(value)])) } : {}),
  };
}

/**
 * A reseller's price (or an override) counts what the platform's counts: its unit is the
 * platform's (taken when not given; a different one is refused).
 */
export function assertSameUnit(price: TokenPrice, platform: TokenPrice): void {
  const unit = platform.unit ?? 'token';
  if ((price.unit ?? unit) !== unit) {
    throw AppException.validation([{ field: 'unit', messages: [`the platform prices this model per ${unit}: a price of it must count the same unit`] }]);
  }
  if (unit !== 'token') price.unit = unit;
  else delete price.unit;
}

export function assertModelName(model: string): void {
  if (!MODEL_NAME.test(model)) {
    throw AppException.validation([{ field: 'model', messages: ['model must be 1-200 characters: letters, digits and . _ : / @ + -'] }]);
  }
}

@Injectable()
export class PricingService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: PricingRepository,
    private readonly tenants: TenantsRepository,
    private readonly runtime: PricingRuntime,
    private readonly audit: AuditService,
    private readonly subResellers: SubResellersService,
  ) {}

  /**
   * A tenant's effective list now (default: the caller's); wholesale and margin for owner and
   * finance only. Platform owner and finance may read any reseller's.
   */
  async list(tenantId?: string): Promise<PriceListView> {
    const principal = this.auth.principal;
    const parent = await this.parentBookOf(tenantId ?? principal.tenantId);
    return this.tenantDb.forRequest(async (m) => {
      let subject = { tenantId: principal.tenantId, tenantType: principal.tenantType as string };
      if (tenantId && tenantId !== principal.tenantId) {
        const tenant = await this.tenants.findById(m, tenantId);
        if (!tenant) throw AppException.notFound(TENANT);
        subject = { tenantId: tenant.id, tenantType: tenant.type };
      }
      this.auth.assertCan('read', PRICE, subject);
      const book = await this.loadBook(m, subject.tenantId, parent);
      const withCost = this.auth.ability.can('read', asSubject(PRICE_COST, subject));
      const now = Date.now();
      const items: EffectivePriceView[] = [];
      for (const model of book.knownModels()) {
        const price = book.effective(model, now);
        if (!price) continue;
        const item: EffectivePriceView = {
          model,
          price: priceView(price.retail),
          source: price.retailSource,
          effectiveFrom: price.retailEffectiveFrom,
          hidden: price.hidden,
        };
        if (withCost) {
          item.wholesale = priceView(price.wholesale);
          item.margin = marginOf(price.retail, price.wholesale);
          item.belowWholesale = belowFloor(price.retail, price.wholesale).length + imagesBelowFloor(price.retail, price.wholesale).length > 0;
          item.rule = price.rule.winner;
          item.markup = price.rule.markup;
          if (price.rule.wholesaleFloorApplied.length) item.wholesaleFloorApplied = price.rule.wholesaleFloorApplied;
        }
        const spot = book.effective(model, now, null, 'spot');
        if (spot && spot !== price) {
          item.spot = { factor: spot.spotFactor!, price: priceView(spot.retail) };
          if (withCost) {
            item.spot.wholesale = priceView(spot.wholesale);
            item.spot.margin = marginOf(spot.retail, spot.wholesale);
            item.spot.floorApplied = spot.rule.floorApplied;
          }
        }
        items.push(item);
      }
      const view: PriceListView = { tenantId: subject.tenantId, currency: CURRENCY, items };
      if (withCost && book.data.tenantType === 'reseller') view.wholesaleDiscountPercent = book.data.discountPercent;
      return view;
    });
  }

  /**
   * Adds a version to the caller's tenant's list: the platform's list for platform owner and
   * finance (which defines the known models), the reseller's retail list otherwise. A reseller's
   * price must be known to the platform and at least its wholesale price at the effective time.
   */
  async setPrice(model: string, input: SetPriceRequest): Promise<EffectivePriceView> {
    assertModelName(model);
    const principal = this.auth.principal;
    const parent = await this.parentBookOf(principal.tenantId);
    const now = Date.now();
    const effectiveFrom = input.effectiveFrom ? new Date(input.effectiveFrom) : new Date(now);
    if (effectiveFrom.getTime() < now - PAST_TOLERANCE_MS) {
      throw AppException.validation([{ field: 'effectiveFrom', messages: ['effectiveFrom must not be in the past (past requests keep the price they were charged)'] }]);
    }
    const price = priceOf(input);
    // A reseller's children pay its list less their discount: a lower list must not take them under its cost.
    const children = principal.tenantType === 'reseller' ? await this.subResellers.childDiscounts(principal.tenantId) : [];
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', PRICE, { tenantId: principal.tenantId });
      const book = await this.loadBook(m, principal.tenantId, parent);
      const isPlatform = book.data.tenantType === 'platform';
      if (!isPlatform) {
        const platform = versionAt(book.data.platform.get(model), effectiveFrom.getTime());
        if (!book.data.platform.has(model)) throw pricingError(PricingErrorCode.UnknownModel, `The platform has no price for ${model}.`, { errors: [{ field: 'model', messages: [`unknown model ${model}`] }] });
        if (!platform) throw pricingError(PricingErrorCode.UnknownModel, `The platform's price for ${model} starts later than ${effectiveFrom.toISOString()}.`, { errors: [{ field: 'effectiveFrom', messages: ['the model has no platform price yet at this time'] }] });
        // What the tenant pays at that time: the platform's list less its discount, or (a
        // sub-reseller) what its parent charges it.
        const floor = book.effective(model, effectiveFrom.getTime())?.wholesale ?? wholesaleOf(platform.price, book.data.discountPercent);
        assertSameUnit(price, platform.price);
        const below = [...belowFloor(price, floor), ...imagesBelowFloor(price, floor).map((i) => ({ field: `imagePrices.${i.key}`, floor: i.floor }))];
        if (below.length > 0) {
          throw pricingError(
            PricingErrorCode.BelowWholesale,
            `Your wholesale price for ${model} is the floor: ${below.map((b) => `${b.field} at least ${b.floor}`).join(', ')}.`,
            { errors: below.map((b) => ({ field: b.field, messages: [`must be at least ${b.floor} (your wholesale price)`] })) },
          );
        }
        assertChildrenAboveCost(book, model, price, effectiveFrom, children);
      }
      const list = isPlatform ? 'platform' : { tenantId: principal.tenantId };
      const previous = isPlatform ? versionAt(book.data.platform.get(model), effectiveFrom.getTime()) : versionAt(book.data.own.get(model), effectiveFrom.getTime());
      const id = await this.repository.insert(m, list, { model, price, effectiveFrom, setBy: principal.userId });
      if (!id) throw pricingError(PricingErrorCode.VersionExists, `${model} already has a price taking effect at ${effectiveFrom.toISOString()}.`);
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: isPlatform ? 'price.platform_set' : 'price.set',
        subjectType: PRICE,
        subjectId: model,
        before: previous ? { ...priceView(previous.price) } : null,
        after: { ...priceView(price), effectiveFrom: effectiveFrom.toISOString(), versionId: id },
      });
      return {
        model,
        price: priceView(price),
        source: 'own' as const,
        effectiveFrom,
        hidden: book.data.hidden.has(model),
      };
    });
    await this.runtime.invalidate(principal.tenantType === 'platform' ? '*' : principal.tenantId);
    return view;
  }

  /**
   * Adds a version of a model's spot factor: the platform's (owner/finance of the platform: it
   * scales the platform list and the wholesale of every reseller it sells to) or the caller
   * reseller's (its retail and what its sub-resellers pay). null clears it (the seller's applies).
   */
  async setSpotFactor(model: string, input: SetSpotFactorRequest): Promise<SpotFactorView> {
    assertModelName(model);
    const principal = this.auth.principal;
    const now = Date.now();
    const effectiveFrom = input.effectiveFrom ? new Date(input.effectiveFrom) : new Date(now);
    if (effectiveFrom.getTime() < now - PAST_TOLERANCE_MS) {
      throw AppException.validation([{ field: 'effectiveFrom', messages: ['effectiveFrom must not be in the past (past requests keep the price they were charged)'] }]);
    }
    const factor = input.factor === null ? null : trimDecimal(input.factor);
    if (factor !== null && new Decimal(factor).lessThanOrEqualTo(0)) {
      throw AppException.validation([{ field: 'factor', messages: ['factor must be above 0 (and at most 1)'] }]);
    }
    const isPlatform = principal.tenantType === 'platform';
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', PRICE, { tenantId: principal.tenantId });
      if (!(await this.repository.platformKnows(m, model))) {
        throw pricingError(PricingErrorCode.UnknownModel, `The platform has no price for ${model}.`, { errors: [{ field: 'model', messages: [`unknown model ${model}`] }] });
      }
      const id = await this.repository.insertSpotFactor(m, isPlatform ? 'platform' : principal.tenantId, model, factor, effectiveFrom, principal.userId);
      if (!id) throw pricingError(PricingErrorCode.VersionExists, `${model} already has a spot factor taking effect at ${effectiveFrom.toISOString()}.`);
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: isPlatform ? 'price.platform_spot_factor_set' : 'price.spot_factor_set',
        subjectType: PRICE,
        subjectId: model,
        after: { factor, effectiveFrom: effectiveFrom.toISOString(), versionId: id },
      });
      return { model, factor, effectiveFrom, versionId: id };
    });
    await this.runtime.invalidate(isPlatform ? '*' : principal.tenantId);
    return view;
  }

  history(model: string): Promise<PriceHistoryView> {
    assertModelName(model);
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', PRICE_COST, { tenantId: principal.tenantId });
      const platform = await this.repository.history(m, 'platform', model);
      const own = principal.tenantType === 'reseller' ? await this.repository.history(m, { tenantId: principal.tenantId }, model) : [];
      if (platform.length === 0 && own.length === 0) throw AppException.notFound('model price');
      const toView = (list: 'platform' | 'own') => (v: PriceVersion & { setByEmail: string | null }) => ({
        id: v.id,
        model: v.model,
        list,
        price: priceView(v.price),
        effectiveFrom: v.effectiveFrom,
        setBy: v.setBy,
        setByEmail: v.setByEmail,
        createdAt: v.createdAt,
      });
      return { model, items: [...own.map(toView('own')), ...platform.map(toView(principal.tenantType === 'platform' ? 'own' : 'platform'))] };
    });
  }

  async setVisibility(model: string, hidden: boolean): Promise<EffectivePriceView> {
    assertModelName(model);
    const principal = this.auth.principal;
    const parent = await this.parentBookOf(principal.tenantId);
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', PRICE, { tenantId: principal.tenantId });
      if (!(await this.repository.platformKnows(m, model))) {
        throw pricingError(PricingErrorCode.UnknownModel, `The platform has no price for ${model}.`, { errors: [{ field: 'model', messages: [`unknown model ${model}`] }] });
      }
      if (await this.repository.setHidden(m, principal.tenantId, model, hidden, principal.userId)) {
        await this.audit.record(m, {
          tenantId: principal.tenantId,
          action: hidden ? 'price.model_hidden' : 'price.model_shown',
          subjectType: PRICE,
          subjectId: model,
          before: { hidden: !hidden },
          after: { hidden },
        });
      }
      const price = (await this.loadBook(m, principal.tenantId, parent)).effective(model);
      if (!price) throw AppException.notFound('model price');
      return { model, price: priceView(price.retail), source: price.retailSource, effectiveFrom: price.retailEffectiveFrom, hidden };
    });
    await this.runtime.invalidate(principal.tenantId);
    return view;
  }

  async getDiscount(tenantId: string): Promise<DiscountView> {
    const child = await this.subResellers.getChildDiscount(tenantId);
    if (child) return child;
    return this.tenantDb.forRequest(async (m) => {
      await this.resellerFor(m, tenantId, 'read');
      return { tenantId, percent: (await this.repository.discount(m, tenantId)) ?? '0' };
    });
  }

  async setDiscount(tenantId: string, input: SetDiscountRequest): Promise<DiscountView> {
    // A reseller setting what its own sub-reseller pays it (never below its own cost).
    const child = await this.subResellers.setChildDiscount(tenantId, input.percent);
    if (child) return child;
    const percent = trimDecimal(input.percent);
    await this.tenantDb.forRequest(async (m) => {
      await this.resellerFor(m, tenantId, 'update');
      const before = (await this.repository.discount(m, tenantId)) ?? '0';
      await this.repository.setDiscount(m, tenantId, percent, this.auth.principal.userId);
      await this.audit.record(m, {
        tenantId,
        action: 'price.wholesale_discount_set',
        subjectType: WHOLESALE_DISCOUNT,
        subjectId: tenantId,
        before: { percent: before },
        after: { percent },
      });
    });
    await this.runtime.invalidate(tenantId);
    return { tenantId, percent };
  }

  private async resellerFor(m: EntityManager, tenantId: string, action: 'read' | 'update') {
    const tenant = await this.tenants.findById(m, tenantId);
    if (!tenant) throw AppException.notFound(TENANT);
    // Only resellers have a discount: the platform tenant matches no rule that allows changing one.
    this.auth.assertCan(action, WHOLESALE_DISCOUNT, { tenantId: tenant.id, tenantType: tenant.type });
    return tenant;
  }

  private async loadBook(m: EntityManager, tenantId: string, parent: PriceBook | null): Promise<PriceBook> {
    const data = await this.repository.loadBook(m, tenantId);
    if (!data) throw AppException.notFound(TENANT);
    return new PriceBook(data, data.parentId ? parent : null);
  }

  /**
   * A sub-reseller's parent's book, fresh (each ancestor read under its own scope: the parent's
   * list and costs never pass through the child's transaction, and only the child's own wholesale
   * is shown to it). Null for the platform and its resellers. Called before the request's
   * transaction (a transaction cannot change its scope).
   */
  private async parentBookOf(tenantId: string): Promise<PriceBook | null> {
    const parentId = await this.runtime.parentOf(tenantId);
    return parentId ? this.runtime.freshBook(parentId) : null;
  }
}
