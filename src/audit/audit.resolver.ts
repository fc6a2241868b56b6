import { Arg, Ctx, ID, Int, Query, Resolver } from "type-graphql";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { decodeCursor, pageSize, toConnection } from "../shared/pagination";
import { principalOf } from "../shared/resolver-context";
import { AuditChainVerificationType, AuditEntryConnection, AuditEntryFilter, AuditEntryType } from "./audit-entry.type";
import { verifyChain, type CheckpointSource } from "./audit-chain";
import { PLATFORM_STREAM } from "./audit-log";
import { assertOrganizationVisible } from "../shared/scope";
import { ForbiddenError } from "../shared/errors";
import type { AuditQueryService } from "./audit-query.service";

@Resolver(() => AuditEntryType)
export class AuditResolver {
  constructor(
    private readonly db: Database,
    private readonly queries: AuditQueryService,
    /** Retention checkpoints (src/audit/retention/), so purged streams verify from their checkpoint. */
    private readonly checkpoints?: CheckpointSource,
  ) {}

  @Query(() => AuditEntryConnection, { description: "Oldest first. Organization principals see their own organization's entries." })
  async auditEntries(
    @Arg("filter", () => AuditEntryFilter, { nullable: true }) filter: AuditEntryFilter | null,
    @Arg("first", () => Int, { nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditEntryConnection> {
    const limit = pageSize(first);
    const rows = await this.queries.list(this.db.manager, principalOf(ctx), filter ?? {}, limit + 1, decodeCursor<number>(after, "number"));
    const page = toConnection(rows, limit, (e) => e.id);
    return { ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: { ...edge.node, id: String(edge.node.id) } as AuditEntryType })) };
  }

  @Query(() => AuditChainVerificationType, {
    description: "Walks an organization's audit hash chain (null: the platform stream, platform principals only).",
  })
  async verifyAuditChain(@Arg("organizationId", () => ID, { nullable: true }) organizationId: string | null, @Ctx() ctx: RequestContext): Promise<AuditChainVerificationType> {
    const principal = principalOf(ctx);
    if (organizationId == null && principal.kind !== "PLATFORM") throw new ForbiddenError(["platform"]);
    if (organizationId != null) assertOrganizationVisible(principal, organizationId);
    return verifyChain(this.db.manager, organizationId ?? PLATFORM_STREAM, this.checkpoints);
  }
}
