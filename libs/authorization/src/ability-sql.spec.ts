import { AbilityBuilder, createMongoAbility } from '@casl/ability';
import { abilityToSql, UnsupportedRuleError } from './ability-sql';
import { AppAbility } from './ability';

const columns = { tenantId: 't.tenant_id', id: 't.id', status: 't.status' };

function ability(define: (can: AbilityBuilder<AppAbility>['can'], cannot: AbilityBuilder<AppAbility>['cannot']) => void) {
  const builder = new AbilityBuilder<AppAbility>(createMongoAbility);
  define(builder.can, builder.cannot);
  return builder.build();
}

describe('abilityToSql', () => {
  it('returns null when nothing may be read', () => {
    expect(abilityToSql(ability(() => undefined), 'read', 'Member', columns)).toBeNull();
    expect(abilityToSql(ability((can) => can('read', 'Tenant')), 'read', 'Member', columns)).toBeNull();
  });

  it('is TRUE for an unconditional rule', () => {
    expect(abilityToSql(ability((can) => can('read', 'Member')), 'read', 'Member', columns)).toEqual({ sql: 'TRUE', params: {} });
  });

  it('translates conditions into parameterised SQL', () => {
    const filter = abilityToSql(
      ability((can, cannot) => {
        can('read', 'Member', { tenantId: 'tenant-a' });
        can('read', 'Member', { id: { $in: ['u1', 'u2'] } });
        cannot('read', 'Member', { status: 'disabled' });
      }),
      'read',
      'Member',
      columns,
    );
    expect(filter!.sql).toBe('(NOT (t.status = :casl0) AND ((t.id IN (:...casl1)) OR t.tenant_id = :casl2))');
    expect(filter!.params).toEqual({ casl0: 'disabled', casl1: ['u1', 'u2'], casl2: 'tenant-a' });
    // Values never appear in the SQL text.
    expect(filter!.sql).not.toContain('tenant-a');
  });

  it('refuses unknown fields and operators instead of widening the query', () => {
    expect(() =>
      abilityToSql(ability((can) => can('read', 'Member', { email: 'x' })), 'read', 'Member', columns),
    ).toThrow(UnsupportedRuleError);
    expect(() =>
      abilityToSql(ability((can) => can('read', 'Member', { status: { $regex: '.*' } })), 'read', 'Member', columns),
    ).toThrow(UnsupportedRuleError);
    expect(() =>
      abilityToSql(ability((can) => can('read', 'Member', { tenantId: { $gt: 'a' } })), 'read', 'Member', columns),
    ).toThrow(UnsupportedRuleError);
  });

  it('treats empty in-lists as matching nothing', () => {
    const filter = abilityToSql(ability((can) => can('read', 'Member', { id: { $in: [] } })), 'read', 'Member', columns);
    expect(filter!.sql).toBe('FALSE');
  });
});
