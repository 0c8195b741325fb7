import { Injectable } from '@nestjs/common';
import { ClsService, ClsStore } from 'nestjs-cls';
import { ResolvedTenant, TenantScope } from './tenant.types';

/** What the request context holds. Principal and scope are set by the auth layer. */
export interface RequestContextStore extends ClsStore {
  /** The tenant the Host header resolved to; null when the host is not a tenant domain. */
  hostTenant?: ResolvedTenant | null;
  /** The scope of the authenticated principal, used by TenantDb.forRequest. */
  scope?: TenantScope;
}

@Injectable()
export class TenantContext {
  constructor(private readonly cls: ClsService<RequestContextStore>) {}

  get requestId(): string | undefined {
    return this.cls.isActive() ? this.cls.getId() : undefined;
  }

  get hostTenant(): ResolvedTenant | null {
    return (this.cls.isActive() && this.cls.get('hostTenant')) || null;
  }

  setHostTenant(tenant: ResolvedTenant | null): void {
    this.cls.set('hostTenant', tenant);
  }

  get scope(): TenantScope | undefined {
    return this.cls.isActive() ? this.cls.get('scope') : undefined;
  }

  setScope(scope: TenantScope): void {
    this.cls.set('scope', scope);
  }
}
