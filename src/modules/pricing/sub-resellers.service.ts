import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TokenPrice, trimDecimal } from '@app/money';
import { TenantDb, TenantResolver } from '@app/tenancy';
import { EntityManager, QueryFailedError } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { AuditService } from '../audit/audit.service';
import { MembersService } from '../members/members.service';
import { Tenant } from '../tenants/tenant.entity';
import { TENANT, TENANT_DOMAIN } from '../tenants/tenants.permissions';
import { domainView, TenantsService } from '../tenants/tenants.service';
import { DomainView } from '../tenants/dto/tenant.dto';
import { TenantsRepository } from '../tenants/tenants.repository';
import { TenantErrorCode, tenantError } from '../tenants/tenants.exceptions';
import { CreateSubResellerRequest, FloorLiftView, InviteSubResellerOwnerRequest, SubResellerDomainCheck, SubResellerList, SubResellerOwnerView, SubResellerView } from './dto/sub-resellers.dto';
import { belowFloor, imagesBelowFloor, PriceBook, wholesaleOf } from './price-book';
import { PricingRuntime } from './pricing-runtime';
import { PricingErrorCode, pricingError } from './pricing.exceptions';
import { SUB_RESELLER, WHOLESALE_DISCOUNT } from './pricing.permissions';
import { PricingRepository } from './pricing.repository';

/**
 * Sub-resellers (issue 26): a reseller's owner creates reseller tenants under it (parent_id = its
 * tenant) and sets the wholesale discount each pays off its list price (the platform's mechanism,
 * scoped to the parent), never below the parent's own cost. A parent reaches a child's tenant
 * record and discount row only: its own transaction asks `tenancy.child_tenant_ids` for its
 * children, then a short transaction widened to exactly those (or that) child does the work. It
 * never reaches their customers, keys or usage records (what children paid it are its own
 * `usage_resale` rows).
 */
