import { RowLevelSecurity1763769600000 } from './1763769600000-RowLevelSecurity';
import { TenantsAndUsers1763769600100 } from './1763769600100-TenantsAndUsers';
import { Identity1763769600200 } from './1763769600200-Identity';
import { Customers1763769600300 } from './1763769600300-Customers';
import { Ledger1763769600600 } from './1763769600600-Ledger';

/** Every migration, in order. A test fails if a file in migrations/ is missing here. */
export const ALL_MIGRATIONS = [
  RowLevelSecurity1763769600000,
  TenantsAndUsers1763769600100,
  Identity1763769600200,
  Customers1763769600300,
  Ledger1763769600600,
];
