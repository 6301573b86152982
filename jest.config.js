// Unit tests beside the code (src/**/*.spec.ts); e2e tests against real PostgreSQL (test/**/*.e2e-spec.ts).
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };

module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  // A worker ends the run near 1 GB of memory, which the OS frees as it exits: 118–295 ms on a KVM machine, and on a
  // slower one past jest's 500 ms, after which jest kills it and reports a leak (none found: only stdio and IPC
  // handles are left when it is told to end).
  workerGracefulExitTimeout: 2000,
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform,
      slowTestThreshold: 30,
    },
  ],
};
