/** src/config/config.ts: environment → validated, frozen configuration; every problem at once. */
import { randomBytes } from "node:crypto";
import { ConfigError, loadConfig } from "../../src/config/config";

/** Production also needs a key for secrets at rest; tests about other settings give one. */
const PRODUCTION = { NODE_ENV: "production", RBAC_ENCRYPTION_KEY: randomBytes(32).toString("base64") };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("an empty environment gives the documented defaults", () => {
    expect(loadConfig({})).toMatchObject({
      env: "development",
      host: "0.0.0.0",
      port: 4000,
      databaseUrl: "sqlite:./data/rbac.sqlite",
      databasePoolSize: 10,
      logLevel: "info",
      introspection: true,
      trustProxy: false,
      shutdownTimeoutMs: 10_000,
    });
  });

  test("empty strings count as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: "", RBAC_BOOTSTRAP_API_KEY: "" })).toMatchObject({ port: 4000, databaseUrl: "sqlite:./data/rbac.sqlite", bootstrapApiKey: undefined });
  });

  test("the configuration is frozen", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  test("valid values are taken", () => {
    const config = loadConfig({
      ...PRODUCTION,
      PORT: "8080",
      DATABASE_URL: "postgres://rbac:secret@db.internal:5432/rbac",
      DATABASE_POOL_SIZE: "25",
      LOG_LEVEL: "warn",
      TRUST_PROXY: "true",
    });
    expect(config).toMatchObject({ env: "production", port: 8080, databaseUrl: "postgres://rbac:secret@db.internal:5432/rbac", databasePoolSize: 25, logLevel: "warn", trustProxy: true });
  });

  test.each(["sqlite:./data/rbac.sqlite", "sqlite:/var/lib/rbac/rbac.sqlite", "postgres://u:p@h:5432/d", "postgresql://u:p@h/d"])("DATABASE_URL %s is accepted", (url) => {
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
  });

  test("introspection is off in production unless asked for, on elsewhere", () => {
    expect(loadConfig(PRODUCTION).introspection).toBe(false);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_INTROSPECTION: "true" }).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: "test" }).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: "development", GRAPHQL_INTROSPECTION: "0" }).introspection).toBe(false);
  });

  test("every problem is listed at once, each naming its variable", () => {
    const problems = problemsOf({
      PORT: "not-a-port",
      DATABASE_URL: "mysql://root@localhost/rbac",
      LOG_LEVEL: "loud",
      RBAC_BOOTSTRAP_API_KEY: "too-short",
      TRUST_PROXY: "maybe",
    });
    const variables = problems.map((p) => p.split(":")[0]).sort();
    expect(variables).toEqual(["DATABASE_URL", "LOG_LEVEL", "PORT", "RBAC_BOOTSTRAP_API_KEY", "TRUST_PROXY"]);
  });

  test("a production-only requirement is listed together with the other problems", () => {
    const variables = problemsOf({ NODE_ENV: "production", PORT: "not-a-port" }).map((p) => p.split(":")[0]).sort();
    expect(variables).toEqual(["PORT", "RBAC_ENCRYPTION_KEY"]);
  });

  test("the ConfigError message carries every problem, one per line", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "70000", NODE_ENV: "staging" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message, problems } = error as ConfigError;
    expect(problems).toHaveLength(2);
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/NODE_ENV/);
  });

  test.each([
    ["31 characters", "k".repeat(31)],
    ["a space inside", `${"k".repeat(20)} ${"k".repeat(20)}`],
    ["a dot (marks access tokens)", `${"k".repeat(20)}.${"k".repeat(20)}`],
    ["more than 512 characters", "k".repeat(513)],
  ])("RBAC_BOOTSTRAP_API_KEY with %s is refused", (_name, key) => {
    const problems = problemsOf({ RBAC_BOOTSTRAP_API_KEY: key });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^RBAC_BOOTSTRAP_API_KEY: /);
  });

  test("RBAC_BOOTSTRAP_API_KEY shorter than 32 characters names the rule", () => {
    expect(problemsOf({ RBAC_BOOTSTRAP_API_KEY: "k".repeat(31) })).toEqual(["RBAC_BOOTSTRAP_API_KEY: must be at least 32 characters"]);
  });

  test("RBAC_BOOTSTRAP_API_KEY of exactly 32 characters, any printable value, is accepted as given", () => {
    const key = "Abc123!#$%&'()*+,-/:;<=>?@[]^_`{";
    expect(key).toHaveLength(32);
    expect(loadConfig({ RBAC_BOOTSTRAP_API_KEY: key }).bootstrapApiKey).toBe(key);
  });

  test.each([["PORT", "-1"], ["PORT", "65536"], ["PORT", "80.5"], ["DATABASE_POOL_SIZE", "0"], ["SHUTDOWN_TIMEOUT_MS", "-5"], ["DATABASE_URL", "sqlite:"]])(
    "%s=%s is refused",
    (name, value) => {
      expect(problemsOf({ [name]: value }).map((p) => p.split(":")[0])).toEqual([name]);
    },
  );
});
