/**
 * Reading the audit trail: one query builder behind the `auditEntries` pages and the export.
 *
 * Rules:
 * - A platform principal reads every stream (optionally one organization); anyone else reads only
 *   its own organization's entries; naming another organization answers NOT_FOUND.
 * - Every read goes through `scope()` first: the builder accepts only a scoped filter.
 * - Oldest first, keyset pagination on the entry id (served by indexes whatever the table size).
 */
import type { EntityManager, SelectQueryBuilder } from "typeorm";
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

declare const scoped: unique symbol;
/** A filter limited to what its principal may read (see `AuditQueryService.scope`). */
export type ScopedAuditFilter = Readonly<AuditFilter> & { readonly [scoped]: true };

export class AuditQueryService {
  /** Pins organization principals to their own organization; another organization → NOT_FOUND. */
  scope(principal: Principal, filter: AuditFilter): ScopedAuditFilter {
    let organizationId = filter.organizationId ?? null;
    if (principal.kind !== "PLATFORM") {
      if (organizationId) assertOrganizationVisible(principal, organizationId);
      organizationId = principal.organizationId;
    }
    return { ...filter, organizationId } as ScopedAuditFilter;
  }

  /** Entries matching the filter with afterId < id (≤ upToId), oldest first. */
  query(em: EntityManager, filter: ScopedAuditFilter, afterId: number | null = null, upToId: number | null = null): SelectQueryBuilder<AuditEntryEntity> {
    const q = em.createQueryBuilder(AuditEntryEntity, "e");
    if (filter.organizationId) q.andWhere("e.organizationId = :organizationId", { organizationId: filter.organizationId });
    if (filter.actorId != null) q.andWhere("e.actorId = :actorId", { actorId: filter.actorId });
    if (filter.action != null) q.andWhere("e.action = :action", { action: filter.action });
    if (filter.operation != null) q.andWhere("e.operation = :operation", { operation: filter.operation });
    if (filter.resource != null) q.andWhere("e.resource = :resource", { resource: filter.resource });
    if (filter.success != null) q.andWhere("e.success = :success", { success: filter.success });
    if (filter.from != null) q.andWhere("e.timestamp >= :from", { from: filter.from.toISOString() });
    if (filter.to != null) q.andWhere("e.timestamp < :to", { to: filter.to.toISOString() });
    if (afterId != null) q.andWhere("e.id > :afterId", { afterId });
    if (upToId != null) q.andWhere("e.id <= :upToId", { upToId });
    return q.orderBy("e.id", "ASC");
  }

  async list(em: EntityManager, principal: Principal, filter: AuditFilter, limit: number, afterId: number | null): Promise<AuditEntryEntity[]> {
    return this.query(em, this.scope(principal, filter), afterId).take(limit).getMany();
  }

  /** The id of the newest entry (0 when there is none): where an export taken now ends. */
  async lastId(em: EntityManager): Promise<number> {
    const row = await em.createQueryBuilder(AuditEntryEntity, "e").select("MAX(e.id)", "last").getRawOne<{ last: number | string | null }>();
    return Number(row?.last ?? 0);
  }

  /**
   * Every matching entry with id ≤ upToId, one keyset page at a time; the next page is read only
   * when asked for. Rows are read raw and converted column by column by the driver (the same
   * conversion entity loading applies, without its per-row overhead: exports read millions).
   */
  async *pages(em: EntityManager, filter: ScopedAuditFilter, upToId: number, pageSize: number): AsyncGenerator<AuditEntryEntity[]> {
    const { driver } = em.connection;
    const columns = em.connection.getMetadata(AuditEntryEntity).columns;
    let afterId = 0;
    while (afterId < upToId) {
      const q = this.query(em, filter, afterId, upToId).select([]);
      for (const column of columns) q.addSelect(`e.${column.propertyName}`, column.propertyName);
      const raw: Array<Record<string, unknown>> = await q.limit(pageSize).getRawMany();
      const page = raw.map((row) => {
        const entry = new AuditEntryEntity();
        for (const column of columns) (entry as unknown as Record<string, unknown>)[column.propertyName] = driver.prepareHydratedValue(row[column.propertyName], column);
        return entry;
      });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      afterId = page[page.length - 1].id;
    }
  }
}
