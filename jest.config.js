// Two projects: `unit` (specs beside the code, no services) and `e2e` (test/, real Postgres,
// Redis and worker processes). `npm test` runs both; `npm run test:unit` only the first.
const fs = require('node:fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcrc.$schema;
const transform = { '^.+\\.(t|j)s$': ['@swc/jest', { ...swcrc, swcrc: false }] };
const moduleNameMapper = {
  '^@lora/engine/io$': '<rootDir>/libs/engine/src/io/index.ts',
  '^@lora/adapters/testing$': '<rootDir>/libs/adapters/src/testing/index.ts',
  '^@lora/(engine|adapters|db|contracts|config|orchestration|queue)$': '<rootDir>/libs/$1/src/index.ts',
};
module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/scripts/**/*.spec.ts'],
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
