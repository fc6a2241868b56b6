/**
 * Reading the audit trail.
 *
 * Rules:
 * - A platform principal reads every stream (optionally one organization); anyone else reads only
 *   its own organization's entries; naming another organization answers NOT_FOUND.
 * - Oldest first, keyset pagination on the entry id (served by indexes whatever the table size).
 */
import type { EntityManager } from "typeorm";
import type { Principal } from "../shared/principal";
import { assertOrganizationVisible } from "../shared/scope";
import { AuditEntryEntity } from "./audit-entry.entity";

export interface AuditFilter {
  organizationId?: string | null;
  actorId?: string | null;
  action?: string | null;
  operation?: string | null;
  resource?: string | null;
  success?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

export class AuditQueryService {
  async list(em: EntityManager, principal: Principal, filter: AuditFilter, limit: number, afterId: number | null): Promise<AuditEntryEntity[]> {
    let organizationId = filter.organizationId ?? null;
    if (principal.kind !== "PLATFORM") {
      if (organizationId) assertOrganizationVisible(principal, organizationId);
      organizationId = principal.organizationId;
    }
    const q = em.createQueryBuilder(AuditEntryEntity, "e");
    if (organizationId) q.andWhere("e.organizationId = :organizationId", { organizationId });
    if (filter.actorId != null) q.andWhere("e.actorId = :actorId", { actorId: filter.actorId });
    if (filter.action != null) q.andWhere("e.action = :action", { action: filter.action });
    if (filter.operation != null) q.andWhere("e.operation = :operation", { operation: filter.operation });
    if (filter.resource != null) q.andWhere("e.resource = :resource", { resource: filter.resource });
    if (filter.success != null) q.andWhere("e.success = :success", { success: filter.success });
    if (filter.from != null) q.andWhere("e.timestamp >= :from", { from: filter.from.toISOString() });
    if (filter.to != null) q.andWhere("e.timestamp < :to", { to: filter.to.toISOString() });
    if (afterId != null) q.andWhere("e.id > :afterId", { afterId });
    return q.orderBy("e.id", "ASC").take(limit).getMany();
  }
}
