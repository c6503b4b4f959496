/** Unit specs live beside the code; e2e specs under test/ talk to a real redis-server and simulator. */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/sim/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/bench/**/*.spec.ts'],
  testTimeout: 30000,
};