@Injectable()
export class SubResellersService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly tenants: TenantsRepository,
    private readonly repository: PricingRepository,
    private readonly runtime: PricingRuntime,
    private readonly audit: AuditService,
    private readonly resolver: TenantResolver,
    private readonly members: MembersService,
    private readonly tenantsService: TenantsService,
  ) {}

  /** The caller's tenant's sub-resellers (owner and finance of a reseller), with their owner and the prices lifted to the caller's cost. */
  async list(): Promise<SubResellerList> {
    const principal = this.auth.principal;
    const children = await this.childrenOf(principal.tenantId);
    if (children.length === 0) return { items: [] };
    const rows: Array<{ id: string; slug: string; name: string; status: string; created_at: Date; percent: string | null; revenue: string }> = await this.tenantDb.run(
      { tenantId: principal.tenantId, also: children },
      (m) =>
        m.query(
          `SELECT t.id, t.slug, t.name, t.status, t.created_at, d.percent::text AS percent,
                  (SELECT coalesce(sum(r.revenue), 0)::numeric(30, 9)::text FROM usage_resale r
                    WHERE r.tenant_id = $1 AND r.buyer_tenant_id = t.id AND r.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS revenue
             FROM tenants t LEFT JOIN reseller_wholesale_discounts d ON d.tenant_id = t.id
            WHERE t.parent_id = $1 AND t.id = ANY($2::uuid[]) ORDER BY t.slug`,
          [principal.tenantId, children],
        ),
    );
    const owners = await this.ownersOf(principal.tenantId, children);
    const domains = await this.domainsOf(principal.tenantId, children);
    const book = rows.length ? await this.ownBook(principal.tenantId) : null;
    const items: SubResellerView[] = [];
    for (const r of rows) {
      this.auth.assertCan('read', SUB_RESELLER, { tenantId: r.id, parentId: principal.tenantId });
      const percent = r.percent === null ? '0' : trimDecimal(r.percent);
      items.push({
        id: r.id,
        slug: r.slug,
        name: r.name,
        status: r.status,
        wholesaleDiscountPercent: percent,
        revenueThisMonth: r.revenue,
        createdAt: r.created_at,
        owner: owners.get(r.id) ?? null,
        floorLifts: book ? floorLifts(book, percent) : [],
        domains: domains.get(r.id) ?? [],
      });
    }
    return { items };
  }

  /**
   * Checks a pending domain of a child now (its parent's owner: the child may have nobody yet to do
   * it), as the child's own staff would: a DNS TXT record or an HTTP token file. Once verified it
   * serves, and a first-owner invitation that waited for a domain is mailed. 404 for a tenant that
   * is not the caller's child or a domain that is not the child's.
   */
  async verifyChildDomain(tenantId: string, domainId: string): Promise<SubResellerDomainCheck> {
    const principal = this.auth.principal;
    if (principal.tenantType !== 'reseller' || !(await this.childrenOf(principal.tenantId)).includes(tenantId)) throw AppException.notFound(TENANT);
    this.auth.assertCan('create', SUB_RESELLER, { tenantId, parentId: principal.tenantId });
    const scope = <T>(work: (m: EntityManager) => Promise<T>) => this.tenantDb.run({ tenantId: principal.tenantId, also: [tenantId] }, work);
    const found = await scope((m) => this.tenants.findDomain(m, tenantId, domainId));
    if (!found) throw AppException.notFound(TENANT_DOMAIN);
    const wasPending = found.status === 'pending';
    const domain = await this.tenantsService.checkDomain(found, scope);
    let owner = (await this.ownersOf(principal.tenantId, [tenantId])).get(tenantId) ?? null;
    if (domain.status !== 'verified') return { domain, owner };
    owner = await scope(async (m) => {
      if (wasPending) {
        await this.audit.record(m, { tenantId: principal.tenantId, action: 'tenant.sub_reseller_domain_verified', subjectType: TENANT, subjectId: tenantId, after: { domain: domain.domain } });
      }
      // The invitation that waited for a domain goes out now, linking to it (also when the
      // worker's sweep verified the domain first).
      if (owner?.status !== 'waiting_for_domain') return owner;
      const child = await this.tenants.findById(m, tenantId);
      return this.inviteIn(m, child!, { email: owner.email });
    });
    return { domain, owner };
  }

  /** Per child, its domains (the primary one first). */
  private async domainsOf(parentId: string, children: string[]): Promise<Map<string, DomainView[]>> {
    const rows = await this.tenantDb.run({ tenantId: parentId, also: children }, (m) => this.tenants.domainsOf(m, children));
    const out = new Map<string, DomainView[]>();
    for (const d of rows) {
      const list = out.get(d.tenantId) ?? [];
      list.push(domainView(d));
      out.set(d.tenantId, list);
    }
    return out;
  }

  /** Creates a reseller tenant under the caller's (reseller owner only), with its domains and discount. */
  async create(input: CreateSubResellerRequest): Promise<SubResellerView> {
    const principal = this.auth.principal;
    this.auth.assertCan('create', SUB_RESELLER, { parentId: principal.tenantId });
    const percent = trimDecimal(input.wholesaleDiscountPercent ?? '0');
    if (percent !== '0') this.assertAboveCost(await this.ownBook(principal.tenantId), percent);
    const id = uuidv7();
    const domains = [...new Set(input.domains ?? [])];
    const view = await this.tenantDb.run({ tenantId: principal.tenantId, also: [id] }, async (m) => {
      if (await this.tenants.slugTaken(m, input.slug)) throw tenantError(TenantErrorCode.SlugTaken);
      for (const domain of domains) if (await this.tenants.domainTaken(m, domain)) throw tenantError(TenantErrorCode.DomainTaken, `${domain} is taken.`);
      const [row] = await m
        .query(`INSERT INTO tenants (id, type, slug, name, parent_id) VALUES ($1, 'reseller', $2, $3, $4) RETURNING created_at, status`, [id, input.slug, input.name, principal.tenantId])
        .catch((e) => conflictOf(e, TenantErrorCode.SlugTaken));
      for (const [index, domain] of domains.entries()) {
        // A reseller vouches for no domain: the child's domains serve once their ownership is verified (issue 28).
        await this.tenants.addDomain(m, id, domain, index === 0, randomBytes(32).toString('base64url')).catch((e) => conflictOf(e, TenantErrorCode.DomainTaken));
      }
      if (percent !== '0') await this.repository.setDiscount(m, id, percent, principal.userId);
      for (const tenantId of [principal.tenantId, id]) {
        await this.audit.record(m, {
          tenantId,
          action: 'tenant.sub_reseller_created',
          subjectType: TENANT,
          subjectId: id,
          after: { slug: input.slug, name: input.name, parentId: principal.tenantId, domains, wholesaleDiscountPercent: percent },
        });
      }
      const owner = input.owner ? await this.inviteIn(m, { id, name: input.name } as Tenant, input.owner) : null;
      const created = (await this.tenants.domainsOf(m, [id])).map(domainView);
      return { id, slug: input.slug, name: input.name, status: row.status, wholesaleDiscountPercent: percent, revenueThisMonth: '0.000000000', createdAt: row.created_at, owner, floorLifts: [], domains: created };
    });
    await this.resolver.invalidateTenant(id);
    return view;
  }

  /**
   * Invites (or invites again, or replaces) the first owner of a child of the caller's tenant
   * (reseller owner only): 404 for a tenant that is not its child, 409 once the child has an
   * owner. Mailed at once when the child has a verified domain, else it waits (see
   * MembersService.inviteChildOwner). Audited on both tenants.
   */
  async inviteOwner(tenantId: string, input: InviteSubResellerOwnerRequest): Promise<SubResellerOwnerView> {
    const principal = this.auth.principal;
    if (principal.tenantType !== 'reseller' || !(await this.childrenOf(principal.tenantId)).includes(tenantId)) throw AppException.notFound(TENANT);
    this.auth.assertCan('create', SUB_RESELLER, { tenantId, parentId: principal.tenantId });
    return this.tenantDb.run({ tenantId: principal.tenantId, also: [tenantId] }, async (m) => {
      const child = await this.tenants.findById(m, tenantId);
      if (!child || child.parentId !== principal.tenantId) throw AppException.notFound(TENANT);
      return this.inviteIn(m, child, input);
    });
  }

  private async inviteIn(m: EntityManager, child: Pick<Tenant, 'id' | 'name'>, owner: { email: string; displayName?: string }): Promise<SubResellerOwnerView> {
    const principal = this.auth.principal;
    const { mailed, replaced } = await this.members.inviteChildOwner(m, child as Tenant, owner.email, owner.displayName ?? null);
    const status = mailed ? 'invited' : 'waiting_for_domain';
    await this.audit.record(m, {
      tenantId: principal.tenantId,
      action: 'tenant.sub_reseller_owner_invited',
      subjectType: TENANT,
      subjectId: child.id,
      before: replaced ? { email: replaced } : null,
      after: { email: owner.email, status },
    });
    return { email: owner.email, status };
  }

  /** Per child: its first active owner, else its pending owner invitation (mailed, or waiting for a verified domain). */
  private async ownersOf(parentId: string, children: string[]): Promise<Map<string, SubResellerOwnerView>> {
    const rows: Array<{ tenant_id: string; email: string; status: string; mailed: boolean }> = await this.tenantDb.run({ tenantId: parentId, also: children }, (m) =>
      m.query(
        `SELECT DISTINCT ON (u.tenant_id) u.tenant_id, u.email, u.status,
                EXISTS (SELECT 1 FROM one_time_tokens o WHERE o.user_id = u.id AND o.purpose = 'invitation') AS mailed
           FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'owner'
          WHERE u.tenant_id = ANY($1::uuid[]) AND u.status IN ('active', 'invited')
          ORDER BY u.tenant_id, (u.status = 'active') DESC, u.created_at`,
        [children],
      ),
    );
    return new Map(rows.map((r) => [r.tenant_id, { email: r.email, status: r.status === 'active' ? 'active' : r.mailed ? 'invited' : 'waiting_for_domain' }]));
  }

  /**
   * A child's discount (its parent's owner or finance), or null when `tenantId` is not a child of
   * the caller's tenant (the caller then goes the platform's way, which answers 404 to a reseller).
   */
  async getChildDiscount(tenantId: string): Promise<{ tenantId: string; percent: string } | null> {
    const principal = this.auth.principal;
    if (principal.tenantType !== 'reseller' || !(await this.childrenOf(principal.tenantId)).includes(tenantId)) return null;
    this.auth.assertCan('read', WHOLESALE_DISCOUNT, { tenantId, tenantType: 'reseller', parentId: principal.tenantId });
    const percent = await this.tenantDb.run({ tenantId: principal.tenantId, also: [tenantId] }, (m) => this.repository.discount(m, tenantId));
    return { tenantId, percent: percent ?? '0' };
  }

  /** Sets a child's discount off the caller's list price, refused (422) if it takes any model below the caller's own cost now. */
  async setChildDiscount(tenantId: string, percentInput: string): Promise<{ tenantId: string; percent: string } | null> {
    const principal = this.auth.principal;
    if (principal.tenantType !== 'reseller' || !(await this.childrenOf(principal.tenantId)).includes(tenantId)) return null;
    this.auth.assertCan('update', WHOLESALE_DISCOUNT, { tenantId, tenantType: 'reseller', parentId: principal.tenantId });
    const percent = trimDecimal(percentInput);
    this.assertAboveCost(await this.ownBook(principal.tenantId), percent);
    await this.tenantDb.run({ tenantId: principal.tenantId, also: [tenantId] }, async (m) => {
      const before = (await this.repository.discount(m, tenantId)) ?? '0';
      await this.repository.setDiscount(m, tenantId, percent, principal.userId);
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: 'price.sub_reseller_discount_set',
        subjectType: WHOLESALE_DISCOUNT,
        subjectId: tenantId,
        before: { percent: before },
        after: { percent },
      });
    });
    await this.runtime.invalidate(tenantId);
    return { tenantId, percent };
  }

  /** The caller tenant's children with the discount each pays off its list (for the check of a new list price). */
  async childDiscounts(parentId: string): Promise<Array<{ slug: string; percent: string }>> {
    const children = await this.childrenOf(parentId);
    if (children.length === 0) return [];
    const rows: Array<{ slug: string; percent: string | null }> = await this.tenantDb.run({ tenantId: parentId, also: children }, (m) =>
      m.query(
        `SELECT t.slug, d.percent::text AS percent FROM tenants t LEFT JOIN reseller_wholesale_discounts d ON d.tenant_id = t.id
          WHERE t.parent_id = $1 AND t.id = ANY($2::uuid[]) ORDER BY t.slug`,
        [parentId, children],
      ),
    );
    return rows.map((r) => ({ slug: r.slug, percent: r.percent === null ? '0' : trimDecimal(r.percent) }));
  }

  private async childrenOf(parentId: string): Promise<string[]> {
    const [row] = await this.tenantDb.forRequest((m: EntityManager) => m.query(`SELECT tenancy.child_tenant_ids($1) AS ids`, [parentId]));
    return row?.ids ?? [];
  }

  private async ownBook(tenantId: string): Promise<PriceBook> {
    const book = await this.runtime.freshBook(tenantId);
    if (!book) throw AppException.notFound(TENANT);
    return book;
  }

  /**
   * The floor: the child's price (the caller's list less `percent`) is at least the caller's own
   * cost, for every model priced now and at every already-scheduled change of the caller's list
   * price or cost (a platform price version, the caller's or an ancestor's own price or markup).
   * Refused (422) naming each model and the first date it would fall below.
   */
  private assertAboveCost(book: PriceBook, percent: string): void {
    const below: Array<{ field: string; messages: string[] }> = [];
    for (const lift of floorLifts(book, percent, true)) {
      const when = lift.now ? 'now' : `from ${lift.from.toISOString()}`;
      below.push({ field: 'percent', messages: [`${lift.model} (${when}): ${lift.fields.join(', ')} would be below your own cost`] });
    }
    if (below.length > 0) {
      throw pricingError(
        PricingErrorCode.BelowWholesale,
        `A ${percent}% discount prices ${below.length} model(s) below what you pay for them yourself: ${below.map((b) => b.messages[0]).join('; ')}.`,
        { errors: below },
      );
    }
  }
}

