import { scaled } from '../support/timing';

// Each test worker inherits what global-setup exported; keep logs quiet unless asked.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
// Scheduled channel health checks probe every channel in the shared database, other files'
// included (and would take their fakes' queued answers): tests run them explicitly instead.
process.env.CHANNEL_HEALTH_INTERVAL_SECONDS ??= '3600';
// The scheduled settlement close would settle every tenant of the shared database (other files'
// reseller revenue included) once a day's grace has passed: tests close periods explicitly
// (statements.spec runs the scheduler on a database of its own).
process.env.SETTLEMENT_ENABLED ??= 'false';
// The database's own deadlines, scaled like every wait of the suite (test/support/timing.ts): on a
// busy machine opening a connection or a query under lock contention takes longer. Child processes
// the tests start inherit them.
process.env.DATABASE_CONNECT_TIMEOUT_MS ??= String(scaled(5000));
process.env.DATABASE_STATEMENT_TIMEOUT_MS ??= String(scaled(15000));
