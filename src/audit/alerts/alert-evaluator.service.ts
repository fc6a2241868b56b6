/**
 * Evaluates the alert rules on committed audit entries, off the request path.
 *
 * Rules:
 * - The audit log hands over entries after their commit; the listener only filters them (a few
 *   comparisons) and queues the relevant ones. Evaluation runs later, one entry at a time, and a
 *   failure is logged, never thrown back: a request is never slowed or failed by a rule.
 * - The queue is bounded (10,000 entries): when full, new entries are dropped and counted in the
 *   log, so memory stays bounded under an attack. Entries still queued at shutdown are not evaluated.
 * - Bursts are counted in the audit_entry table itself (the window [entry time − window, entry
 *   time], in the entry's stream), so every instance counts the same rows. Counts go through
 *   indexes: (actorId, id) and (ipAddress, id) from the id of the first entry of the window.
 * - Before counting, an open alert for the same rule and subject within the window ends the work:
 *   an ongoing burst costs one indexed lookup per entry, and raises one alert.
 * - `can` / `checkPermissions` decisions are questions, not attempts: a "no" is routine (frontends
 *   ask to hide buttons), so decisions count for no rule but the service key's address.
 */
import type { Logger } from "pino";
import type { Database } from "../../db/database";
import { AuditEntryEntity } from "../audit-entry.entity";
import { ALERT_RULES, type AlertRuleKey } from "./alert-rules";
import type { AlertRuleService } from "./alert-rule.service";
import type { AlertCandidate, AlertService, Dedupe } from "./alert.service";
import type { AlertEntity } from "./alert.entity";

const MAX_QUEUE = 10_000;
/** The window's first id is looked up this much earlier, for entries committed slightly out of order. */
const ID_SLACK_MS = 5_000;
const SEEN_PAIRS_MAX = 10_000;
const ADMIN_ROLE = "admin";

const DECISIONS = new Set(["Query.can", "Query.checkPermissions"]);
const GRANTS = new Set([
  "Mutation.createRoleMapping",
  "Mutation.updateRoleMapping",
  "Mutation.updateOrganization",
  "Mutation.createOrganization",
  "Mutation.createServiceAccount",
  "Mutation.createPasswordUser",
]);

type Entry = Pick<
  AuditEntryEntity,
  "stream" | "sequence" | "timestamp" | "organizationId" | "actorId" | "actorKind" | "role" | "action" | "operation" | "resource" | "success" | "reason" | "ipAddress" | "details"
>;

const isLogin = (e: Entry) => e.operation.startsWith("Auth.login.");
const isAuth = (e: Entry) => e.operation.startsWith("Auth.");
const isFailedDelete = (e: Entry) => !e.success && e.action.includes("delete") && !DECISIONS.has(e.operation) && !isAuth(e);

