import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { EntityManager } from "typeorm";
import type { Database } from "../../db/database";
import type { RequestContext } from "../../shared/context";
import { BadUserInputError, ForbiddenError } from "../../shared/errors";
import { pageSize } from "../../shared/pagination";
import { auditTarget, principalOf } from "../../shared/resolver-context";
import { assertOrganizationVisible } from "../../shared/scope";
import { PLATFORM_STREAM } from "../audit-log";
import type { AuditCheckpointEntity } from "./audit-checkpoint.entity";
import { AuditCheckpointType } from "./audit-checkpoint.type";
import type { RetentionService } from "./retention.service";

export const MIN_RETENTION_DAYS = 30;
export const MAX_RETENTION_DAYS = 36_500;
export const DAY_MS = 86_400_000;

@Resolver(() => AuditCheckpointType)
export class RetentionResolver {
  constructor(
    private readonly db: Database,
    private readonly retention: RetentionService,
  ) {}

  @Query(() => [AuditCheckpointType], {
    description: "Retention checkpoints of an organization's audit stream, newest first (null: the platform stream, platform principals only).",
  })
  async auditCheckpoints(
    @Arg("organizationId", () => ID, { nullable: true }) organizationId: string | null,
    @Arg("first", () => Int, { nullable: true }) first: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditCheckpointType[]> {
    const principal = principalOf(ctx);
    if (organizationId == null && principal.kind !== "PLATFORM") throw new ForbiddenError(["platform"]);
    if (organizationId != null) assertOrganizationVisible(principal, organizationId);
    const rows = await this.retention.checkpoints(this.db.manager, organizationId ?? PLATFORM_STREAM, pageSize(first));
    return rows.map((row) => toType(row, row.signatureValid));
  }

  @Mutation(() => [AuditCheckpointType], {
    description:
      "Purges every audit stream's entries older than the given age (30 days at least), leaving a signed checkpoint per purged stream. Returns the new checkpoints.",
  })
  async purgeAuditEntries(@Arg("olderThanDays", () => Int) olderThanDays: number, @Ctx() ctx: RequestContext): Promise<AuditCheckpointType[]> {
    if (!Number.isInteger(olderThanDays) || olderThanDays < MIN_RETENTION_DAYS || olderThanDays > MAX_RETENTION_DAYS) {
      throw new BadUserInputError(
        "olderThanDays",
        `olderThanDays must be between ${MIN_RETENTION_DAYS} and ${MAX_RETENTION_DAYS}, got ${olderThanDays}: entries younger than ${MIN_RETENTION_DAYS} days are never purged`,
      );
    }
    const principal = principalOf(ctx);
    const olderThan = new Date(Date.now() - olderThanDays * DAY_MS);
    const actor = { actorId: principal.id, actorKind: principal.kind, role: principal.roleKey ?? "platform", requestId: ctx.requestId, ipAddress: ctx.ip, userAgent: ctx.userAgent };
    // The audit middleware runs every mutation in a transaction that commits with its entry.
    const purge = (em: EntityManager) => this.retention.purgeAll(em, olderThan, actor);
    const purged = ctx.em ? await purge(ctx.em) : await this.db.transaction(purge);
    auditTarget(ctx, null, `audit:olderThan:${olderThan.toISOString()}`, {
      olderThanDays,
      streams: purged.length,
      entries: purged.reduce((sum, p) => sum + p.checkpoint.entryCount, 0),
    });
    return purged.map((p) => toType(p.checkpoint, true));
  }
}

function toType(row: AuditCheckpointEntity, signatureValid: boolean): AuditCheckpointType {
  return {
    id: row.id,
    organizationId: row.stream === PLATFORM_STREAM ? null : row.stream,
    throughSequence: row.throughSequence,
    throughHash: row.throughHash,
    entryCount: row.entryCount,
    olderThan: row.olderThan,
    createdAt: row.createdAt,
    keyId: row.keyId,
    signature: row.signature,
    signatureValid,
  };
}
