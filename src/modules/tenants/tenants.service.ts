import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb, TenantResolver } from '@app/tenancy';
import { EntityManager, QueryFailedError } from 'typeorm';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { AddDomainRequest, BrandingDto, CreateTenantRequest, DomainView, TenantListQuery, TenantPage, TenantView, UpdateTenantRequest } from './dto/tenant.dto';
import { CHALLENGE_LABEL, DomainVerifier, WELL_KNOWN_PATH } from './domain-verifier';
import { TenantDomain } from './tenant-domain.entity';
import { Tenant, TenantBranding } from './tenant.entity';
import { TenantErrorCode, tenantError } from './tenants.exceptions';
import { TENANT, TENANT_DOMAIN } from './tenants.permissions';
import { TenantsRepository } from './tenants.repository';

export function domainView(d: TenantDomain): DomainView {
  const pending = d.status === 'pending' && d.verificationToken;
  return {
    id: d.id,
    domain: d.domain,
    isPrimary: d.isPrimary,
    status: d.status,
    verification: pending
      ? {
          token: d.verificationToken!,
          txtName: `${CHALLENGE_LABEL}.${d.domain}`,
          txtValue: d.verificationToken!,
          httpUrl: `http://${d.domain}${WELL_KNOWN_PATH}${d.verificationToken}`,
          lastCheckedAt: d.lastCheckedAt,
          lastCheckError: d.lastCheckError,
        }
      : null,
    verifiedAt: d.verifiedAt,
    createdAt: d.createdAt,
  };
}

