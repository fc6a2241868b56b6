import { Arg, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { Database } from "../../db/database";
import type { RequestContext } from "../../shared/context";
import { auditTarget, managerFor, principalOf } from "../../shared/resolver-context";
import { SsoConnectionTestType } from "../sso-connection-test.type";
import { CreateSamlConnectionInput, UpdateSamlConnectionInput } from "./saml-connection.input";
import type { SamlConnectionService } from "./saml-connection.service";
import { SamlConnectionType } from "./saml-connection.type";

/** The audit resource of a change: the connection and which fields changed (never a value, never a key). */
function resource(id: string, changed: string[] = []): string {
  return changed.length > 0 ? `samlConnection:${id} changed: ${changed.join(", ")}` : `samlConnection:${id}`;
}

@Resolver(() => SamlConnectionType)
export class SamlConnectionResolver {
  constructor(
    private readonly db: Database,
    private readonly connections: SamlConnectionService,
  ) {}

  @Query(() => [SamlConnectionType], { description: "The organization's SAML identity providers." })
  async samlConnections(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<SamlConnectionType[]> {
    const rows = await this.connections.list(this.db.manager, principalOf(ctx), organizationId);
    return rows.map((row) => this.connections.toType(row));
  }

  @Query(() => SsoConnectionTestType, { description: "Checks the configuration (certificates, URLs, entity IDs, SSO switch) without logging anyone in." })
  testSamlConnection(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<SsoConnectionTestType> {
    return this.connections.test(this.db.manager, principalOf(ctx), id);
  }

  @Mutation(() => SamlConnectionType, { description: "Also generates our SP signing key pair; paste `spEntityId`, `acsUrl` (or `metadataUrl`) into the IdP." })
  async createSamlConnection(@Arg("input") input: CreateSamlConnectionInput, @Ctx() ctx: RequestContext): Promise<SamlConnectionType> {
    const connection = await this.connections.create(managerFor(ctx, this.db), principalOf(ctx), input);
    auditTarget(ctx, connection.organizationId, resource(connection.id));
    return this.connections.toType(connection);
  }

  @Mutation(() => SamlConnectionType)
  async updateSamlConnection(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateSamlConnectionInput, @Ctx() ctx: RequestContext): Promise<SamlConnectionType> {
    const { connection, changed } = await this.connections.update(managerFor(ctx, this.db), principalOf(ctx), id, input);
    auditTarget(ctx, connection.organizationId, resource(connection.id, changed));
    return this.connections.toType(connection);
  }

  @Mutation(() => SamlConnectionType, {
    description: "Reads the IdP's EntityDescriptor (entity ID, SSO URL, signing certificates) and creates the organization's connection for that IdP, or updates it.",
  })
  async importSamlMetadata(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("metadataXml") metadataXml: string,
    @Ctx() ctx: RequestContext,
  ): Promise<SamlConnectionType> {
    const { connection, changed, created } = await this.connections.importMetadata(managerFor(ctx, this.db), principalOf(ctx), organizationId, metadataXml);
    auditTarget(ctx, connection.organizationId, created ? `${resource(connection.id)} created from metadata` : resource(connection.id, changed));
    return this.connections.toType(connection);
  }

  @Mutation(() => Boolean)
  async deleteSamlConnection(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const connection = await this.connections.delete(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, connection.organizationId, resource(connection.id));
    return true;
  }
}