export class AlertEvaluator {
  private readonly queue: Entry[] = [];
  private draining: Promise<void> | null = null;
  private stopped = false;
  private dropped = 0;
  /** "<service account>|<ip>" pairs known to be stored: no write for a key's usual address. */
  private readonly seenPairs = new Map<string, true>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly rules: AlertRuleService,
    private readonly alerts: AlertService,
    private readonly onRaised: (alert: AlertEntity, deliveries: number) => void,
  ) {}

  /** The audit log's onCommitted listener: cheap, synchronous, never throws. */
  readonly listener = (entries: AuditEntryEntity[]): void => {
    if (this.stopped) return;
    for (const e of entries) {
      if (e.operation === "Mutation.updateAlertRule" && e.success) this.rules.invalidate(e.organizationId);
      if (!this.relevant(e)) continue;
      if (this.queue.length >= MAX_QUEUE) {
        this.dropped += 1;
        if (this.dropped === 1 || this.dropped % 1000 === 0) this.logger.warn({ dropped: this.dropped }, "alert queue full: audit entries dropped from alert evaluation");
        continue;
      }
      this.queue.push(e);
    }
    if (this.queue.length > 0 && !this.draining) this.draining = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  };

  /** Worth queueing: could any rule fire on it? (Runs on every committed entry: keep it cheap.) */
  private relevant(e: AuditEntryEntity): boolean {
    if (e.actorKind === "SERVICE" && e.ipAddress !== null && e.organizationId !== null && !this.seenPairs.has(`${e.actorId}|${e.ipAddress}`)) return true;
    if (DECISIONS.has(e.operation)) return false;
    return !e.success || GRANTS.has(e.operation);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const left = this.queue.length;
    this.queue.length = 0;
    if (left > 0) this.logger.info({ left }, "alert evaluation stopped; queued entries not evaluated");
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      for (let e = this.queue.shift(); e && !this.stopped; e = this.queue.shift()) {
        try {
          await this.evaluate(e);
        } catch (error) {
          this.logger.error({ err: error, stream: e.stream, sequence: e.sequence }, "alert evaluation failed for an audit entry");
        }
      }
    } finally {
      this.draining = null;
    }
  }

  async evaluate(e: Entry): Promise<void> {
    if (e.operation === "Auth.refresh_token_reuse") await this.refreshTokenReuse(e);
    if (!e.success && isLogin(e)) {
      if (e.actorId !== "anonymous") {
        await this.burst(e, "FAILED_LOGIN_BURST_ACCOUNT", { actorId: e.actorId }, "login", (n, w) => `${n} refused logins for account ${e.actorId} within ${w} s; last from ${e.ipAddress ?? "an unknown address"}: ${e.reason ?? "refused"}`);
      }
      if (e.ipAddress) {
        await this.burst(e, "FAILED_LOGIN_BURST_IP", { ipAddress: e.ipAddress }, "login", (n, w) => `${n} refused logins from ${e.ipAddress} within ${w} s; last for account ${e.actorId}: ${e.reason ?? "refused"}`);
      }
    }
    if (isFailedDelete(e)) {
      const who = e.actorId === "anonymous" ? { ipAddress: e.ipAddress ?? "unknown" } : { actorId: e.actorId };
      await this.burst(e, "FAILED_DELETE", who, "delete", (n, w) => `${describeActor(e)} failed ${e.operation} on ${e.resource}${n > 1 ? ` (${n} failed deletes within ${w} s)` : ""}: ${e.reason ?? "failed"}`);
    }
    if (!e.success && !isAuth(e) && !DECISIONS.has(e.operation) && e.actorId !== "anonymous") {
      await this.burst(e, "DENIAL_BURST", { actorId: e.actorId }, "denial", (n, w) => `${describeActor(e)} had ${n} requests refused or failed within ${w} s; last: ${e.operation} on ${e.resource}: ${e.reason ?? "failed"}`);
    }
    if (e.success && GRANTS.has(e.operation)) await this.adminGranted(e);
    if (e.actorKind === "SERVICE" && e.ipAddress && e.organizationId) await this.serviceKeyIp(e);
  }

  /** A counting rule: threshold matching entries of one actor or address within the window. */
  private async burst(
    e: Entry,
    rule: AlertRuleKey,
    who: { actorId: string } | { ipAddress: string },
    kind: "login" | "delete" | "denial",
    describe: (count: number, windowSeconds: number) => string,
  ): Promise<void> {
    const setting = await this.rules.forRule(e.organizationId, rule);
    if (!setting.enabled) return;
    const threshold = setting.threshold!;
    const windowSeconds = setting.windowSeconds!;
    const subject = "actorId" in who ? who.actorId : `ip:${who.ipAddress}`;
    const dedupe: Dedupe = { subject, windowSeconds };
    if (await this.alerts.isOpen(this.db.manager, e.organizationId, rule, dedupe)) return;
    const count = threshold <= 1 ? 1 : await this.count(e, who, kind, windowSeconds);
    if (count < threshold) return;
    await this.raise({ ...this.candidate(e, rule, describe(count, windowSeconds)), subject, eventCount: count }, dedupe);
  }

  /** Failed entries of the stream within [entry time − window, entry time] for the actor or address. */
  private async count(e: Entry, who: { actorId: string } | { ipAddress: string }, kind: "login" | "delete" | "denial", windowSeconds: number): Promise<number> {
    const until = e.timestamp.toISOString();
    const since = new Date(e.timestamp.getTime() - windowSeconds * 1000);
    const first = await this.db.manager
      .createQueryBuilder()
      .select("a.id", "id")
      .from(AuditEntryEntity, "a")
      .where("a.timestamp >= :from", { from: new Date(since.getTime() - ID_SLACK_MS).toISOString() })
      .orderBy("a.timestamp", "ASC")
      .limit(1)
      .getRawOne<{ id: number | string }>();
    if (!first) return 0;
    const q = this.db.manager
      .createQueryBuilder()
      .select("COUNT(*)", "n")
      .from(AuditEntryEntity, "a")
      .where("a.id >= :firstId", { firstId: Number(first.id) })
      .andWhere("a.stream = :stream", { stream: e.stream })
      .andWhere("a.success = :success", { success: false })
      .andWhere("a.timestamp >= :since AND a.timestamp <= :until", { since: since.toISOString(), until });
    if ("actorId" in who) q.andWhere("a.actorId = :actorId", { actorId: who.actorId });
    else q.andWhere("a.ipAddress = :ipAddress", { ipAddress: who.ipAddress });
    if (kind === "login") q.andWhere("a.operation LIKE :login", { login: "Auth.login.%" });
    if (kind !== "login") {
      q.andWhere("a.operation NOT LIKE :auth", { auth: "Auth.%" }).andWhere("a.operation NOT IN (:...decisions)", { decisions: [...DECISIONS] });
    }
    if (kind === "delete") {
      q.andWhere("a.action LIKE :del", { del: "%delete%" });
      if ("ipAddress" in who) q.andWhere("a.actorId = :anonymous", { anonymous: "anonymous" });
    }
    const row = await q.getRawOne<{ n: number | string }>();
    return Number(row?.n ?? 0);
  }

  private async refreshTokenReuse(e: Entry): Promise<void> {
    const setting = await this.rules.forRule(e.organizationId, "REFRESH_TOKEN_REUSE");
    if (!setting.enabled) return;
    const description = `A spent refresh token of user ${e.actorId} was presented again from ${e.ipAddress ?? "an unknown address"}; ${e.resource} (the whole token family) was revoked.`;
    // One open alert per session: replaying the same stolen token again adds nothing new.
    await this.raise({ ...this.candidate(e, "REFRESH_TOKEN_REUSE", description), subject: e.resource }, { subject: e.resource, windowSeconds: null });
  }

  private async adminGranted(e: Entry): Promise<void> {
    const grant = await this.describeGrant(e);
    if (!grant) return;
    const setting = await this.rules.forRule(e.organizationId, "ADMIN_ROLE_GRANTED");
    if (!setting.enabled) return;
    await this.raise({ ...this.candidate(e, "ADMIN_ROLE_GRANTED", `${describeActor(e)} granted the admin role: ${grant}.`), subject: e.resource }, null);
  }

  /** What the change grants, when it grants the admin role; null otherwise. */
  private async describeGrant(e: Entry): Promise<string | null> {
    const details = parseDetails(e.details);
    const id = e.resource.slice(e.resource.indexOf(":") + 1);
    const created = details.created as Record<string, unknown> | undefined;
    const changed = (details.changed ?? {}) as Record<string, [unknown, unknown] | undefined>;
    switch (e.operation) {
      case "Mutation.createRoleMapping":
        return created?.roleKey === ADMIN_ROLE ? `IdP group "${String(created.idpGroup)}" is now mapped to admin (${e.resource})` : null;
      case "Mutation.updateRoleMapping":
        if (changed.roleKey?.[1] === ADMIN_ROLE) return `${e.resource} now maps ${changed.idpGroup ? `IdP group "${String(changed.idpGroup[1])}"` : "its IdP group"} to admin (was ${String(changed.roleKey[0])})`;
        if (changed.idpGroup && (await this.column("role_mapping", "roleKey", id)) === ADMIN_ROLE) {
          return `the admin mapping ${e.resource} moved from IdP group "${String(changed.idpGroup[0])}" to "${String(changed.idpGroup[1])}"`;
        }
        return null;
      case "Mutation.updateOrganization":
        return changed.defaultRoleKey?.[1] === ADMIN_ROLE ? `the default role of ${e.resource} is now admin (was ${String(changed.defaultRoleKey[0] ?? "none")})` : null;
      case "Mutation.createOrganization":
        return (await this.column("organization", "defaultRoleKey", id)) === ADMIN_ROLE ? `${e.resource} was created with admin as its default role` : null;
      case "Mutation.createServiceAccount":
        return (await this.column("service_account", "roleKey", id)) === ADMIN_ROLE ? `${e.resource} was created with the admin role` : null;
      case "Mutation.createPasswordUser":
        return (await this.column("app_user", "roleKey", id)) === ADMIN_ROLE ? `password account ${e.resource} was created with the admin role` : null;
      default:
        return null;
    }
  }

  /** One column of a row of another feature's table (read by name: audit sits below those features). */
  private async column(table: string, column: string, id: string): Promise<unknown> {
    const row = await this.db.manager.createQueryBuilder().select(`t."${column}"`, "value").from(table, "t").where(`t."id" = :id`, { id }).getRawOne<{ value: unknown }>();
    return row?.value ?? null;
  }

  /** The first address of a key is remembered silently; any later new address raises an alert. */
  private async serviceKeyIp(e: Entry): Promise<void> {
    const pair = `${e.actorId}|${e.ipAddress}`;
    if (this.seenPairs.has(pair)) return;
    const outcome = await this.db.transaction(async (em) => {
      const p = this.db.dialect === "postgres" ? ["$1", "$2", "$3", "$4"] : ["?", "?", "?", "?"];
      const inserted = await em.queryRunner!.query(
        `INSERT INTO "service_key_ip" ("serviceAccountId", "ipAddress", "organizationId", "firstSeenAt") VALUES (${p.join(", ")}) ON CONFLICT DO NOTHING`,
        [e.actorId, e.ipAddress, e.organizationId, e.timestamp.toISOString()],
        true,
      );
      if (!inserted.affected) return { isNew: false, known: 0 };
      const [row] = await em.query(`SELECT COUNT(*) AS "n" FROM "service_key_ip" WHERE "serviceAccountId" = ${p[0]}`, [e.actorId]);
      return { isNew: true, known: Number(row.n) - 1 };
    });
    this.remember(pair);
    if (!outcome.isNew || outcome.known === 0) return;
    const setting = await this.rules.forRule(e.organizationId, "SERVICE_KEY_NEW_IP");
    if (!setting.enabled) return;
    const description = `Service account ${e.actorId} (role ${e.role ?? "none"}) was used from ${e.ipAddress}, an address it never used before (${outcome.known} known); first call from there: ${e.operation}.`;
    await this.raise({ ...this.candidate(e, "SERVICE_KEY_NEW_IP", description), subject: pair }, null);
  }

  private remember(pair: string): void {
    if (this.seenPairs.size >= SEEN_PAIRS_MAX) this.seenPairs.delete(this.seenPairs.keys().next().value!);
    this.seenPairs.set(pair, true);
  }

  private candidate(e: Entry, rule: AlertRuleKey, description: string): AlertCandidate {
    return {
      organizationId: e.organizationId,
      rule,
      description,
      subject: null,
      actorId: e.actorId,
      ipAddress: e.ipAddress,
      auditStream: e.stream,
      auditSequence: e.sequence,
      eventCount: 1,
    };
  }

  private async raise(candidate: AlertCandidate, dedupe: Dedupe | null): Promise<void> {
    const raised = await this.alerts.raise(candidate, dedupe);
    if (!raised) return;
    this.logger.warn(
      { alertId: raised.alert.id, rule: candidate.rule, severity: ALERT_RULES[candidate.rule].severity, organizationId: candidate.organizationId, auditSequence: candidate.auditSequence },
      "suspicious activity: alert raised",
    );
    this.onRaised(raised.alert, raised.deliveries);
  }
}


function describeActor(e: Entry): string {
  if (e.actorId === "anonymous") return `An unauthenticated caller${e.ipAddress ? ` from ${e.ipAddress}` : ""}`;
  const kind = e.actorKind === "SERVICE" ? "Service account" : e.actorKind === "PLATFORM" ? "Platform key" : e.actorKind === "USER" ? "User" : "Principal";
  return `${kind} ${e.actorId}${e.role ? ` (role ${e.role})` : ""}`;
}

function parseDetails(details: string | null): Record<string, unknown> {
  if (!details) return {};
  try {
    const parsed = JSON.parse(details) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