function tenantView(t: Tenant, domains: TenantDomain[]): TenantView {
  return {
    id: t.id,
    type: t.type,
    parentId: t.parentId,
    slug: t.slug,
    name: t.name,
    status: t.status,
    branding: t.branding,
    domains: domains.filter((d) => d.tenantId === t.id).map(domainView),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

/**
 * The branding fields the request set. A validated DTO instance carries every declared field as an
 * own property (undefined when absent), and spreading that would erase the stored values.
 */
function brandingOf(input: BrandingDto | undefined): TenantBranding {
  return Object.fromEntries(Object.entries(input ?? {}).filter(([, value]) => value !== undefined));
}

const AUDITED_FIELDS = (t: Tenant) => ({ slug: t.slug, name: t.name, status: t.status, parentId: t.parentId, branding: t.branding });

/** A unique violation that slipped past the pre-check (a concurrent insert) is still a clear 409. */
function conflictOf(error: unknown, code: TenantErrorCode): never {
  if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') throw tenantError(code);
  throw error;
}

@Injectable()
export class TenantsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: TenantsRepository,
    private readonly audit: AuditService,
    private readonly resolver: TenantResolver,
    private readonly verifier: DomainVerifier,
  ) {}

  async list(query: TenantListQuery): Promise<TenantPage> {
    const { page, pageSize, offset } = pageOf(query);
    return this.tenantDb.forRequest(async (m) => {
      const [tenants, total] = await this.repository.list(m, this.auth.ability, query, offset, pageSize);
      const domains = await this.repository.domainsOf(m, tenants.map((t) => t.id));
      return { items: tenants.map((t) => tenantView(t, domains)), page, pageSize, total };
    });
  }

  get(tenantId: string): Promise<TenantView> {
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId);
      return tenantView(tenant, await this.repository.domainsOf(m, [tenant.id]));
    });
  }

  /**
   * Creates a reseller tenant with its domains. `alsoInTransaction` runs in the same transaction once
   * the tenant and its domains exist (onboarding invites the first owner there): if it throws,
   * nothing of the tenant is left.
   */
  async create(input: CreateTenantRequest, alsoInTransaction?: (m: EntityManager, tenant: Tenant) => Promise<void>): Promise<TenantView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('create', TENANT, { type: 'reseller', parentId: input.parentId ?? null });
      if (await this.repository.slugTaken(m, input.slug)) throw tenantError(TenantErrorCode.SlugTaken);
      const domains = [...new Set(input.domains ?? [])];
      for (const domain of domains) {
        if (await this.repository.domainTaken(m, domain)) throw tenantError(TenantErrorCode.DomainTaken, `${domain} is taken.`);
      }
      if (input.parentId) {
        const parent = await this.repository.findById(m, input.parentId);
        if (!parent || parent.type !== 'reseller') throw tenantError(TenantErrorCode.InvalidParent);
      }
      const tenant = m.create(Tenant, {
        type: 'reseller',
        slug: input.slug,
        name: input.name.trim(),
        parentId: input.parentId ?? null,
        branding: brandingOf(input.branding),
      });
      await m.insert(Tenant, tenant).catch((e) => conflictOf(e, TenantErrorCode.SlugTaken));
      const created: TenantDomain[] = [];
      for (const [index, domain] of domains.entries()) {
        created.push(await this.repository.addDomain(m, tenant.id, domain, index === 0, null).catch((e) => conflictOf(e, TenantErrorCode.DomainTaken)));
      }
      const saved = (await this.repository.findById(m, tenant.id))!;
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'tenant.created',
        subjectType: TENANT,
        subjectId: tenant.id,
        after: { ...AUDITED_FIELDS(saved), domains },
      });
      if (alsoInTransaction) await alsoInTransaction(m, saved);
      return tenantView(saved, created);
    });
    await this.resolver.invalidateTenant(view.id);
    return view;
  }

  update(tenantId: string, input: UpdateTenantRequest): Promise<TenantView> {
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId);
      const before = AUDITED_FIELDS(tenant);
      for (const field of Object.keys(input) as Array<keyof UpdateTenantRequest>) {
        if (input[field] === undefined) continue;
        this.auth.assertCan('update', TENANT, { ...tenant }, field);
      }
      if (input.name !== undefined) tenant.name = input.name.trim();
      if (input.branding !== undefined) tenant.branding = { ...tenant.branding, ...brandingOf(input.branding) };
      const { languages, defaultLanguage = 'en' } = tenant.branding;
      if (languages && !languages.includes(defaultLanguage)) {
        throw AppException.validation([{ field: 'branding.languages', messages: [`languages must include the default language ${defaultLanguage}`] }]);
      }
      await m.save(tenant);
      await this.audit.record(m, { tenantId, action: 'tenant.updated', subjectType: TENANT, subjectId: tenantId, before, after: AUDITED_FIELDS(tenant) });
      return tenantView(tenant, await this.repository.domainsOf(m, [tenantId]));
    });
  }

  /** A disabled tenant's users cannot sign in and their tokens stop on their next request. */
  async setStatus(tenantId: string, status: 'active' | 'disabled'): Promise<TenantView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId);
      if (tenant.type === 'platform') throw tenantError(TenantErrorCode.PlatformTenantImmutable);
      this.auth.assertCan(status === 'disabled' ? 'disable' : 'enable', TENANT, { ...tenant });
      const before = AUDITED_FIELDS(tenant);
      tenant.status = status;
      await m.save(tenant);
      await this.audit.record(m, {
        tenantId,
        action: status === 'disabled' ? 'tenant.disabled' : 'tenant.enabled',
        subjectType: TENANT,
        subjectId: tenantId,
        before,
        after: AUDITED_FIELDS(tenant),
      });
      return tenantView(tenant, await this.repository.domainsOf(m, [tenantId]));
    });
    await this.resolver.invalidateTenant(tenantId);
    return view;
  }

  listDomains(tenantId: string): Promise<DomainView[]> {
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId, TENANT_DOMAIN);
      this.auth.assertCan('read', TENANT_DOMAIN, { tenantId: tenant.id });
      return (await this.repository.domainsOf(m, [tenant.id])).map(domainView);
    });
  }

  /**
   * Adds a domain. One added by the platform's staff serves at once (the platform vouches for it);
   * one a reseller adds is `pending` with a random token and serves only once verified (a DNS TXT
   * record or an HTTP token file, see `verifyDomain`). A domain another tenant has verified is
   * refused; another tenant's pending claim does not block (it would let anyone squat on a name).
   */
  async addDomain(tenantId: string, input: AddDomainRequest): Promise<DomainView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId, TENANT_DOMAIN);
      this.auth.assertCan('create', TENANT_DOMAIN, { tenantId: tenant.id });
      if (await this.repository.domainTaken(m, input.domain)) throw tenantError(TenantErrorCode.DomainTaken, `${input.domain} is taken.`);
      const vouched = this.auth.principal.tenantType === 'platform';
      const token = vouched ? null : randomBytes(32).toString('base64url');
      const domain = await this.repository
        .addDomain(m, tenant.id, input.domain, input.isPrimary ?? false, token)
        .catch((e) => conflictOf(e, TenantErrorCode.DomainTaken));
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'tenant.domain_added',
        subjectType: TENANT_DOMAIN,
        subjectId: domain.id,
        after: { domain: domain.domain, isPrimary: domain.isPrimary, status: domain.status },
      });
      return domainView(domain);
    });
    if (view.status === 'verified') await this.resolver.invalidateTenant(tenantId);
    return view;
  }

  /**
   * Checks a pending domain now (DNS TXT record first, then the HTTP token file) and answers the
   * domain: `verified` serves at once; still `pending` carries why in `verification.lastCheckError`.
   * A domain another tenant verified meanwhile is refused (409 domain_taken).
   * The check runs outside any transaction (it may take DOMAIN_VERIFY_TIMEOUT_MS per method).
   */
  async verifyDomain(tenantId: string, domainId: string): Promise<DomainView> {
    const found = await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId, TENANT_DOMAIN);
      this.auth.assertCan('update', TENANT_DOMAIN, { tenantId: tenant.id });
      const domain = await this.repository.findDomain(m, tenant.id, domainId);
      if (!domain) throw AppException.notFound(TENANT_DOMAIN);
      return domain;
    });
    return this.checkDomain(found, (work) => this.tenantDb.forRequest(work));
  }

  /**
   * Checks a pending domain (outside any transaction) and records the outcome in a transaction of
   * `scope` (one that sees the domain's tenant: the caller's own, or a parent's widened to its
   * child); audited on the domain's tenant once verified, and the Host cache follows.
   */
  async checkDomain(found: TenantDomain, scope: <T>(work: (m: EntityManager) => Promise<T>) => Promise<T>): Promise<DomainView> {
    if (found.status === 'verified' || !found.verificationToken) return domainView(found);
    const result = await this.verifier.check(found.domain, found.verificationToken);
    const view = await scope(async (m) => {
      const outcome = await this.repository.recordCheck(m, found.tenantId, found.id, found.verificationToken!, result);
      if (!outcome) throw AppException.notFound(TENANT_DOMAIN);
      if (outcome.status === 'verified') {
        await this.audit.record(m, {
          tenantId: found.tenantId,
          action: 'tenant.domain_verified',
          subjectType: TENANT_DOMAIN,
          subjectId: found.id,
          after: { domain: outcome.domain, method: result.verified ? result.method : null, isPrimary: outcome.isPrimary },
        });
      }
      return domainView(outcome);
    }).catch((e) => conflictOf(e, TenantErrorCode.DomainTaken));
    if (view.status === 'verified') await this.resolver.invalidateTenant(found.tenantId);
    return view;
  }

  async removeDomain(tenantId: string, domainId: string): Promise<void> {
    await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.visible(m, tenantId, TENANT_DOMAIN);
      this.auth.assertCan('delete', TENANT_DOMAIN, { tenantId: tenant.id });
      const domain = await this.repository.findDomain(m, tenant.id, domainId);
      if (!domain) throw AppException.notFound(TENANT_DOMAIN);
      await m.delete(TenantDomain, { id: domain.id, tenantId: tenant.id });
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'tenant.domain_removed',
        subjectType: TENANT_DOMAIN,
        subjectId: domain.id,
        before: { domain: domain.domain, isPrimary: domain.isPrimary, status: domain.status },
      });
    });
    await this.resolver.invalidateTenant(tenantId);
  }

  /**
   * The tenant if the caller may see it (through RLS and CASL), else 404: another tenant's
   * existence is never confirmed.
   */
  private async visible(m: EntityManager, tenantId: string, as: string = TENANT): Promise<Tenant> {
    const tenant = await this.repository.findById(m, tenantId);
    if (!tenant) throw AppException.notFound(TENANT);
    const ability = this.auth.ability;
    const readable = as === TENANT ? { ...tenant } : { tenantId: tenant.id };
    if (!ability.can('read', { ...readable, __caslSubjectType__: as } as never)) throw AppException.notFound(TENANT);
    return tenant;
  }
}
