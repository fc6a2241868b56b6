/**
 * acl-06 deny by default, and the two drift checks (committed schema, migrations vs entities).
 *
 * - Every field of every object type of the schema the service serves has an explicit shield rule:
 *   root fields through a row of the operation table, every other object type through
 *   READABLE_OBJECT_TYPES; and the tables name nothing the schema lacks.
 * - A field with no rule is denied at runtime by the fallback rule — even to a platform principal.
 * - schema/schema.graphql is exactly what the type-graphql classes print.
 * - On every database, the migrations create exactly what the entities declare, and seed the
 *   built-in roles of the seed's table.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  buildSchema,
  execute,
  extendSchema,
  isObjectType,
  parse,
  printSchema,
  type ExecutionResult,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { applyMiddleware } from "graphql-middleware";
import { OPERATIONS, READABLE_OBJECT_TYPES } from "../../src/authz/operations";
import { buildRuleTree, buildShield, withoutAllowWrappers } from "../../src/authz/rules";
import { RoleEntity } from "../../src/roles/role.entity";
import { printSchemaFile } from "../../src/server/print-schema";
import { buildTypeSchema } from "../../src/server/schema";
import type { RequestContext } from "../../src/shared/context";
import { ACTIONS } from "../../src/shared/principal";
import { DATABASES } from "../support/databases";
import { ok, startServer, type TestServer } from "../support/server";

/** The seed's role table (issue #2, DESIGN.md), written out by hand. */
const SEED_ROLES = {
  admin: { permissions: ["READ", "WRITE", "DELETE", "ADMIN"], assignableToPeople: true },
  developer: { permissions: ["READ", "WRITE"], assignableToPeople: true },
  viewer: { permissions: ["READ"], assignableToPeople: true },
  service: { permissions: ["READ", "WRITE"], assignableToPeople: false }, // API keys only, never SSO
} as const;

const ROOT_TYPES = ["Query", "Mutation", "Subscription"];

/** The HTTP route of each `Http.*` row of the operation table, written by hand. */
const HTTP_ROUTES: Record<string, readonly ["GET" | "POST", string]> = {
  "Http.auditExport": ["GET", "/audit/export"],
};

function objectTypes(schema: GraphQLSchema): GraphQLObjectType[] {
  return Object.values(schema.getTypeMap())
    .filter(isObjectType)
    .filter((type) => !type.name.startsWith("__"));
}

type RuleNode = { resolve?: unknown; name?: string } | Record<string, unknown>;
const isRule = (node: unknown): node is { resolve: unknown; name: string } => typeof (node as { resolve?: unknown })?.resolve === "function";

/** The rule shield applies to type.field: a field rule, or a rule for the whole type; undefined → fallback. */
function ruleFor(tree: Record<string, RuleNode>, type: string, field: string): { name: string } | undefined {
  const node = tree[type];
  if (node === undefined) return undefined;
  if (isRule(node)) return node;
  const fieldRule = (node as Record<string, unknown>)[field];
  return isRule(fieldRule) ? fieldRule : undefined;
}

const platformContext = (): RequestContext => ({
  requestId: "schema-coverage",
  ip: null,
  userAgent: null,
  principal: { id: "platform-test", kind: "PLATFORM", displayName: "Platform", organizationId: null, roleKey: null, permissions: new Set(ACTIONS) },
  credentialError: null,
});

