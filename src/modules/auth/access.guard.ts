import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { ACCESS_METADATA, AccessRule, buildAbility, Principal, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantContext } from '@app/tenancy';
import { ALL_PERMISSIONS } from '../permissions';
import { AuthErrorCode, authError } from './auth.exceptions';
import { scopeFor } from './scope';

/**
 * The one gate of the admin API: every route states its access rule (@Public, @Authenticated or
 * @RequirePermission); a route that states none is refused. Authenticated requests get their
 * principal, CASL abilities (built fresh per request) and RLS scope in the request context.
 */
@Injectable()
export class AccessGuard extends AuthGuard('jwt') {
  private readonly logger = new Logger(AccessGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: RequestAuth,
    private readonly tenantContext: TenantContext,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!rule) {
      this.logger.error(`${context.getClass().name}.${context.getHandler().name} declares no access rule; refusing`);
      throw AppException.forbidden('This route is not open to anyone.');
    }
    if (rule.kind === 'public') return true;
    await super.canActivate(context);
    const principal = context.switchToHttp().getRequest<{ user: Principal }>().user;
    const ability = buildAbility(principal, ALL_PERMISSIONS);
    this.auth.set(principal, ability);
    this.tenantContext.setScope(scopeFor(principal));
    if (rule.kind === 'permission' && !ability.can(rule.action, rule.subject)) {
      throw AppException.forbidden(`You may not ${rule.action} ${rule.subject}.`);
    }
    return true;
  }

  /** Passport's failures become problem responses with stable codes. */
  override handleRequest<TUser = Principal>(error: unknown, user: TUser | false, info: unknown): TUser {
    if (error instanceof AppException) throw error;
    if (error) throw error;
    if (!user) {
      const name = (info as { name?: string } | undefined)?.name;
      const detail = name === 'TokenExpiredError' ? 'The access token has expired; refresh it.' : undefined;
      throw authError(AuthErrorCode.InvalidToken, detail);
    }
    return user;
  }
}
