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

  async addDomain(manager: EntityManager, tenantId: string, domain: string, isPrimary: boolean): Promise<TenantDomain> {
    const hasPrimary = await manager.exists(TenantDomain, { where: { tenantId, isPrimary: true } });
    if (isPrimary && hasPrimary) await manager.update(TenantDomain, { tenantId, isPrimary: true }, { isPrimary: false });
    const row = manager.create(TenantDomain, { tenantId, domain, isPrimary: isPrimary || !hasPrimary });
    await manager.insert(TenantDomain, row);
    return row;
  }
}
