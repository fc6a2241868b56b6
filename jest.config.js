/** Jest: TypeScript through SWC (decorators + metadata for type-graphql and TypeORM). */
const swc = (syntax) => ({
  jsc: {
    parser: syntax === "typescript" ? { syntax, decorators: true } : { syntax: "ecmascript" },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: "es2022",
  },
  module: { type: "commonjs" },
  sourceMaps: "inline",
});

// ESM-only packages (and CommonJS ones that `import()` them): Node 20 loads them natively, Jest's
// own module loader does not, so they are compiled to CommonJS for the tests only.
const ESM_PACKAGES = ["jose", "openid-client", "oauth4webapi", "cookie", "@fastify/cookie"];

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", swc("typescript")],
    "^.+\\.m?js$": ["@swc/jest", swc("ecmascript")],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join("|")})/)`],
  setupFiles: ["reflect-metadata"],
  globalSetup: "<rootDir>/test/support/global-setup.js",
  testTimeout: 30000,
  // Integration suites start real servers and databases; two workers fit the 2-core machine.
  maxWorkers: 2,
};
