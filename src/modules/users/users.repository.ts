import { Injectable } from '@nestjs/common';
import { Role } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { UserRole } from './user-role.entity';
import { User } from './user.entity';

/** Users and their roles; every method runs in the caller's tenant transaction. */
@Injectable()
export class UsersRepository {
  findByEmail(manager: EntityManager, tenantId: string, email: string, withPassword = false): Promise<User | null> {
    const qb = manager
      .createQueryBuilder(User, 'u')
      .where('u.tenant_id = :tenantId AND lower(u.email) = lower(:email)', { tenantId, email });
    if (withPassword) qb.addSelect('u.passwordHash');
    return qb.getOne();
  }

  findById(manager: EntityManager, tenantId: string, userId: string): Promise<User | null> {
    return manager.findOne(User, { where: { id: userId, tenantId } });
  }

  async rolesOf(manager: EntityManager, tenantId: string, userId: string): Promise<Role[]> {
    const rows = await manager.find(UserRole, { where: { tenantId, userId }, order: { role: 'ASC' } });
    return rows.map((r) => r.role);
  }

  async setPassword(manager: EntityManager, tenantId: string, userId: string, passwordHash: string): Promise<void> {
    await manager.update(User, { id: userId, tenantId }, { passwordHash });
  }

  async touchLogin(manager: EntityManager, tenantId: string, userId: string): Promise<void> {
    await manager.update(User, { id: userId, tenantId }, { lastLoginAt: () => 'now()' });
  }

  /** The tenant's primary domain (or any), for links in mail. */
  async primaryDomain(manager: EntityManager, tenantId: string): Promise<string | null> {
    const rows: Array<{ domain: string }> = await manager.query(
      `SELECT domain FROM tenant_domains WHERE tenant_id = $1 AND status = 'verified' ORDER BY is_primary DESC, created_at ASC LIMIT 1`,
      [tenantId],
    );
    return rows[0]?.domain ?? null;
  }
}
