/**
 * A minimal browser for login flows: plain fetch, redirects followed by hand, cookies kept per
 * host (like a browser: not per port) with Path and Max-Age honoured.
 */
export interface Hop {
  url: string;
  status: number;
  location: string | null;
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires: number | null;
}

export class Browser {
  private cookies: Cookie[] = [];
  readonly hops: Hop[] = [];

  /** GET url and follow redirects until `stop(url)` says so or a non-redirect answer comes. */
  async follow(url: string, stop: (next: URL) => boolean = () => false, maxHops = 20): Promise<{ url: string; response: Response | null }> {
    let current = url;
    for (let i = 0; i < maxHops; i++) {
      if (stop(new URL(current))) return { url: current, response: null };
      const response = await this.get(current);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      await response.arrayBuffer();
      current = new URL(location, current).href;
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }

  async get(url: string): Promise<Response> {
    const target = new URL(url);
    const cookie = this.cookieHeader(target);
    const response = await fetch(target, { redirect: "manual", headers: { ...(cookie ? { cookie } : {}), "user-agent": "oidc-test-browser" } });
    this.store(target, response.headers.getSetCookie());
    this.hops.push({ url, status: response.status, location: response.headers.get("location") });
    return response;
  }

  cookie(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  setCookie(host: string, name: string, value: string, path = "/"): void {
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === host && c.path === path));
    this.cookies.push({ name, value, host, path, expires: null });
  }

  clearCookies(): void {
    this.cookies = [];
  }

  private cookieHeader(url: URL): string {
    const now = Date.now();
    return this.cookies
      .filter((c) => c.host === url.hostname && (c.expires === null || c.expires > now) && pathMatches(url.pathname, c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  private store(url: URL, headers: string[]): void {
    for (const header of headers) {
      const [pair, ...attributes] = header.split(";").map((p) => p.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, "") || "/";
      let expires: number | null = null;
      for (const attribute of attributes) {
        const [key, val = ""] = attribute.split("=");
        if (key.toLowerCase() === "path") path = val || "/";
        if (key.toLowerCase() === "max-age") expires = Date.now() + Number(val) * 1000;
        if (key.toLowerCase() === "expires" && expires === null) expires = Date.parse(val);
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === url.hostname && c.path === path));
      if (expires === null || expires > Date.now()) this.cookies.push({ name, value, host: url.hostname, path, expires });
    }
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
