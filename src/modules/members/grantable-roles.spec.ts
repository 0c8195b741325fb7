import { grantableRoles } from './grantable-roles';

describe('grantableRoles', () => {
  it('lets an owner grant every role of the target tenant type, and no other', () => {
    expect(grantableRoles({ roles: ['owner'] }, 'reseller').sort()).toEqual(['finance', 'owner', 'sales', 'user']);
    expect(grantableRoles({ roles: ['owner'] }, 'platform')).toContain('tech');
  });

  it('lets an operator grant everything but owner', () => {
    expect(grantableRoles({ roles: ['operator'] }, 'platform')).not.toContain('owner');
    expect(grantableRoles({ roles: ['operator'] }, 'platform')).toContain('sales');
  });

  it('lets nobody else grant anything', () => {
    for (const role of ['sales', 'finance', 'tech', 'user'] as const) expect(grantableRoles({ roles: [role] }, 'reseller')).toEqual([]);
  });
});
