import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { Principal, RequestAuth, Role } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb, TenantType } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { SalespersonRelease } from '../customers/salesperson-release';
import { OneTimeTokens } from '../auth/one-time-tokens';
import { Revocations } from '../auth/revocations';
import { Sessions } from '../auth/sessions';
import { MailQueue } from '../mail/mail.queue';
import { Tenant } from '../tenants/tenant.entity';
import { TENANT } from '../tenants/tenants.permissions';
import { TenantsRepository } from '../tenants/tenants.repository';
import { TenantsService } from '../tenants/tenants.service';
import { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { KeysRuntime } from '../keys/keys-runtime';
import { InviteMemberRequest, MemberListQuery, OnboardedReseller, OnboardResellerRequest, MemberPage, MemberView, SetRolesRequest } from './dto/member.dto';
import { grantableRoles } from './grantable-roles';
import { MemberErrorCode, memberError } from './members.exceptions';
import { MEMBER, ROLE_ASSIGNMENT } from './members.permissions';
import { MembersRepository } from './members.repository';

@Injectable()
export class MembersService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly members: MembersRepository,
    private readonly users: UsersRepository,
    private readonly tenants: TenantsRepository,
    private readonly tenantsService: TenantsService,
    private readonly oneTimeTokens: OneTimeTokens,
    private readonly sessions: Sessions,
    private readonly revocations: Revocations,
    private readonly mail: MailQueue,
    private readonly audit: AuditService,
    private readonly salesRelease: SalespersonRelease,
    private readonly keysRuntime: KeysRuntime,
  ) {}

  list(tenantId: string, query: MemberListQuery): Promise<MemberPage> {
    const { page, pageSize, offset } = pageOf(query);
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenantFor(m, tenantId, 'read');
      const { items, total } = await this.members.list(m, this.auth.ability, tenant.id, query, offset, pageSize);
      return { items, total, page, pageSize };
    });
  }

  get(tenantId: string, userId: string): Promise<MemberView> {
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenantFor(m, tenantId, 'read');
      return this.member(m, tenant, userId, 'read');
    });
  }

  /**
   * Invites a new member (or re-sends a pending invitation) and mails them a link to set their
   * password. Mail is queued inside the transaction: if it cannot be queued, nothing is created.
   */
  invite(tenantId: string, input: InviteMemberRequest): Promise<MemberView> {
    return this.tenantDb.forRequest(async (m) => this.inviteIn(m, await this.tenantFor(m, tenantId, 'invite'), input));
  }

  /**
   * A reseller with its domain and first owner in one step: the tenant, its domains, the owner's
   * invitation and its mail are one transaction, so a taken slug or domain, an owner the caller may
   * not appoint, or mail that cannot be queued leaves nothing behind.
   */
  async onboardReseller(input: OnboardResellerRequest): Promise<OnboardedReseller> {
    const { owner, ...tenantInput } = input;
    let invited: MemberView | undefined;
    const tenant = await this.tenantsService.create(tenantInput, async (m, created) => {
      this.auth.assertCan('invite', MEMBER, { tenantId: created.id, tenantType: created.type });
      invited = await this.inviteIn(m, created, { email: owner.email, displayName: owner.displayName, roles: ['owner'] });
    });
    return { tenant, owner: invited! };
  }

  private async inviteIn(m: EntityManager, tenant: Tenant, input: InviteMemberRequest): Promise<MemberView> {
    const principal = this.auth.principal;
    this.assertGrantable(principal, tenant.type, input.roles);
    let user = await this.users.findByEmail(m, tenant.id, input.email);
    let action = 'member.invited';
    if (user && user.status !== 'invited') throw memberError(MemberErrorCode.AlreadyMember);
    if (user) {
      action = 'member.reinvited';
      await this.members.replaceRoles(m, tenant.id, user.id, input.roles, principal.userId);
    } else {
      user = m.create(User, { tenantId: tenant.id, email: input.email, displayName: input.displayName ?? null, status: 'invited' });
      await m.insert(User, user);
      await this.members.replaceRoles(m, tenant.id, user.id, input.roles, principal.userId);
    }
    await this.audit.record(m, {
      tenantId: tenant.id,
      action,
      subjectType: MEMBER,
      subjectId: user.id,
      after: { email: user.email, roles: input.roles, status: 'invited' },
    });
    await this.mailInvitation(m, tenant, user, input.roles, this.mail.linkOn(await this.users.primaryDomain(m, tenant.id), '/'));
    return (await this.members.get(m, tenant.id, user.id))!;
  }

  /**
   * A sub-reseller's first owner, invited by its parent's owner (issue 26): refused (409) once the
   * child has an active owner; a pending invitation to another address is withdrawn (replaced).
   * The link points to the child's own verified domain (the console there signs into the child);
   * while the child has none, the invitation waits: the member is recorded as invited, no link is
   * issued and no mail goes out (`mailed: false`) until the parent re-sends it after a domain of
   * the child is verified. The caller has checked that `child` is its child and that it may.
   */
  async inviteChildOwner(m: EntityManager, child: Tenant, email: string, displayName: string | null): Promise<{ member: MemberView; mailed: boolean; replaced: string | null }> {
    const principal = this.auth.principal;
    await m.query(`SELECT id FROM tenants WHERE id = $1 FOR UPDATE`, [child.id]);
    const owners: Array<{ id: string; email: string; status: string }> = await m.query(
      `SELECT u.id, u.email, u.status FROM user_roles r JOIN users u ON u.id = r.user_id WHERE r.tenant_id = $1 AND r.role = 'owner' ORDER BY u.created_at`,
      [child.id],
    );
    if (owners.some((o) => o.status !== 'invited')) throw memberError(MemberErrorCode.OwnerExists);
    let replaced: string | null = null;
    for (const stale of owners.filter((o) => o.email.toLowerCase() !== email.toLowerCase())) {
      await m.query(`DELETE FROM one_time_tokens WHERE user_id = $1 AND used_at IS NULL`, [stale.id]);
      await m.query(`DELETE FROM user_roles WHERE user_id = $1`, [stale.id]);
      await m.query(`DELETE FROM users WHERE id = $1 AND status = 'invited'`, [stale.id]);
      await this.audit.record(m, { tenantId: child.id, action: 'member.invitation_withdrawn', subjectType: MEMBER, subjectId: stale.id, before: { email: stale.email, status: 'invited' } });
      replaced = stale.email;
    }
    let user = await this.users.findByEmail(m, child.id, email);
    if (user && user.status !== 'invited') throw memberError(MemberErrorCode.AlreadyMember);
    const action = user ? 'member.reinvited' : 'member.invited';
    if (!user) {
      user = m.create(User, { tenantId: child.id, email, displayName, status: 'invited' });
      await m.insert(User, user);
    }
    await this.members.replaceRoles(m, child.id, user.id, ['owner'], principal.userId);
    const domain = await this.users.primaryDomain(m, child.id);
    if (domain) {
      // A re-sent link replaces the one before it.
      await m.query(`DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = 'invitation' AND used_at IS NULL`, [user.id]);
      await this.mailInvitation(m, child, user, ['owner'], this.mail.linkOn(domain, '/'));
    }
    await this.audit.record(m, {
      tenantId: child.id,
      action,
      subjectType: MEMBER,
      subjectId: user.id,
      after: { email: user.email, roles: ['owner'], status: 'invited', mailed: domain !== null, domain },
    });
    return { member: (await this.members.get(m, child.id, user.id))!, mailed: domain !== null, replaced };
  }

  /** Issues the one-time link and queues the invitation mail (in the caller's transaction). */
  private async mailInvitation(m: EntityManager, tenant: Tenant, user: User, roles: Role[], base: string): Promise<void> {
    const principal = this.auth.principal;
    const token = await this.oneTimeTokens.issue(m, {
      tenantId: tenant.id,
      userId: user.id,
      purpose: 'invitation',
      ttlSeconds: this.config.INVITATION_TTL_HOURS * 3600,
      createdBy: principal.userId,
    });
    const link = new URL(`/accept-invitation?token=${encodeURIComponent(token)}`, base).toString();
    await this.mail.enqueue({
      tenantId: tenant.id,
      to: user.email,
      kind: 'invitation',
      subject: `You are invited to ${tenant.name}`,
      text:
        `${principal.email} invited you to ${tenant.name} as ${roles.join(', ')}.\n\n` +
        `Accept the invitation and choose your password here (valid for ${this.config.INVITATION_TTL_HOURS} hours):\n${link}\n\n` +
        `Invitation token: ${token}\n`,
    });
  }

  /** Replaces a member's roles. Owner only; never leaves the tenant without an active owner. */
  setRoles(tenantId: string, userId: string, input: SetRolesRequest): Promise<MemberView> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenantFor(m, tenantId, 'read');
      this.auth.assertCan('assign', ROLE_ASSIGNMENT, { tenantId: tenant.id, tenantType: tenant.type });
      const member = await this.member(m, tenant, userId, 'read');
      this.assertGrantable(principal, tenant.type, input.roles);
      if (member.roles.includes('owner') && !input.roles.includes('owner')) await this.assertOtherOwner(m, tenant.id, userId);
      await this.members.replaceRoles(m, tenant.id, userId, input.roles, principal.userId);
      if (member.roles.includes('sales') && !input.roles.includes('sales')) {
        await this.salesRelease.release(m, tenant.id, userId, principal.userId, 'sales_role_removed');
      }
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'member.roles_changed',
        subjectType: MEMBER,
        subjectId: userId,
        before: { roles: member.roles },
        after: { roles: [...input.roles].sort() },
      });
      return (await this.members.get(m, tenant.id, userId))!;
    });
  }

  /** Disabling takes effect on the member's next request, and ends their sessions. */
  async setStatus(tenantId: string, userId: string, status: 'active' | 'disabled'): Promise<MemberView> {
    const { view, sessionIds } = await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenantFor(m, tenantId, 'read');
      const member = await this.member(m, tenant, userId, status === 'disabled' ? 'disable' : 'enable');
      if (status === 'disabled' && member.roles.includes('owner')) await this.assertOtherOwner(m, tenant.id, userId);
      if (member.status === 'invited') {
        throw AppException.conflict(
          status === 'active'
            ? 'An invited member becomes active by accepting the invitation.'
            : 'An invited member has not joined yet: remove them to withdraw the invitation.',
        );
      }
      await m.update(User, { id: userId, tenantId: tenant.id }, { status });
      // A disabled salesperson's customers become unbound (audited), never orphaned.
      if (status === 'disabled') await this.salesRelease.release(m, tenant.id, userId, this.auth.principal.userId, 'salesperson_disabled');
      const sessionIds = status === 'disabled' ? await this.sessions.revokeAllOfUser(m, tenant.id, userId) : [];
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: status === 'disabled' ? 'member.disabled' : 'member.enabled',
        subjectType: MEMBER,
        subjectId: userId,
        before: { status: member.status },
        after: { status },
      });
      return { view: (await this.members.get(m, tenant.id, userId))!, sessionIds };
    });
    await Promise.all(sessionIds.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
    // Their API keys stop (or work again) on every api instance within seconds.
    await this.keysRuntime.invalidateCustomer(userId);
    return view;
  }

  async remove(tenantId: string, userId: string): Promise<void> {
    const sessionIds = await this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenantFor(m, tenantId, 'read');
      const member = await this.member(m, tenant, userId, 'delete');
      if (member.roles.includes('owner')) await this.assertOtherOwner(m, tenant.id, userId);
      const revoked = await this.sessions.revokeAllOfUser(m, tenant.id, userId);
      await this.salesRelease.release(m, tenant.id, userId, this.auth.principal.userId, 'salesperson_removed');
      await m.delete(User, { id: userId, tenantId: tenant.id });
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'member.removed',
        subjectType: MEMBER,
        subjectId: userId,
        before: { email: member.email, roles: member.roles, status: member.status },
      });
      return revoked;
    });
    await Promise.all(sessionIds.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
    await this.keysRuntime.invalidateCustomer(userId);
  }

  /**
   * The tenant whose members are addressed, if the caller may `action` members there; 404 when
   * they may not even see it (so another tenant's existence is not revealed), 403 otherwise.
   */
  private async tenantFor(m: EntityManager, tenantId: string, action: 'read' | 'invite'): Promise<Tenant> {
    const tenant = await this.tenants.findById(m, tenantId);
    if (!tenant) throw AppException.notFound(TENANT);
    const subject = { tenantId: tenant.id, tenantType: tenant.type };
    this.auth.assertCan(action, MEMBER, subject);
    return tenant;
  }

  private async member(m: EntityManager, tenant: Tenant, userId: string, action: 'read' | 'disable' | 'enable' | 'delete'): Promise<MemberView> {
    const member = await this.members.get(m, tenant.id, userId);
    if (!member) throw AppException.notFound(MEMBER);
    this.auth.assertCan(action, MEMBER, { id: member.id, tenantId: tenant.id, tenantType: tenant.type });
    if (action !== 'read') {
      // Nobody acts on a member holding a role they could not grant (an operator on an owner).
      const outranking = member.roles.filter((role) => !grantableRoles(this.auth.principal, tenant.type).includes(role));
      if (outranking.length > 0) {
        throw memberError(MemberErrorCode.MemberOutranks, `This member holds ${outranking.join(', ')}, which you may not grant.`);
      }
    }
    return member;
  }

  private assertGrantable(principal: Principal, tenantType: TenantType, roles: Role[]): void {
    const grantable = grantableRoles(principal, tenantType);
    const refused = roles.filter((role) => !grantable.includes(role));
    if (refused.length > 0) {
      throw memberError(MemberErrorCode.RoleNotGrantable, `You may not grant ${refused.join(', ')} in a ${tenantType} tenant.`);
    }
  }

  private async assertOtherOwner(m: EntityManager, tenantId: string, userId: string): Promise<void> {
    if ((await this.members.otherActiveOwners(m, tenantId, userId)) === 0) throw memberError(MemberErrorCode.LastOwner);
  }
}
