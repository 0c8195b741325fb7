import globalTeardown from './global-teardown';

export default async function pgbouncerGlobalTeardown(): Promise<void> {
  await globalThis.__AIGW_PGBOUNCER__?.stop();
  await globalTeardown();
}
