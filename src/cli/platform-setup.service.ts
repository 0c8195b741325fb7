import { Injectable } from '@nestjs/common';
import { Role } from '@app/authorization';
import { isValidTenantDomain, SystemDb, TenantResolver, TenantType } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { TenantDomain } from '../modules/tenants/tenant-domain.entity';
import { Tenant } from '../modules/tenants/tenant.entity';
import { PasswordHasher } from '../modules/users/password-hasher';
import { passwordWeakness } from '../modules/users/password-policy';
import { UserRole } from '../modules/users/user-role.entity';
import { User } from '../modules/users/user.entity';

export class SetupError extends Error {}

export interface SeededUser {
  tenant: string;
  email: string;
  roles: Role[];
  created: boolean;
}

/**
 * Bootstrap and demo seed: cross-tenant by nature (there is no tenant yet), so they run on the
 * system role's connection, never on the application role.
 */
@Injectable()
export class PlatformSetupService {
  constructor(
    private readonly systemDb: SystemDb,
    private readonly hasher: PasswordHasher,
    private readonly resolver: TenantResolver,
  ) {}

  /** Creates the platform tenant and its first owner; running it again changes nothing. */
  async bootstrap(input: { email: string; password: string; domain?: string; name?: string; slug?: string }) {
    const email = input.email.trim().toLowerCase();
    const weakness = passwordWeakness(input.password, email);
    if (weakness) throw new SetupError(`The owner password is too weak: it ${weakness}.`);
    if (input.domain && !isValidTenantDomain(input.domain)) {
      throw new SetupError(`"${input.domain}" is not a valid domain (lower case DNS name, no port).`);
    }
    const result = await this.systemDb.run(async (em) => {
      const platform = await this.ensureTenant(em, { type: 'platform', slug: input.slug ?? 'platform', name: input.name ?? 'AIGateway' });
      if (input.domain) await this.ensureDomain(em, platform.tenant, input.domain);
      const owner = await this.ensureUser(em, platform.tenant, email, input.password, ['owner']);
      return { tenant: platform.tenant, tenantCreated: platform.created, owner };
    });
    await this.resolver.invalidateTenant(result.tenant.id);
    return result;
  }

  /** A reseller with a domain and one user per role (plus platform staff), for trying things out. */
  async seedDemo(input: { password: string; platformDomain: string; resellerDomain: string }) {
    const weakness = passwordWeakness(input.password);
    if (weakness) throw new SetupError(`The demo password is too weak: it ${weakness}.`);
    const users: SeededUser[] = [];
    const tenants = await this.systemDb.run(async (em) => {
      const platform = (await this.ensureTenant(em, { type: 'platform', slug: 'platform', name: 'AIGateway' })).tenant;
      await this.ensureDomain(em, platform, input.platformDomain);
      const reseller = (await this.ensureTenant(em, { type: 'reseller', slug: 'demo', name: 'Demo Reseller', parentId: null })).tenant;
      await this.ensureDomain(em, reseller, input.resellerDomain);
      const platformRoles: Role[] = ['owner', 'operator', 'sales', 'finance', 'tech', 'user'];
      const resellerRoles: Role[] = ['owner', 'sales', 'finance', 'user'];
      for (const role of platformRoles) {
        const { created } = await this.ensureUser(em, platform, `${role}@${input.platformDomain}`, input.password, [role]);
        users.push({ tenant: platform.slug, email: `${role}@${input.platformDomain}`, roles: [role], created });
      }
      for (const role of resellerRoles) {
        const { created } = await this.ensureUser(em, reseller, `${role}@${input.resellerDomain}`, input.password, [role]);
        users.push({ tenant: reseller.slug, email: `${role}@${input.resellerDomain}`, roles: [role], created });
      }
      return { platform, reseller };
    });
    await this.resolver.invalidateTenant(tenants.platform.id);
    await this.resolver.invalidateTenant(tenants.reseller.id);
    return { ...tenants, users };
  }

  private async ensureTenant(
    em: EntityManager,
    wanted: { type: TenantType; slug: string; name: string; parentId?: string | null },
  ): Promise<{ tenant: Tenant; created: boolean }> {
    const existing =
      wanted.type === 'platform'
        ? await em.findOne(Tenant, { where: { type: 'platform' } })
        : await em.findOne(Tenant, { where: { slug: wanted.slug } });
    if (existing) {
      if (existing.type !== wanted.type) throw new SetupError(`The slug "${wanted.slug}" belongs to a ${existing.type} tenant.`);
      return { tenant: existing, created: false };
    }
    const tenant = em.create(Tenant, { type: wanted.type, slug: wanted.slug, name: wanted.name, parentId: wanted.parentId ?? null });
    return { tenant: await em.save(tenant), created: true };
  }

  private async ensureDomain(em: EntityManager, tenant: Tenant, domain: string): Promise<void> {
    const existing = await em.findOne(TenantDomain, { where: { domain } });
    if (existing && existing.tenantId !== tenant.id) {
      throw new SetupError(`The domain "${domain}" already belongs to another tenant.`);
    }
    if (!existing) {
      const hasPrimary = await em.exists(TenantDomain, { where: { tenantId: tenant.id, isPrimary: true } });
      // The platform's own setup vouches for the domains it names (no ownership check).
      await em.save(em.create(TenantDomain, { tenantId: tenant.id, domain, isPrimary: !hasPrimary, status: 'verified', verifiedAt: new Date() }));
    }
  }

  private async ensureUser(
    em: EntityManager,
    tenant: Tenant,
    email: string,
    password: string,
    roles: Role[],
  ): Promise<{ user: User; created: boolean }> {
    const existing = await em
      .createQueryBuilder(User, 'u')
      .where('u.tenant_id = :tenantId AND lower(u.email) = lower(:email)', { tenantId: tenant.id, email })
      .getOne();
    if (existing) return { user: existing, created: false };
    const user = em.create(User, {
      tenantId: tenant.id,
      email,
      status: 'active',
      passwordHash: await this.hasher.hash(password),
    });
    await em.save(user);
    for (const role of roles) {
      await em.save(em.create(UserRole, { tenantId: tenant.id, userId: user.id, role }));
    }
    return { user, created: true };
  }
}
