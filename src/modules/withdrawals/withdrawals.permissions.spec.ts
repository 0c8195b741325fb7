import { abilityToSql, asSubject, buildAbility, Principal, Role } from '@app/authorization';
import { WITHDRAWAL, withdrawalsPermissions } from './withdrawals.permissions';

const RESELLER = '0193a000-0000-7000-8000-0000000000aa';
const OTHER = '0193a000-0000-7000-8000-0000000000bb';
const PLATFORM = '0193a000-0000-7000-8000-0000000000cc';

function principal(tenantType: 'platform' | 'reseller', roles: Role[]): Principal {
  return {
    userId: '0193a000-0000-7000-8000-000000000001',
    email: 'x@example.test',
    tenantId: tenantType === 'platform' ? PLATFORM : RESELLER,
    tenantSlug: 'x',
    tenantType,
    roles,
    sessionId: 's',
    tokenId: 't',
    tokenExpiresAt: 0,
  };
}

const ability = (p: Principal) => buildAbility(p, [withdrawalsPermissions]);
const own = asSubject(WITHDRAWAL, { tenantId: RESELLER, status: 'requested' });
const others = asSubject(WITHDRAWAL, { tenantId: OTHER, status: 'requested' });
const COLUMNS = { tenantId: 'w.tenant_id', status: 'w.status' };

describe('withdrawal permissions', () => {
  it.each<Role>(['owner', 'finance'])('reseller %s requests and reads its own, decides nothing, never sees another reseller', (role) => {
    const a = ability(principal('reseller', [role]));
    expect([a.can('read', own), a.can('create', own), a.can('update', own)]).toEqual([true, true, false]);
    expect([a.can('read', others), a.can('create', others)]).toEqual([false, false]);
    expect(abilityToSql(a, 'read', WITHDRAWAL, COLUMNS)).toEqual({ sql: 'w.tenant_id = :casl0', params: { casl0: RESELLER } });
  });

  it.each<Role>(['owner', 'finance'])('platform %s reads and decides every reseller', (role) => {
    const a = ability(principal('platform', [role]));
    expect([a.can('read', others), a.can('update', others), a.can('create', others)]).toEqual([true, true, false]);
    expect(abilityToSql(a, 'read', WITHDRAWAL, COLUMNS)?.sql).toContain('TRUE');
  });

  it.each<['platform' | 'reseller', Role]>([
    ['platform', 'operator'],
    ['platform', 'sales'],
    ['platform', 'tech'],
    ['platform', 'user'],
    ['reseller', 'sales'],
    ['reseller', 'user'],
  ])('%s %s has no withdrawal capability (403), and lists match nothing', (type, role) => {
    const a = ability(principal(type, [role]));
    for (const action of ['read', 'create', 'update'] as const) expect(a.can(action, WITHDRAWAL)).toBe(false);
    expect(abilityToSql(a, 'read', WITHDRAWAL, COLUMNS)).toBeNull();
  });
});
