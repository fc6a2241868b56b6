/**
 * Starts the real service (the same createApp as `npm start`) on an ephemeral port over a real
 * database, and speaks GraphQL to it over real HTTP.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/config/config";
import { createApp, createLogger, type App } from "../../src/server/app";
import type { DatabaseKind, TestDatabase } from "./databases";

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
  headers: Headers;
}

export interface TestServer {
  url: string;
  app: App;
  database: TestDatabase;
  platformKey: string;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string | null, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Stops the server; keeps the database unless `drop` is true. */
  stop(drop?: boolean): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse an existing database (restart scenarios). */
  database?: TestDatabase;
}

export async function startServer(kind: DatabaseKind, options: StartOptions = {}): Promise<TestServer> {
  const database = options.database ?? (await kind.create());
  const platformKey = options.env?.RBAC_BOOTSTRAP_API_KEY ?? `test-platform-${randomBytes(24).toString("hex")}`;
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: database.url,
    RBAC_BOOTSTRAP_API_KEY: platformKey,
    ...options.env,
  });
  const app = await createApp(config, createLogger(config));
  const address = await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  const url = `${address}/graphql`;

  return {
    url,
    app,
    database,
    platformKey,
    async gql(query, variables, key = platformKey, headers = {}) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: any[] };
      return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
    },
    async stop(drop = true) {
      await app.close();
      if (drop) await database.drop();
    },
  };
}

/** Asserts a GraphQL call succeeded and returns its data. */
export function ok<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(response.errors)}`);
  return response.data as T;
}

export function errorCode(response: GraphQLResponse): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}