/**
 * Per model of `book` (a parent's), the first time (now, or a scheduled change) at which a child
 * paying its list less `percent` would pay less than the parent's own cost, with the buckets.
 */
function floorLifts(book: PriceBook, percent: string): FloorLiftView[];
function floorLifts(book: PriceBook, percent: string, detail: true): Array<FloorLiftView & { now: boolean; fields: string[] }>;
function floorLifts(book: PriceBook, percent: string, detail = false): Array<FloorLiftView & { now?: boolean; fields?: string[] }> {
  const now = Date.now();
  const out: Array<FloorLiftView & { now?: boolean; fields?: string[] }> = [];
  for (const model of book.knownModels()) {
    for (const at of [now, ...book.changesAfter(model, now)]) {
      const price = book.effective(model, at);
      if (!price) continue;
      const child: TokenPrice = wholesaleOf(price.retail, percent);
      const fields = [...belowFloor(child, price.wholesale).map((b) => b.field), ...imagesBelowFloor(child, price.wholesale).map((i) => `imagePrices.${i.key}`)];
      if (fields.length === 0) continue;
      out.push(detail ? { model, from: new Date(at), now: at === now, fields } : { model, from: new Date(at) });
      break;
    }
  }
  return out;
}

/** A unique violation that slipped past the pre-check (a concurrent insert) is still a clear 409. */
function conflictOf(error: unknown, code: TenantErrorCode): never {
  if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') throw tenantError(code);
  throw error;
}

