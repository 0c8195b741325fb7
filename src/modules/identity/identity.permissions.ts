import { hasRole, PermissionDefinition } from '@app/authorization';

/** A tenant's self sign-up and two-factor settings. Fields: tenantId. */
export const IDENTITY_SETTINGS = 'IdentitySettings';
/** A customer's personal data, erased on request. Fields: tenantId. */
export const PERSONAL_DATA = 'PersonalData';

/**
 * Identity (issue 25): the owner decides whether visitors may sign up, with which bonus, and
 * whether staff must use two-factor; the owner erases a customer's personal data on request.
 * Everyone exports and deletes their own account through /me (no rule: it is always their own).
 */
export const identityPermissions: PermissionDefinition = (principal, { can }) => {
  if (!hasRole(principal, 'owner')) return;
  can(['read', 'update'], IDENTITY_SETTINGS, { tenantId: principal.tenantId });
  can('delete', PERSONAL_DATA, { tenantId: principal.tenantId });
};
