export * from './host';
export * from './system-db';
export * from './tenancy.module';
export * from './tenant-context';
export * from './tenant-db';
export * from './host-tenant-hook';
export * from './tenant-resolver';
export * from './tenant.types';
