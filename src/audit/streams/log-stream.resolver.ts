import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { Database } from "../../db/database";
import type { RequestContext } from "../../shared/context";
import { decodeCursor, pageSize, toConnection } from "../../shared/pagination";
import { auditTarget, changedFields, managerFor, principalOf } from "../../shared/resolver-context";
import type { LogStreamDeliveryService } from "./log-stream-delivery.service";
import type { LogStreamEntity } from "./log-stream.entity";
import { CreateLogStreamInput, UpdateLogStreamInput } from "./log-stream.input";
import { urlOrigin, type LogStreamService } from "./log-stream.service";
import { LogStreamDeliveryConnection, LogStreamType, LogStreamWithSecretType } from "./log-stream.type";

@Resolver(() => LogStreamType)
export class LogStreamResolver {
  constructor(
    private readonly db: Database,
    private readonly streams: LogStreamService,
    private readonly worker: LogStreamDeliveryService,
  ) {}

  @Query(() => [LogStreamType], { description: "The organization's SIEM log streams (admin)." })
  async logStreams(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<LogStreamType[]> {
    const em = this.db.manager;
    const rows = await this.streams.list(em, principalOf(ctx), organizationId);
    const head = await this.streams.headOf(em, organizationId);
    return rows.map((row) => view(row, head));
  }

  @Query(() => LogStreamDeliveryConnection, { description: "The stream's delivery log: one row per attempt, newest first." })
  async logStreamDeliveries(
    @Arg("streamId", () => ID) streamId: string,
    @Arg("first", () => Int, { nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<LogStreamDeliveryConnection> {
    const limit = pageSize(first);
    const rows = await this.streams.deliveries(this.db.manager, principalOf(ctx), streamId, limit + 1, decodeCursor<number>(after, "number"));
    const page = toConnection(rows, limit, (d) => d.id);
    return { ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: { ...edge.node, id: String(edge.node.id) } })) };
  }

  @Mutation(() => LogStreamWithSecretType, { description: "Starts streaming the organization's whole audit trail (from sequence 1). The secret is in the answer, once." })
  async createLogStream(@Arg("input") input: CreateLogStreamInput, @Ctx() ctx: RequestContext): Promise<LogStreamWithSecretType> {
    const em = managerFor(ctx, this.db);
    const { stream, secret } = await this.streams.create(em, principalOf(ctx), input);
    auditTarget(ctx, stream.organizationId, `logStream:${stream.id}`, { created: { endpoint: urlOrigin(stream.url), batchSize: stream.batchSize } });
    this.worker.wake(stream.organizationId);
    return { logStream: view(stream, await this.streams.headOf(em, stream.organizationId)), secret };
  }

  @Mutation(() => LogStreamType, { description: "Absent fields stay unchanged." })
  async updateLogStream(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateLogStreamInput, @Ctx() ctx: RequestContext): Promise<LogStreamType> {
    const em = managerFor(ctx, this.db);
    const { before, stream } = await this.streams.update(em, principalOf(ctx), id, input);
    const changed = changedFields(before, stream, ["enabled", "batchSize"]);
    if (before.url !== stream.url) changed.url = [urlOrigin(before.url), urlOrigin(stream.url)];
    auditTarget(ctx, stream.organizationId, `logStream:${stream.id}`, { changed });
    this.worker.wake(stream.organizationId);
    return view(stream, await this.streams.headOf(em, stream.organizationId));
  }

  @Mutation(() => Boolean, { description: "Stops the stream and deletes its delivery log (the audit trail itself is untouched)." })
  async deleteLogStream(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const stream = await this.streams.delete(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, stream.organizationId, `logStream:${stream.id}`, { deleted: { endpoint: urlOrigin(stream.url) } });
    return true;
  }

  @Mutation(() => LogStreamWithSecretType, { description: "A new signing secret, in the answer once; it signs every batch from the next one on." })
  async rotateLogStreamSecret(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LogStreamWithSecretType> {
    const em = managerFor(ctx, this.db);
    const { stream, secret } = await this.streams.rotateSecret(em, principalOf(ctx), id);
    auditTarget(ctx, stream.organizationId, `logStream:${stream.id}`, { rotated: "secret" });
    this.worker.wake(stream.organizationId);
    return { logStream: view(stream, await this.streams.headOf(em, stream.organizationId)), secret };
  }
}

/** What GraphQL gets of a stream: never the sealed secret or the lease. */
function view(row: LogStreamEntity, head: number): LogStreamType {
  return {
    id: row.id,
    organizationId: row.organizationId,
    url: row.url,
    enabled: row.enabled,
    batchSize: row.batchSize,
    lastAcknowledgedSequence: row.lastAcknowledgedSequence,
    lastDeliveryAt: row.lastDeliveryAt,
    lastError: row.lastError,
    failedAttempts: row.failedAttempts,
    nextAttemptAt: row.nextAttemptAt,
    pending: Math.max(0, head - row.lastAcknowledgedSequence),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
