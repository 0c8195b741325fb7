import { UnknownTenantError } from './usage-writer';

/**
 * Why a metering write failed, which decides what happens to its events:
 * - `outage`: PostgreSQL does not take writes right now (down, restarting, failing over, read-only,
 *   out of connections, too slow). Nothing is wrong with the events: they stay pending and are
 *   written once PostgreSQL is back, however long that takes. An outage never counts against an
 *   event.
 * - `rejected`: PostgreSQL refused the event's data (classes 22 and 23), or its tenant does not
 *   exist. Such an event is poison once it fails on its own while the database takes other writes.
 * - `unknown`: anything else; retried, and treated as poison only after METERING_MAX_DELIVERIES
 *   deliveries, and again only when it fails on its own while other writes succeed.
 */
export type FailureKind = 'outage' | 'rejected' | 'unknown';

/** SQLSTATEs (or classes, two characters) that mean "the database cannot write now", not "this data is wrong". */
const OUTAGE_STATES = [
  '08', // connection exception
  '28', // invalid authorization (the role may not log in right now, password rotated)
  '3D000', // the database does not exist (yet, again)
  '53', // insufficient resources: too many connections (53300), out of memory, disk full
  '57P01', // admin shutdown
  '57P02', // crash shutdown
  '57P03', // cannot connect now (starting up, in recovery)
  '57P04', // database dropped
  '57014', // query canceled (statement_timeout)
  '25006', // read-only SQL transaction (a replica after failover, default_transaction_read_only)
  '25P04', // transaction timeout
  '40001', // serialization failure
  '40P01', // deadlock detected
  '55P03', // lock not available (lock_timeout)
  '55006', // object in use
  '58', // system error (I/O)
  'XX', // internal error
  'F0', // configuration file error
  'HV', // foreign data wrapper connection errors
];

/** Errors of the driver or the pool (no SQLSTATE): the connection is gone or never came. */
const OUTAGE_MESSAGES =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|terminating connection|the database system is (starting up|shutting down|in recovery mode)|too many clients|read-only transaction|Client was closed|Cannot use a pool after calling end/i;

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof UnknownTenantError) return 'rejected';
  const e = error as { code?: unknown; message?: unknown; driverError?: { code?: unknown; message?: unknown } };
  const code = typeof e?.code === 'string' ? e.code : typeof e?.driverError?.code === 'string' ? e.driverError.code : undefined;
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    if (OUTAGE_STATES.some((s) => code.startsWith(s))) return 'outage';
    if (code.startsWith('22') || code.startsWith('23')) return 'rejected';
    return 'unknown';
  }
  const message = `${typeof e?.message === 'string' ? e.message : ''} ${typeof code === 'string' ? code : ''} ${
    typeof e?.driverError?.message === 'string' ? e.driverError.message : ''
  }`;
  return OUTAGE_MESSAGES.test(message) ? 'outage' : 'unknown';
}
