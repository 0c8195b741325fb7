/** Name of the TypeORM connection that runs as the cross-tenant system role (worker and cli only). */
export const SYSTEM_CONNECTION = 'system';
