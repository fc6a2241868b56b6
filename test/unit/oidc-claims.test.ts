/**
 * Our own ID-token checks (where openid-client has none) and the claim → identity mapping, as
 * pure functions. The same rules run against real peers in test/integration/oidc-login.test.ts.
 */
import { checkIdToken, ClaimRejection, identityFrom, mergeUserInfo, wantsUserInfo, type IdTokenPolicy } from "../../src/sso/oidc/oidc-claims";
import { needsInsecureRequests, urlProblem } from "../../src/sso/oidc/oidc-url-policy";

const NOW = 1_800_000_000;
const policy: IdTokenPolicy = { clientId: "rp", maxIdTokenAgeSeconds: 300, maxAuthAgeSeconds: null, now: NOW };
const good = { iss: "https://idp.example", sub: "u1", aud: "rp", iat: NOW - 10, exp: NOW + 300 };
const rs256 = { alg: "RS256" };

function rejection(header: Record<string, unknown>, claims: Record<string, unknown>, overrides: Partial<typeof policy> = {}): string {
  try {
    checkIdToken(header, claims, { ...policy, ...overrides });
  } catch (error) {
    if (error instanceof ClaimRejection) return error.message;
    throw error;
  }
  return "accepted";
}

describe("ID token checks of our own", () => {
  test("a good token passes, with a single aud or an array holding only us", () => {
    expect(rejection(rs256, good)).toBe("accepted");
    expect(rejection(rs256, { ...good, aud: ["rp"], azp: "rp" })).toBe("accepted");
    expect(rejection({ alg: "ES256" }, good)).toBe("accepted");
    expect(rejection({ alg: "EdDSA" }, good)).toBe("accepted");
  });

  test.each([["none"], ["HS256"], ["HS512"], [undefined]])("oidc-06 alg %s is refused even if openid-client let it through", (alg) => {
    expect(rejection({ alg }, good)).toMatch(/only asymmetric signatures/);
  });

  test("oidc-05 azp must be our client whenever present — also with a single aud", () => {
    expect(rejection(rs256, { ...good, azp: "other" })).toMatch(/azp .* is not our client_id rp/);
    expect(rejection(rs256, { ...good, aud: ["rp", "other"], azp: "other" })).toMatch(/untrusted extra audiences|azp/);
  });

  test("oidc-05 extra audiences are refused even with azp = us", () => {
    expect(rejection(rs256, { ...good, aud: ["rp", "other"], azp: "rp" })).toMatch(/untrusted extra audiences \["other"\]/);
    expect(rejection(rs256, { ...good, aud: "other" })).toMatch(/does not include our client_id/);
  });

  test("oidc-05 iat is bounded: at the bound accepted, one second past refused; not in the future", () => {
    expect(rejection(rs256, { ...good, iat: NOW - 300 })).toBe("accepted");
    expect(rejection(rs256, { ...good, iat: NOW - 301 })).toMatch(/too old: issued 301 s ago, at most 300 s allowed/);
    expect(rejection(rs256, { ...good, iat: NOW + 30 })).toBe("accepted");
    expect(rejection(rs256, { ...good, iat: NOW + 31 })).toMatch(/in the future/);
    expect(rejection(rs256, { ...good, iat: "yesterday" })).toMatch(/numeric iat/);
  });

  test("oidc-05 auth_time: never in the future; bounded when max_age is configured", () => {
    expect(rejection(rs256, { ...good, auth_time: NOW - 86_400 })).toBe("accepted");
    expect(rejection(rs256, { ...good, auth_time: NOW + 120 })).toMatch(/auth_time is in the future/);
    expect(rejection(rs256, good, { maxAuthAgeSeconds: 600 })).toMatch(/no auth_time although max_age was requested/);
    expect(rejection(rs256, { ...good, auth_time: NOW - 600 }, { maxAuthAgeSeconds: 600 })).toBe("accepted");
    expect(rejection(rs256, { ...good, auth_time: NOW - 700 }, { maxAuthAgeSeconds: 600 })).toMatch(/authenticated 700 s ago/);
  });

  test("oidc-05 sub must be a non-empty string of at most 255 characters", () => {
    expect(rejection(rs256, { ...good, sub: undefined })).toMatch(/no valid sub/);
    expect(rejection(rs256, { ...good, sub: "" })).toMatch(/no valid sub/);
    expect(rejection(rs256, { ...good, sub: 42 })).toMatch(/no valid sub/);
    expect(rejection(rs256, { ...good, sub: "x".repeat(256) })).toMatch(/no valid sub/);
  });
});

