import { classifyFailure } from './metering-failures';
import { UnknownTenantError } from './usage-writer';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('classifyFailure', () => {
  it.each([
    ['read-only transaction (replica, default_transaction_read_only)', pgError('25006', 'cannot execute INSERT in a read-only transaction')],
    ['admin shutdown (connection terminated by an administrator)', pgError('57P01')],
    ['cannot connect now (starting up, recovery)', pgError('57P03')],
    ['too many connections', pgError('53300')],
    ['statement timeout', pgError('57014')],
    ['lock timeout', pgError('55P03')],
    ['deadlock', pgError('40P01')],
    ['connection failure', pgError('08006')],
    ['login refused (role NOLOGIN)', pgError('28000', 'role "aigateway_system" is not permitted to log in')],
    ['connection refused (driver)', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['connection ended (driver)', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['TypeORM wrapper of a read-only refusal', Object.assign(new Error('QueryFailedError'), { driverError: { code: '25006', message: 'read-only' } })],
  ])('%s is an outage', (_, error) => expect(classifyFailure(error)).toBe('outage'));

  it.each([
    ['invalid input (bad inet)', pgError('22P02')],
    ['check violation', pgError('23514')],
    ['foreign key violation', pgError('23503')],
    ['unknown tenant', new UnknownTenantError('0196f0a0-0000-7000-8000-000000000001')],
  ])('%s is the event being refused', (_, error) => expect(classifyFailure(error)).toBe('rejected'));

  it.each([
    ['a raised exception', pgError('P0001')],
    ['a plain error', new Error('something odd')],
  ])('%s is unknown (retried, dead-lettered only after the deliveries limit and only when it fails alone)', (_, error) =>
    expect(classifyFailure(error)).toBe('unknown'),
  );
});
