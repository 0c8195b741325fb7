export type TenantType = 'platform' | 'reseller';
export type TenantStatus = 'active' | 'disabled';

/** What a Host header (or slug) tells about its tenant: public facts only. */
export interface ResolvedTenant {
  readonly id: string;
  readonly slug: string;
  readonly type: TenantType;
  readonly status: TenantStatus;
  readonly name: string;
}

/**
 * The rows a transaction may touch. `tenantId` is the acting tenant (new rows default to it);
 * `also` widens reads and writes to more tenants (a platform sales user's resellers); `all` makes
 * it platform-wide (platform owner, operator, finance). Never built from client input directly.
 */
export interface TenantScope {
  readonly tenantId: string;
  readonly also?: readonly string[];
  readonly all?: boolean;
}
