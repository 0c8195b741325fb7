import { TenantType } from '@app/tenancy';

export const Role = {
  Owner: 'owner',
  Operator: 'operator',
  Sales: 'sales',
  Finance: 'finance',
  Tech: 'tech',
  User: 'user',
} as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ALL_ROLES: readonly Role[] = Object.values(Role);

/** Which roles exist in which tenant type (DESIGN.md, "Roles and what they may do"). */
export const ROLES_BY_TENANT_TYPE: Record<TenantType, readonly Role[]> = {
  platform: ['owner', 'operator', 'sales', 'finance', 'tech', 'user'],
  reseller: ['owner', 'sales', 'finance', 'user'],
};

export function isRoleAvailable(tenantType: TenantType, role: string): role is Role {
  return (ROLES_BY_TENANT_TYPE[tenantType] as readonly string[]).includes(role);
}
