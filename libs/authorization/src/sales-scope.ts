import { Principal } from './principal';

/**
 * Sales scoping, shared by every subject that belongs to a customer (customers, their API keys,
 * their usage). Such a subject exposes one CASL field, `salesUserId`: the customer's current
 * salesperson (null when unbound). A salesperson's rules say `{ salesUserId: principal.userId }`
 * (see `boundToSales`); a repository maps the field to `currentSalesUserSql(<customer id column>)`
 * in the columns it hands to `abilityToSql`, so the same rule filters lists in SQL and checks a
 * loaded object (which must carry `salesUserId`, selected with the same expression) in memory.
 *
 *   const COLUMNS = { tenantId: 'k.tenant_id', salesUserId: currentSalesUserSql('k.user_id') };
 *   can('read', API_KEY, { tenantId: principal.tenantId, ...boundToSales(principal) });
 *
 * A reassignment takes effect on the very next request: nothing is cached.
 */
export const SALES_USER_FIELD = 'salesUserId';

const COLUMN_REFERENCE = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** SQL for the current salesperson of the customer whose id is in `customerIdColumn` (NULL when unbound). */
export function currentSalesUserSql(customerIdColumn: string): string {
  if (!COLUMN_REFERENCE.test(customerIdColumn)) throw new Error(`not a column reference: ${customerIdColumn}`);
  // The partial unique index customer_bindings_current_key guarantees at most one row.
  return `(SELECT casl_cb.sales_user_id FROM customer_bindings casl_cb WHERE casl_cb.customer_id = ${customerIdColumn} AND casl_cb.unbound_at IS NULL)`;
}

/** The CASL condition "whose customer is currently bound to this salesperson". */
export function boundToSales(principal: Pick<Principal, 'userId'>): { salesUserId: string } {
  return { [SALES_USER_FIELD]: principal.userId } as { salesUserId: string };
}