/**
 * A parent's new own list price for `model` from `effectiveFrom` (until its next own version),
 * checked against what each child pays (that price less its discount) and the parent's own cost
 * at every change in that window: refused (422) naming the child, the model and the date, so a
 * parent never schedules its children under its cost by lowering its list (it lowers their
 * discount first). A rise of its cost by the platform is not refused here: the book lifts the
 * child's price to the floor and says so (rule.wholesaleFloorApplied, the list's floorLifts).
 */
export function assertChildrenAboveCost(book: PriceBook, model: string, price: TokenPrice, effectiveFrom: Date, children: ReadonlyArray<{ slug: string; percent: string }>): void {
  if (children.length === 0) return;
  const from = effectiveFrom.getTime();
  const next = (book.data.own.get(model) ?? []).find((v) => v.effectiveFrom.getTime() > from)?.effectiveFrom.getTime() ?? Infinity;
  const errors: Array<{ field: string; messages: string[] }> = [];
  for (const child of children) {
    for (const at of [from, ...book.changesAfter(model, from).filter((t) => t < next)]) {
      const cost = book.effective(model, at)?.wholesale;
      if (!cost) continue;
      const pays = wholesaleOf(price, child.percent);
      const fields = [...belowFloor(pays, cost).map((b) => b.field), ...imagesBelowFloor(pays, cost).map((i) => `imagePrices.${i.key}`)];
      if (fields.length === 0) continue;
      errors.push({ field: 'price', messages: [`sub-reseller ${child.slug} (${child.percent}% off) would pay less than your cost for ${model} from ${new Date(at).toISOString()}: ${fields.join(', ')}`] });
      break;
    }
  }
  if (errors.length > 0) {
    throw pricingError(
      PricingErrorCode.BelowWholesale,
      `This price takes ${errors.length} sub-reseller(s) below your own cost (lower their discount first): ${errors.map((e) => e.messages[0]).join('; ')}.`,
      { errors },
    );
  }
}
