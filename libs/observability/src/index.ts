export * from './dependency-probe';
export * from './http-metrics';
export * from './logger';
export * from './metrics';
export * from './observability.module';
export * from './request-id';
export * from './metrics-server';
export * from './tracing';
