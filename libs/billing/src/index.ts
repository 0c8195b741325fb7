export * from './billing-engine';
export * from './billing-scripts';
export * from './redis-keys';
export * from './usage-event';
export * from './settle-spool';
