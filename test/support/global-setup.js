/**
 * Builds dist/ once, before any test runs. Suites that start the real `node dist/src/server/main.js`
 * (bootstrap, audit faults, multi-instance) must not rebuild it while another worker's processes
 * are loading it: a half-written file fails to load.
 */
const { execFileSync } = require("node:child_process");
const { join } = require("node:path");

module.exports = async function globalSetup() {
  const root = join(__dirname, "../..");
  try {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" });
  } catch (error) {
    throw new Error(`npx tsc -p tsconfig.build.json failed:\n${error.stdout?.toString("utf8") ?? error.message}`);
  }
  process.env.RBAC_DIST_BUILT = "1";
};
