import { Injectable } from '@nestjs/common';
import { AppException } from '@app/errors';
import { ClsService } from 'nestjs-cls';
import { Action, AppAbility, asSubject, SubjectName } from './ability';
import { Principal } from './principal';

/**
 * The authenticated caller of the current request and their abilities (set by the access guard).
 * Services read them here, or receive the principal as their first argument.
 */
@Injectable()
export class RequestAuth {
  constructor(private readonly cls: ClsService) {}

  set(principal: Principal, ability: AppAbility): void {
    this.cls.set('principal', principal);
    this.cls.set('ability', ability);
  }

  get principal(): Principal {
    const principal = this.cls.isActive() ? this.cls.get<Principal | undefined>('principal') : undefined;
    if (!principal) throw AppException.unauthenticated();
    return principal;
  }

  get principalOrNull(): Principal | null {
    return (this.cls.isActive() && this.cls.get<Principal | undefined>('principal')) || null;
  }

  get ability(): AppAbility {
    const ability = this.cls.isActive() ? this.cls.get<AppAbility | undefined>('ability') : undefined;
    if (!ability) throw AppException.unauthenticated();
    return ability;
  }

  /**
   * Checks one object. An object the caller may not even read answers 404, so its existence is
   * not revealed; one they may read but not change answers 403.
   */
  assertCan(action: Action, type: SubjectName, object: Record<string, unknown>, field?: string): void {
    const ability = this.ability;
    const tagged = asSubject(type, object);
    if (ability.can(action, tagged, field)) return;
    if (action !== 'read' && ability.can('read', tagged)) throw AppException.forbidden();
    throw AppException.notFound(type);
  }
}
