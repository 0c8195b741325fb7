// Each test worker inherits what global-setup exported; keep logs quiet unless asked.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
