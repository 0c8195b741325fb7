// Each test worker inherits what global-setup exported; keep logs quiet unless asked.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
// Scheduled channel health checks probe every channel in the shared database, other files'
// included (and would take their fakes' queued answers): tests run them explicitly instead.
process.env.CHANNEL_HEALTH_INTERVAL_SECONDS ??= '3600';
