export * from './redis-keys';
export * from './usage-event';
