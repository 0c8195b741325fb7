import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';

export interface ConnectionSettings {
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  /** How long taking a connection from the pool (or opening one) may take; 5 s unless given. */
  connectTimeoutMs?: number;
  applicationName: string;
}

/** Options shared by every connection the processes open; `synchronize` is never on. */
export function postgresOptions(settings: ConnectionSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName: settings.applicationName,
    extra: {
      max: settings.poolSize,
      connectionTimeoutMillis: settings.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30000,
      // 0: not sent at all (node-postgres leaves a falsy one out), for PgBouncer's sake.
      statement_timeout: settings.statementTimeoutMs || undefined,
    },
  };
}

/** Where compiled (dist) or source (ts) migrations live, relative to this file. */
export function migrationGlobs(): string[] {
  const root = join(__dirname, '..', '..', '..', 'migrations');
  return [join(root, '*.{js,ts}')].map((p) => p.replace(/\\/g, '/'));
}
