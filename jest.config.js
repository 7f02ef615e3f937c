/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  // Node 20's jest cannot require() ESM-only packages; compile the few we reach to CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(cookie)/)'],
  testTimeout: 30000,
};
