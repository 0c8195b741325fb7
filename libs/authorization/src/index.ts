export * from './ability';
export * from './ability-sql';
export * from './authorization.module';
export * from './policy.decorators';
export * from './principal';
export * from './request-auth';
export * from './roles';
export * from './sales-scope';
