export * from './host';
export * from './system-db';
export * from './tenancy.module';
export * from './tenant-context';
export * from './tenant-db';
export * from './tenant-resolution.middleware';
export * from './tenant-resolver';
export * from './tenant.types';
