import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Database } from "../../db/database";
import type { OrganizationService } from "../../organizations/organization.service";
import { OrganizationType } from "../../organizations/organization.type";
import type { RequestContext } from "../../shared/context";
import { auditTarget, managerFor, principalOf } from "../../shared/resolver-context";
import { SsoConnectionTestType } from "../sso-connection-test.type";
import type { OidcClientService } from "./oidc-client.service";
import type { OidcConnectionEntity } from "./oidc-connection.entity";
import { CreateOidcConnectionInput, UpdateOidcConnectionInput } from "./oidc-connection.input";
import { authMethodName, type OidcConnectionService } from "./oidc-connection.service";
import { OidcConnectionType } from "./oidc-connection.type";

/** What the resolver hands GraphQL: the type's fields plus the organization id for the field resolver. No secret. */
type OidcConnectionView = OidcConnectionType & { organizationId: string };

@Resolver(() => OidcConnectionType)
export class OidcConnectionResolver {
  constructor(
    private readonly db: Database,
    private readonly connections: OidcConnectionService,
    private readonly clients: OidcClientService,
    private readonly organizations: OrganizationService,
  ) {}

  @Query(() => [OidcConnectionType])
  async oidcConnections(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<OidcConnectionView[]> {
    const rows = await this.connections.list(this.db.manager, principalOf(ctx), organizationId);
    return rows.map((row) => this.view(row));
  }

  @Query(() => SsoConnectionTestType, { description: "Runs discovery against the issuer and fetches its JWKS; lists what must be fixed." })
  async testOidcConnection(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<SsoConnectionTestType> {
    const connection = await this.connections.get(this.db.manager, principalOf(ctx), id);
    const problems = await this.clients.test(connection, this.connections.secretState(connection));
    return { ok: problems.length === 0, problems };
  }

  @Mutation(() => OidcConnectionType)
  async createOidcConnection(@Arg("input") input: CreateOidcConnectionInput, @Ctx() ctx: RequestContext): Promise<OidcConnectionView> {
    const connection = await this.connections.create(managerFor(ctx, this.db), principalOf(ctx), input);
    auditTarget(ctx, connection.organizationId, `oidcConnection:${connection.id}`);
    return this.view(connection);
  }

  @Mutation(() => OidcConnectionType, { description: "Absent fields stay unchanged; the audit entry names the changed fields (never a secret)." })
  async updateOidcConnection(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateOidcConnectionInput, @Ctx() ctx: RequestContext): Promise<OidcConnectionView> {
    const { connection, changed } = await this.connections.update(managerFor(ctx, this.db), principalOf(ctx), id, input);
    this.clients.forget(connection.id);
    auditTarget(ctx, connection.organizationId, `oidcConnection:${connection.id} changed: ${changed.length > 0 ? changed.join(", ") : "nothing"}`);
    return this.view(connection);
  }

  @Mutation(() => Boolean)
  async deleteOidcConnection(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const connection = await this.connections.delete(managerFor(ctx, this.db), principalOf(ctx), id);
    this.clients.forget(connection.id);
    auditTarget(ctx, connection.organizationId, `oidcConnection:${connection.id}`);
    return true;
  }

  @FieldResolver(() => OrganizationType)
  organization(@Root() connection: OidcConnectionView) {
    return this.organizations.find(this.db.manager, connection.organizationId);
  }

  private view(row: OidcConnectionEntity): OidcConnectionView {
    return {
      id: row.id,
      organizationId: row.organizationId,
      issuer: row.issuer,
      clientId: row.clientId,
      hasClientSecret: row.clientSecretSealed !== null,
      clientAuthMethod: authMethodName(row.clientAuthMethod),
      redirectUri: this.connections.redirectUriOf(row),
      loginUrl: this.connections.loginUrlOf(row),
      scopes: row.scopes,
      groupsClaim: row.groupsClaim,
      maxIdTokenAgeSeconds: row.maxIdTokenAgeSeconds,
      maxAuthAgeSeconds: row.maxAuthAgeSeconds,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }
}