describe("acl-06 deny by default: every field of the served schema has an explicit rule", () => {
  let schema: GraphQLSchema;
  const tree = buildRuleTree() as unknown as Record<string, RuleNode>;

  beforeAll(async () => {
    schema = await buildTypeSchema();
  });

  test("acl-06 every Query and Mutation field has a row in the operation table and its generated rule", () => {
    const missingRow: string[] = [];
    const missingRule: string[] = [];
    for (const type of objectTypes(schema).filter((t) => ROOT_TYPES.includes(t.name))) {
      for (const field of Object.keys(type.getFields())) {
        const operation = `${type.name}.${field}`;
        if (!(operation in OPERATIONS)) missingRow.push(operation);
        if (ruleFor(tree, type.name, field)?.name !== `op:${operation}`) missingRule.push(operation);
      }
    }
    expect({ missingRow, missingRule }).toEqual({ missingRow: [], missingRule: [] });
  });

  test("acl-06 every other object type is listed as readable and has an explicit rule for each field", () => {
    const unlisted: string[] = [];
    const withoutRule: string[] = [];
    for (const type of objectTypes(schema).filter((t) => !ROOT_TYPES.includes(t.name))) {
      if (!(READABLE_OBJECT_TYPES as readonly string[]).includes(type.name)) unlisted.push(type.name);
      for (const field of Object.keys(type.getFields())) {
        if (!ruleFor(tree, type.name, field)) withoutRule.push(`${type.name}.${field}`);
      }
    }
    expect({ unlisted, withoutRule }).toEqual({ unlisted: [], withoutRule: [] });
  });

  test("acl-06 the tables and the rule tree name no type or field the schema lacks", () => {
    const fieldExists = (name: string) => {
      const [type, field] = name.split(".");
      const t = schema.getType(type);
      return isObjectType(t) && field in t.getFields();
    };
    // `Http.*` rows are HTTP routes, checked against the served routes below.
    const staleRows = Object.keys(OPERATIONS).filter((op) => !op.startsWith("Http.") && !fieldExists(op));
    const staleTypes = READABLE_OBJECT_TYPES.filter((type) => !isObjectType(schema.getType(type)) || ROOT_TYPES.includes(type));
    const staleRules = Object.entries(tree).flatMap(([type, node]) =>
      isRule(node) ? (isObjectType(schema.getType(type)) ? [] : [type]) : Object.keys(node).map((f) => `${type}.${f}`).filter((f) => !fieldExists(f)),
    );
    expect({ staleRows, staleTypes, staleRules }).toEqual({ staleRows: [], staleTypes: [], staleRules: [] });
  });

  test("schema/schema.graphql matches the schema the service serves", async () => {
    const hint = "schema/schema.graphql differs from the served schema: run `npm run schema:emit` and commit the result";
    const committed = readFileSync(resolve(__dirname, "../../schema/schema.graphql"), "utf8");
    expect(`${hint}\n${await printSchemaFile()}`).toBe(`${hint}\n${committed}`);
  });
});

