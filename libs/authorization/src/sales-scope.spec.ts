import { AbilityBuilder, createMongoAbility } from '@casl/ability';
import { AppAbility, asSubject } from './ability';
import { abilityToSql, UnsupportedRuleError } from './ability-sql';
import { boundToSales, currentSalesUserSql } from './sales-scope';

describe('sales scoping', () => {
  const sales = { userId: '0193a000-0000-7000-8000-000000000001' };
  const build = () => {
    const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
    can('read', 'Customer', { tenantId: 't1', ...boundToSales(sales) });
    return build();
  };

  it('becomes a subquery on the current binding in SQL, with the user id as a parameter', () => {
    const filter = abilityToSql(build(), 'read', 'Customer', { tenantId: 'u.tenant_id', salesUserId: currentSalesUserSql('u.id') });
    expect(filter!.sql).toBe(
      '(u.tenant_id = :casl0 AND (SELECT casl_cb.sales_user_id FROM customer_bindings casl_cb WHERE casl_cb.customer_id = u.id AND casl_cb.unbound_at IS NULL) = :casl1)',
    );
    expect(filter!.params).toEqual({ casl0: 't1', casl1: sales.userId });
  });

  it('checks a loaded object by the same field', () => {
    const ability = build();
    expect(ability.can('read', asSubject('Customer', { tenantId: 't1', salesUserId: sales.userId }))).toBe(true);
    expect(ability.can('read', asSubject('Customer', { tenantId: 't1', salesUserId: null }))).toBe(false);
    expect(ability.can('read', asSubject('Customer', { tenantId: 't1', salesUserId: 'someone-else' }))).toBe(false);
  });

  it('refuses a repository that forgot to map the field, and anything but a column reference', () => {
    expect(() => abilityToSql(build(), 'read', 'Customer', { tenantId: 'u.tenant_id' })).toThrow(UnsupportedRuleError);
    expect(() => currentSalesUserSql('u.id OR true')).toThrow();
  });
});
