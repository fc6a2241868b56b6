/** Jest: TypeScript through SWC (decorators + metadata for type-graphql and TypeORM). */
const swc = {
  jsc: {
    parser: { syntax: "typescript", decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: "es2022",
  },
  module: { type: "commonjs" },
  sourceMaps: "inline",
};

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", swc] },
  setupFiles: ["reflect-metadata"],
  testTimeout: 30000,
  // Integration suites start real servers and databases; two workers fit the 2-core machine.
  maxWorkers: 2,
};