describe("acl-06 deny by default at runtime: the fallback rule", () => {
  /**
   * The served schema (as SDL, so default resolvers read the root value) plus fields and a type that
   * no table lists, under the service's real shield.
   */
  let guarded: GraphQLSchema;

  beforeAll(async () => {
    const served = buildSchema(printSchema(await buildTypeSchema()));
    const extended = extendSchema(
      served,
      parse(`
        type UnlistedType { value: String }
        extend type Query { unlistedRootField: String }
        extend type Mutation { unlistedMutation: Boolean }
        extend type Principal { unlistedObject: UnlistedType }
      `),
    );
    guarded = withoutAllowWrappers(applyMiddleware(extended, buildShield()), extended); // as src/server/app.ts composes it
  });

  const rootValue = {
    me: { id: "platform-test", kind: "PLATFORM", displayName: "Platform", permissions: [...ACTIONS], unlistedObject: { value: "secret" } },
    unlistedRootField: "secret",
    unlistedMutation: true,
  };

  const run = async (source: string): Promise<ExecutionResult> =>
    (await execute({ schema: guarded, document: parse(source), rootValue, contextValue: platformContext() })) as ExecutionResult;

  const codes = (result: ExecutionResult) => (result.errors ?? []).map((e) => ({ path: e.path?.join("."), code: e.extensions?.code }));

  test("acl-06 control: a listed field answers a platform principal", async () => {
    const result = await run(`{ me { id kind } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: { id: "platform-test", kind: "PLATFORM" } });
  });

  test("acl-06 a Query field with no rule is FORBIDDEN, even to a platform principal", async () => {
    const result = await run(`{ unlistedRootField }`);
    expect(codes(result)).toEqual([{ path: "unlistedRootField", code: "FORBIDDEN" }]);
    expect(result.data).toEqual({ unlistedRootField: null });
  });

  test("acl-06 a Mutation field with no rule is FORBIDDEN, even to a platform principal", async () => {
    const result = await run(`mutation { unlistedMutation }`);
    expect(codes(result)).toEqual([{ path: "unlistedMutation", code: "FORBIDDEN" }]);
    expect(result.data).toEqual({ unlistedMutation: null });
  });

  test("composed as the service does: readable types keep type-graphql's resolvers, root fields get audit + shield", async () => {
    const typeSchema = await buildTypeSchema();
    const served = withoutAllowWrappers(applyMiddleware(typeSchema, buildShield()), typeSchema);
    for (const typeName of READABLE_OBJECT_TYPES) {
      const own = (typeSchema.getType(typeName) as GraphQLObjectType).getFields();
      for (const [name, field] of Object.entries((served.getType(typeName) as GraphQLObjectType).getFields())) expect(field.resolve).toBe(own[name].resolve);
    }
    const rootOwn = typeSchema.getQueryType()!.getFields().can.resolve;
    expect(served.getQueryType()!.getFields().can.resolve).not.toBe(rootOwn);
  });

  test("fields of readable types run their own resolvers (their rule is allow); root fields and unlisted types keep shield", () => {
    for (const typeName of READABLE_OBJECT_TYPES) {
      const type = guarded.getType(typeName) as GraphQLObjectType;
      for (const field of Object.values(type.getFields())) expect(field.resolve).toBeUndefined(); // SDL schema: the default resolver
    }
    expect((guarded.getQueryType()!.getFields().me.resolve as unknown) ?? null).not.toBeNull();
    expect((guarded.getType("UnlistedType") as GraphQLObjectType).getFields().value.resolve).toBeDefined();
  });

  test("acl-06 the fields of an unlisted object type are FORBIDDEN, even reached through an allowed field", async () => {
    const result = await run(`{ me { id unlistedObject { value } } }`);
    expect(codes(result)).toEqual([{ path: "me.unlistedObject.value", code: "FORBIDDEN" }]);
    expect(result.data).toEqual({ me: { id: "platform-test", unlistedObject: { value: null } } });
  });
});

describe.each(DATABASES)("schema and migrations on $name", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.stop());

  test("the migrations create exactly what the entities declare (no pending schema change)", async () => {
    const pending = await server.app.db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  test("acl-06 every Http row of the operation table names a route the service serves", () => {
    const unrouted = Object.keys(OPERATIONS)
      .filter((op) => op.startsWith("Http."))
      .filter((op) => !(op in HTTP_ROUTES) || !server.app.fastify.hasRoute({ method: HTTP_ROUTES[op][0], url: HTTP_ROUTES[op][1] }));
    expect(unrouted).toEqual([]);
  });

  test("no migration is left pending after start", async () => {
    expect(await server.app.db.dataSource.showMigrations()).toBe(false);
  });

  test("the built-in roles are seeded exactly as the seed's table", async () => {
    const rows = await server.app.db.dataSource.getRepository(RoleEntity).find({ order: { key: "ASC" } });
    const seeded = Object.fromEntries(
      rows.map((r) => [r.key, { builtIn: r.builtIn, permissions: r.permissions.split(",").sort(), assignableToPeople: r.assignableToPeople }]),
    );
    const expected = Object.fromEntries(
      Object.entries(SEED_ROLES).map(([key, r]) => [key, { builtIn: true, permissions: [...r.permissions].sort(), assignableToPeople: r.assignableToPeople }]),
    );
    expect(seeded).toEqual(expected);
  });

  test("the roles query returns the built-in roles", async () => {
    const data = ok(await server.gql<{ roles: Array<{ key: string; builtIn: boolean; permissions: string[] }> }>(`{ roles { key builtIn permissions } }`));
    const served = Object.fromEntries(data.roles.map((r) => [r.key, { builtIn: r.builtIn, permissions: [...r.permissions].sort() }]));
    const expected = Object.fromEntries(Object.entries(SEED_ROLES).map(([key, r]) => [key, { builtIn: true, permissions: [...r.permissions].sort() }]));
    expect(served).toEqual(expected);
  });
});
