/**
 * Log streams of organizations: configuration and the delivery log.
 *
 * Rules:
 * - Other organizations' streams answer NOT_FOUND, exactly like missing ones (the operation table
 *   already requires ADMIN, and ADMIN + DELETE to delete).
 * - The signing secret is 32 random bytes, returned once by create / rotate, stored only sealed
 *   (AES-256-GCM, purpose bound to the stream id, so a sealed value cannot be moved to another
 *   stream) and never returned, logged or audited afterwards.
 * - The URL is absolute https (http only to loopback outside production, see assertWebhookUrl) and
 *   holds no user name or password. Audit details name it by its origin only: paths and query
 *   strings of SIEM intake URLs often carry tokens.
 * - Writes name only the columns they change: the delivery worker advances the acknowledged
 *   sequence of the same row concurrently, and a configuration change must never move it back.
 * - At most MAX_STREAMS_PER_ORGANIZATION streams per organization; batch size 1–1000.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { OrganizationService } from "../../organizations/organization.service";
import { BadUserInputError, ConflictError, NotFoundError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { canSeeOrganization } from "../../shared/scope";
import type { SecretBox } from "../../shared/secret-box";
import { AuditStreamEntity } from "../audit-entry.entity";
import { assertWebhookUrl } from "../delivery/signed-webhook";
import { LogStreamDeliveryEntity, LogStreamEntity } from "./log-stream.entity";
import type { CreateLogStreamInput, UpdateLogStreamInput } from "./log-stream.input";

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 1000;
export const MAX_STREAMS_PER_ORGANIZATION = 10;
const SECRET_PREFIX = "rbac_ls_";

const secretPurpose = (streamId: string) => `log-stream-secret:${streamId}`;

/** scheme://host[:port] — what audit details and logs may name of an endpoint. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export class LogStreamService {
  constructor(
    private readonly organizations: OrganizationService,
    private readonly secrets: SecretBox,
    private readonly env: string,
  ) {}

  /** The signing secret in clear, for signing a batch only. Throws when it cannot be opened. */
  secretOf(stream: LogStreamEntity): string {
    return this.secrets.open(stream.secretSealed, secretPurpose(stream.id));
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<LogStreamEntity> {
    const stream = await em.findOne(LogStreamEntity, { where: { id } });
    if (!stream || !canSeeOrganization(principal, stream.organizationId)) throw new NotFoundError("Log stream", id);
    return stream;
  }

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<LogStreamEntity[]> {
    await this.organizations.get(em, principal, organizationId);
    return em.find(LogStreamEntity, { where: { organizationId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  /** The organization's newest audit sequence (0 when it has no entry yet). */
  async headOf(em: EntityManager, organizationId: string): Promise<number> {
    const head = await em.findOne(AuditStreamEntity, { where: { stream: organizationId } });
    return head?.lastSequence ?? 0;
  }

  async create(em: EntityManager, principal: Principal, input: CreateLogStreamInput): Promise<{ stream: LogStreamEntity; secret: string }> {
    await this.organizations.get(em, principal, input.organizationId);
    const url = this.validUrl(input.url);
    const count = await em.count(LogStreamEntity, { where: { organizationId: input.organizationId } });
    if (count >= MAX_STREAMS_PER_ORGANIZATION) {
      throw new ConflictError("organizationId", `An organization has at most ${MAX_STREAMS_PER_ORGANIZATION} log streams; delete one first`);
    }
    const now = new Date();
    const id = randomUUID();
    const secret = newSecret();
    const stream = em.create(LogStreamEntity, {
      id,
      organizationId: input.organizationId,
      url,
      secretSealed: this.secrets.seal(secret, secretPurpose(id)),
      enabled: true,
      batchSize: input.batchSize ?? DEFAULT_BATCH_SIZE,
      lastAcknowledgedSequence: 0,
      lastDeliveryAt: null,
      lastError: null,
      failedAttempts: 0,
      nextAttemptAt: null,
      retryUpToSequence: null,
      leaseOwner: null,
      leaseUntil: null,
      createdAt: now,
      updatedAt: now,
    });
    await em.insert(LogStreamEntity, stream);
    return { stream, secret };
  }

  /** Returns the stream before and after (the names of changed fields are what the audit entry shows). */
  async update(em: EntityManager, principal: Principal, id: string, input: UpdateLogStreamInput): Promise<{ before: LogStreamEntity; stream: LogStreamEntity }> {
    const before = await this.get(em, principal, id);
    const changes: Partial<LogStreamEntity> = {};
    if (input.url != null && input.url.trim() !== before.url) changes.url = this.validUrl(input.url);
    if (input.enabled != null && input.enabled !== before.enabled) changes.enabled = input.enabled;
    if (input.batchSize != null && input.batchSize !== before.batchSize) changes.batchSize = input.batchSize;
    if (Object.keys(changes).length === 0) return { before, stream: before };
    // A new endpoint, or switching the stream on, is worth a try right away.
    if (changes.url !== undefined || changes.enabled === true) Object.assign(changes, { failedAttempts: 0, nextAttemptAt: null });
    changes.updatedAt = new Date();
    await em.update(LogStreamEntity, { id }, changes);
    return { before, stream: (await em.findOne(LogStreamEntity, { where: { id } })) ?? { ...before, ...changes } };
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<LogStreamEntity> {
    const stream = await this.get(em, principal, id);
    await em.delete(LogStreamEntity, { id });
    return stream;
  }

  /** A new secret signs every batch from the next one on; a receiver still on the old one refuses it and the batch is retried. */
  async rotateSecret(em: EntityManager, principal: Principal, id: string): Promise<{ stream: LogStreamEntity; secret: string }> {
    await this.get(em, principal, id);
    const secret = newSecret();
    await em.update(LogStreamEntity, { id }, { secretSealed: this.secrets.seal(secret, secretPurpose(id)), failedAttempts: 0, nextAttemptAt: null, updatedAt: new Date() });
    return { stream: (await em.findOneOrFail(LogStreamEntity, { where: { id } })), secret };
  }

  /** Newest first; `beforeId` is the cursor. */
  async deliveries(em: EntityManager, principal: Principal, streamId: string, limit: number, beforeId: number | null): Promise<LogStreamDeliveryEntity[]> {
    await this.get(em, principal, streamId);
    const q = em.createQueryBuilder(LogStreamDeliveryEntity, "d").where("d.streamId = :streamId", { streamId });
    if (beforeId != null) q.andWhere("d.id < :beforeId", { beforeId });
    return q.orderBy("d.id", "DESC").take(limit).getMany();
  }

  private validUrl(raw: string): string {
    const url = raw.trim();
    const problem = assertWebhookUrl(url, this.env);
    if (problem) throw new BadUserInputError("url", `url ${problem}`);
    const parsed = new URL(url);
    if (parsed.username || parsed.password) throw new BadUserInputError("url", "url must not contain a user name or password; the receiver authenticates batches by their signature");
    if (parsed.hash) throw new BadUserInputError("url", "url must not contain a #fragment");
    return url;
  }
}

function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64url")}`;
}
