/** One suite: unit specs beside the code (src, libs) and integration/e2e specs under test/. */
const { readFileSync } = require('node:fs');
const { scaled } = require('./test/setup/time-scale.js');
const swc = JSON.parse(readFileSync(`${__dirname}/.swcrc`, 'utf8'));

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/{src,libs,scripts}/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/web/src/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }],
    // ESM-only dependencies (otplib's base32 and hashes) that Node loads with require(esm) but
    // Jest's module system cannot: compiled to CommonJS for the tests only.
    '/node_modules/(@scure|@noble)/.+\\.js$': ['@swc/jest', { ...swc, jsc: { ...swc.jsc, parser: { syntax: 'ecmascript' } }, swcrc: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@scure|@noble)/)'],
  moduleNameMapper: {
    '^@app/([a-z-]+)$': '<rootDir>/libs/$1/src',
    '^@app/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  // 30 s on a quiet machine, times TEST_TIME_SCALE (measured here once, see test/setup/time-scale.js;
  // the workers inherit it). Tests that need longer say so with scaled() from test/support/timing.
  testTimeout: scaled(30_000),
  maxWorkers: process.env.CI ? 2 : '50%',
};
