/**
 * Which role a set of IdP groups gives (the mapping-precedence rule, also in the README):
 * 1. Mappings match the exact group string, case-sensitively.
 * 2. Among matching mappings the highest `priority` wins.
 * 3. On equal priority, the role with more permissions wins; then the lower role key, so the
 *    answer never depends on row order.
 * No match → null (the caller falls back to the organization's default role, else no role).
 */
export interface MappingCandidate {
  idpGroup: string;
  roleKey: string;
  priority: number;
}

export function pickMapping<M extends MappingCandidate>(
  mappings: readonly M[],
  groups: readonly string[],
  permissionCount: (roleKey: string) => number,
): M | null {
  const held = new Set(groups);
  let best: M | null = null;
  for (const m of mappings) {
    if (!held.has(m.idpGroup)) continue;
    if (!best || compare(m, best, permissionCount) < 0) best = m;
  }
  return best;
}

function compare(a: MappingCandidate, b: MappingCandidate, permissionCount: (roleKey: string) => number): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const byPower = permissionCount(b.roleKey) - permissionCount(a.roleKey);
  if (byPower !== 0) return byPower;
  return a.roleKey < b.roleKey ? -1 : a.roleKey > b.roleKey ? 1 : a.idpGroup < b.idpGroup ? -1 : 1;
}
