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
    const token = await this.oneTimeTokens.issue(m, {
      tenantId: tenant.id,
      userId: user.id,
      purpose: 'invitation',
      ttlSeconds: this.config.INVITATION_TTL_HOURS * 3600,
      createdBy: principal.userId,
    });
    await this.audit.record(m, {
      tenantId: tenant.id,
      action,
      subjectType: MEMBER,
      subjectId: user.id,
      after: { email: user.email, roles: input.roles, status: 'invited' },
    });
    const link = this.mail.linkOn(await this.users.primaryDomain(m, tenant.id), `/accept-invitation?token=${encodeURIComponent(token)}`);
    await this.mail.enqueue({
      tenantId: tenant.id,
      to: user.email,
      kind: 'invitation',
      subject: `You are invited to ${tenant.name}`,
      text:
        `${principal.email} invited you to ${tenant.name} as ${input.roles.join(', ')}.\n\n` +
        `Accept the invitation and choose your password here (valid for ${this.config.INVITATION_TTL_HOURS} hours):\n${link}\n\n` +
        `Invitation token: ${token}\n`,
    });
    return (await this.members.get(m, tenant.id, user.id))!;
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
