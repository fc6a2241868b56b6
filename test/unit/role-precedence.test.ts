/** src/mappings/role-precedence.ts: which mapping a set of IdP groups gives (the README's rule). */
import { pickMapping, type MappingCandidate } from "../../src/mappings/role-precedence";

const PERMISSION_COUNT: Record<string, number> = { admin: 4, developer: 2, viewer: 1, service: 2 };
const count = (roleKey: string) => PERMISSION_COUNT[roleKey] ?? 0;

const m = (idpGroup: string, roleKey: string, priority = 0): MappingCandidate => ({ idpGroup, roleKey, priority });

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("pickMapping", () => {
  test("the exact group string matches", () => {
    const mapping = m("Engineering", "developer");
    expect(pickMapping([mapping], ["Engineering"], count)).toBe(mapping);
  });

  test.each([
    ["different case", "engineering"],
    ["upper case", "ENGINEERING"],
    ["trailing space", "Engineering "],
    ["prefix only", "Engineer"],
    ["longer string", "Engineering-contractors"],
    ["path-like", "/Engineering"],
  ])("no match on %s (%j): matching is exact and case-sensitive", (_name, group) => {
    expect(pickMapping([m("Engineering", "developer")], [group], count)).toBeNull();
  });

  test("no matching group → null; no groups or no mappings → null", () => {
    expect(pickMapping([m("a", "admin"), m("b", "viewer")], ["c"], count)).toBeNull();
    expect(pickMapping([m("a", "admin")], [], count)).toBeNull();
    expect(pickMapping([], ["a"], count)).toBeNull();
  });

  test("the highest priority wins, even over a role with more permissions", () => {
    const high = m("readers", "viewer", 10);
    const mappings = [m("admins", "admin", 5), high, m("devs", "developer", -1)];
    expect(pickMapping(mappings, ["admins", "readers", "devs"], count)).toBe(high);
  });

  test("negative priorities order correctly", () => {
    const best = m("b", "viewer", -1);
    expect(pickMapping([m("a", "admin", -5), best], ["a", "b"], count)).toBe(best);
  });

  test("a mapping whose group is not held never wins, whatever its priority", () => {
    const held = m("readers", "viewer", 0);
    expect(pickMapping([m("admins", "admin", 100), held], ["readers"], count)).toBe(held);
  });

  test("equal priority → the role with more permissions wins", () => {
    const admin = m("admins", "admin", 3);
    expect(pickMapping([m("readers", "viewer", 3), admin, m("devs", "developer", 3)], ["readers", "admins", "devs"], count)).toBe(admin);
  });

  test("the answer does not depend on the order of mappings or groups", () => {
    const mappings = [m("a", "viewer", 1), m("b", "admin", 1), m("c", "developer", 1), m("d", "admin", 0), m("e", "viewer", 2)];
    const groups = ["a", "b", "c", "d"];
    const expected = mappings[1]; // priority 1 ties, admin has the most permissions; "e" is not held
    for (const order of permutations(mappings)) {
      for (const groupOrder of [groups, [...groups].reverse()]) {
        expect(pickMapping(order, groupOrder, count)).toBe(expected);
      }
    }
  });

  test("a complete tie (same priority, same permission count) is broken the same way every time", () => {
    // developer and service both grant two actions; then two groups mapped to the same role.
    const mappings = [m("x", "service", 0), m("y", "developer", 0), m("z", "developer", 0)];
    const winners = new Set(permutations(mappings).map((order) => pickMapping(order, ["x", "y", "z"], count)));
    expect(winners.size).toBe(1);
    expect([...winners][0]).toEqual(m("y", "developer", 0)); // lower role key, then lower group
  });

  test("duplicate group entries in the IdP assertion do not matter", () => {
    const mapping = m("a", "viewer");
    expect(pickMapping([mapping], ["a", "a", "a"], count)).toBe(mapping);
  });
});
