import { errorFactory } from '@app/errors';

export enum TenantErrorCode {
  SlugTaken = 'tenant_slug_taken',
  DomainTaken = 'domain_taken',
  InvalidParent = 'invalid_parent_tenant',
  PlatformTenantImmutable = 'platform_tenant_immutable',
}

const MESSAGES: Record<TenantErrorCode, { status: number; title: string }> = {
  [TenantErrorCode.SlugTaken]: { status: 409, title: 'Another tenant has this slug' },
  [TenantErrorCode.DomainTaken]: { status: 409, title: 'This domain already belongs to a tenant' },
  [TenantErrorCode.InvalidParent]: { status: 400, title: 'The parent must be an existing reseller you manage' },
  [TenantErrorCode.PlatformTenantImmutable]: { status: 403, title: 'The platform tenant cannot be changed this way' },
};

export const tenantError = errorFactory<TenantErrorCode>(MESSAGES);