describe("UserInfo and identity", () => {
  test("UserInfo is only asked when the ID token lacks email, name or the groups claim", () => {
    expect(wantsUserInfo({ sub: "u", email: "a@b.c", name: "A", groups: [] }, "groups")).toBe(false);
    expect(wantsUserInfo({ sub: "u", email: "a@b.c", name: "A" }, "groups")).toBe(true);
    expect(wantsUserInfo({ sub: "u", email: "a@b.c", name: "A", groups: [] }, "roles")).toBe(true);
  });

  test("oidc-08 UserInfo of another subject is refused; of the same subject it completes, never overrides", () => {
    expect(() => mergeUserInfo({ sub: "u1" }, { sub: "u2", email: "x@y.z" })).toThrow(/UserInfo sub "u2" does not match the ID token sub "u1"/);
    expect(() => mergeUserInfo({ sub: "u1" }, { email: "x@y.z" })).toThrow(ClaimRejection);
    expect(mergeUserInfo({ sub: "u1", email: "id@token" }, { sub: "u1", email: "user@info", groups: ["g"] })).toEqual({ sub: "u1", email: "id@token", groups: ["g"] });
  });

  test("oidc-09 email_verified counts only when it is the boolean true", () => {
    expect(identityFrom({ sub: "u", email: "a@b.c", email_verified: true }, "groups").emailVerified).toBe(true);
    expect(identityFrom({ sub: "u", email: "a@b.c", email_verified: "true" }, "groups").emailVerified).toBe(false);
    expect(identityFrom({ sub: "u", email: "a@b.c" }, "groups").emailVerified).toBe(false);
    expect(identityFrom({ sub: "u", email: "not-an-email", email_verified: true }, "groups")).toMatchObject({ email: null, emailVerified: false });
  });

  test("groups come verbatim from the configured claim: strings only, never truncated, deduplicated", () => {
    const long = "g".repeat(257);
    expect(identityFrom({ sub: "u", roles: ["Admins", "admins", 7, null, "Admins", long, "a<b>&\"c"] }, "roles").groups).toEqual(["Admins", "admins", "a<b>&\"c"]);
    expect(identityFrom({ sub: "u", groups: "Solo" }, "groups").groups).toEqual(["Solo"]);
    expect(identityFrom({ sub: "u", groups: { nested: true } }, "groups").groups).toEqual([]);
    expect(identityFrom({ sub: "u", "https://acme.example/groups": ["A"] }, "https://acme.example/groups").groups).toEqual(["A"]);
  });

  test("display name: name, else given + family name, else preferred_username", () => {
    expect(identityFrom({ sub: "u", name: "Ada Lovelace" }, "g").displayName).toBe("Ada Lovelace");
    expect(identityFrom({ sub: "u", given_name: "Ada", family_name: "L" }, "g").displayName).toBe("Ada L");
    expect(identityFrom({ sub: "u", preferred_username: "ada" }, "g").displayName).toBe("ada");
    expect(identityFrom({ sub: "u" }, "g").displayName).toBeNull();
  });
});

describe("URL policy", () => {
  const dev = { allowHttpLoopback: true };
  const production = { allowHttpLoopback: false };

  test("https anywhere; http only for loopback outside production", () => {
    expect(urlProblem("issuer", "https://idp.example", production, { allowQuery: false })).toBeNull();
    expect(urlProblem("issuer", "http://127.0.0.1:8080", dev, { allowQuery: false })).toBeNull();
    expect(urlProblem("issuer", "http://localhost:8080", dev, { allowQuery: false })).toBeNull();
    expect(urlProblem("issuer", "http://127.0.0.1:8080", production, { allowQuery: false })).toMatch(/must use https/);
    expect(urlProblem("issuer", "http://idp.example", dev, { allowQuery: false })).toMatch(/must use https/);
    expect(urlProblem("issuer", "http://127.0.0.1.nip.io", dev, { allowQuery: false })).toMatch(/must use https/);
    expect(urlProblem("issuer", "ftp://idp.example", dev, { allowQuery: false })).toMatch(/must use https/);
    expect(urlProblem("issuer", "https://user:pw@idp.example", dev, { allowQuery: false })).toMatch(/credentials/);
    expect(urlProblem("issuer", "idp.example", dev, { allowQuery: false })).toMatch(/absolute URL/);
  });

  test("openid-client's allowInsecureRequests only for loopback http outside production", () => {
    expect(needsInsecureRequests("http://127.0.0.1:9000", dev)).toBe(true);
    expect(needsInsecureRequests("http://127.0.0.1:9000", production)).toBe(false);
    expect(needsInsecureRequests("https://127.0.0.1:9000", dev)).toBe(false);
    expect(needsInsecureRequests("http://idp.example", dev)).toBe(false);
  });
});
