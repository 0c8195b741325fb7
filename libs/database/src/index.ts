export * from './data-source-options';
export * from './database.module';
export * from './role-check';
export * from './tokens';
export * from './migrate';
