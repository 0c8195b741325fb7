/**
 * The tenancy, RLS and metering specs again, with the application and system roles connecting
 * through a real PgBouncer in transaction pooling mode (`npm run test:pgbouncer`): tenant scopes,
 * advisory locks and prepared statements must hold when consecutive transactions of one client
 * land on different server connections. Migrations and the owner role go straight to PostgreSQL
 * (a migration holds a session-level advisory lock), as the chart's README says.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  displayName: 'pgbouncer',
  testMatch: [
    '<rootDir>/test/integration/rls.spec.ts',
    '<rootDir>/test/integration/tenant-db.spec.ts',
    '<rootDir>/test/integration/usage-records.spec.ts',
    '<rootDir>/test/e2e/metering.spec.ts',
    '<rootDir>/test/e2e/metering-outage.spec.ts',
    '<rootDir>/test/e2e/statements.spec.ts',
    '<rootDir>/test/integration/pgbouncer.spec.ts',
  ],
  globalSetup: '<rootDir>/test/setup/pgbouncer-global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/pgbouncer-global-teardown.ts',
};
