import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { TenantListQuery } from './dto/tenant.dto';
import { TenantDomain } from './tenant-domain.entity';
import { Tenant } from './tenant.entity';
import { TENANT } from './tenants.permissions';

const COLUMNS = { id: 't.id', type: 't.type' } as const;

@Injectable()
export class TenantsRepository {
  async list(manager: EntityManager, ability: AppAbility, query: TenantListQuery, offset: number, limit: number): Promise<[Tenant[], number]> {
    const allowed = abilityToSql(ability, 'read', TENANT, COLUMNS);
    if (!allowed) return [[], 0];
    const qb = manager.createQueryBuilder(Tenant, 't').where(allowed.sql, allowed.params);
    if (query.status) qb.andWhere('t.status = :status', { status: query.status });
    if (query.type) qb.andWhere('t.type = :type', { type: query.type });
    if (query.q) {
      qb.andWhere("(t.slug ILIKE :q ESCAPE '\\' OR t.name ILIKE :q ESCAPE '\\')", { q: `%${query.q.replace(/[\\%_]/g, '\\$&')}%` });
    }
    return qb.orderBy('t.created_at', 'DESC').addOrderBy('t.id', 'DESC').skip(offset).take(limit).getManyAndCount();
  }

  findById(manager: EntityManager, id: string): Promise<Tenant | null> {
    return manager.findOne(Tenant, { where: { id } });
  }

  slugTaken(manager: EntityManager, slug: string): Promise<boolean> {
    // Slugs are unique across the platform; the resolver function sees past RLS for exactly this.
    return manager.query('SELECT 1 FROM tenancy.resolve_slug($1)', [slug]).then((rows: unknown[]) => rows.length > 0);
  }

  domainTaken(manager: EntityManager, domain: string): Promise<boolean> {
    return manager.query('SELECT 1 FROM tenancy.resolve_domain($1)', [domain]).then((rows: unknown[]) => rows.length > 0);
  }

  domainsOf(manager: EntityManager, tenantIds: string[]): Promise<TenantDomain[]> {
    if (tenantIds.length === 0) return Promise.resolve([]);
    return manager
      .createQueryBuilder(TenantDomain, 'd')
      .where('d.tenant_id IN (:...tenantIds)', { tenantIds })
      .orderBy('d.is_primary', 'DESC')
      .addOrderBy('d.created_at', 'ASC')
      .getMany();
  }

  findDomain(manager: EntityManager, tenantId: string, domainId: string): Promise<TenantDomain | null> {
    return manager.findOne(TenantDomain, { where: { id: domainId, tenantId } });
  }

  /** A domain with a token is pending (it serves once verified); without one it is verified now. */
  async addDomain(manager: EntityManager, tenantId: string, domain: string, isPrimary: boolean, token: string | null): Promise<TenantDomain> {
    if (token) {
      const row = manager.create(TenantDomain, { tenantId, domain, isPrimary: false, primaryRequested: isPrimary, status: 'pending', verificationToken: token });
      await manager.insert(TenantDomain, row);
      return row;
    }
    const hasPrimary = await manager.exists(TenantDomain, { where: { tenantId, isPrimary: true } });
    if (isPrimary && hasPrimary) await manager.update(TenantDomain, { tenantId, isPrimary: true }, { isPrimary: false });
    const row = manager.create(TenantDomain, { tenantId, domain, isPrimary: isPrimary || !hasPrimary, status: 'verified', verifiedAt: new Date() });
    await manager.insert(TenantDomain, row);
    return row;
  }

  /**
   * Records a check of a pending domain (only if it is still pending with that token). Verified,
   * it becomes primary when it asked to be or the tenant has none. A domain another tenant has
   * verified meanwhile fails on the unique index (23505). Null when the domain is gone.
   */
  async recordCheck(
    manager: EntityManager,
    tenantId: string,
    domainId: string,
    token: string,
    result: { verified: true } | { verified: false; reason: string },
  ): Promise<TenantDomain | null> {
    const domain = await manager
      .createQueryBuilder(TenantDomain, 'd')
      .setLock('pessimistic_write')
      .where('d.id = :domainId AND d.tenant_id = :tenantId', { domainId, tenantId })
      .getOne();
    if (!domain) return null;
    if (domain.status !== 'pending' || domain.verificationToken !== token) return domain;
    domain.lastCheckedAt = new Date();
    if (!result.verified) {
      domain.lastCheckError = result.reason.slice(0, 500);
      await manager.update(TenantDomain, { id: domain.id }, { lastCheckedAt: domain.lastCheckedAt, lastCheckError: domain.lastCheckError });
      return domain;
    }
    // The tenant's primary row is locked too, so two verifications cannot both take it.
    const primary = await manager
      .createQueryBuilder(TenantDomain, 'd')
      .setLock('pessimistic_write')
      .where('d.tenant_id = :tenantId AND d.is_primary', { tenantId })
      .getOne();
    const makePrimary = domain.primaryRequested || !primary;
    if (makePrimary && primary) await manager.update(TenantDomain, { id: primary.id }, { isPrimary: false });
    Object.assign(domain, { status: 'verified', verifiedAt: domain.lastCheckedAt, verificationToken: null, lastCheckError: null, isPrimary: makePrimary });
    await manager.update(TenantDomain, { id: domain.id }, {
      status: 'verified',
      verifiedAt: domain.verifiedAt,
      verificationToken: null,
      lastCheckedAt: domain.lastCheckedAt,
      lastCheckError: null,
      isPrimary: makePrimary,
    });
    return domain;
  }
}
